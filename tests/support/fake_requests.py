"""In-memory fakes of the data-subject request ports (``controller.ports.RequestPorts``).

They write to the shared :class:`~tests.support.fakes.Journal` of :class:`Fakes`
(``"requests.erase_rows(...)"``), so a test sees the order of every call and can inject
failures. :class:`FakeRequestLog` records each phase a request reaches and, like
``adapters/postgres/requests.py``, never moves a request back. Exports use the real
:class:`BundleWriter` and :class:`FileDestination` over a test's ``tmp_path``, with a
local Ed25519 key as the signer: no service anywhere.
"""

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from tenant_operator.adapters.export.bundle import BundleWriter
from tenant_operator.adapters.storage.file import FileDestination
from tenant_operator.controller.context import Context
from tenant_operator.controller.ports import BundleFiles, Destination, RequestPorts
from tenant_operator.domain.datarequests import RequestRecord, SealedAccount
from tenant_operator.domain.envelope import ACCOUNT_EMAIL, ACCOUNT_NAME, DataKey, KeyRing
from tenant_operator.domain.export import AuditSummary, ExportFacts, ExportSink, SubjectRef
from tenant_operator.domain.identity import Registered
from tenant_operator.domain.records import SubProcessorEntry
from tenant_operator.domain.vocabulary import DataRequestType, RequestPhase
from tenant_operator.settings import Settings
from tests.support.bundles import LocalSigner
from tests.support.fakes import FakeDatabase, Fakes, Journal, fake_context, fake_data_key, tenant_id

RECEIVED_AT = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
ORDER = list(RequestPhase)


def first_keys(slug: str) -> KeyRing:
    """The key ring the fakes give ``slug`` on first use (transit version 1)."""
    return KeyRing.of(tenant_id(slug), [DataKey(1, fake_data_key(slug, 1))])


@dataclass(frozen=True)
class Person:
    """An account of a tenant, in the clear (what a test seeds and searches for)."""

    id: uuid.UUID
    email: str
    name: str
    is_owner: bool = False


@dataclass
class FakeRequestLog:
    """The request records, each phase recorded in order, and the tenants' accounts."""

    journal: Journal
    #: When a request seen for the first time is received (PostgreSQL's now()).
    clock: datetime = RECEIVED_AT
    records: dict[uuid.UUID, RequestRecord] = field(default_factory=dict)
    #: The phases each request was moved to, in order (a replay, or a result merged into
    #: the phase it is at, is not listed).
    phases: dict[uuid.UUID, list[RequestPhase]] = field(default_factory=dict)
    accounts: dict[uuid.UUID, dict[uuid.UUID, tuple[Person, SealedAccount]]] = field(
        default_factory=dict
    )
    processors: dict[uuid.UUID, list[SubProcessorEntry]] = field(default_factory=dict)
    #: Each tenant's key ring as seeded (what its emails' blind indexes are made with).
    rings: dict[uuid.UUID, KeyRing] = field(default_factory=dict)
    #: The accounts erase_rows deleted, per tenant.
    erased: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)

    def add(self, slug: str, person: Person, keys: KeyRing | None = None) -> Person:
        """Seed an account of ``slug``, sealed with its first data key."""
        keys = keys or first_keys(slug)
        sealed = SealedAccount(
            person.id,
            person.is_owner,
            keys.seal(person.email, ACCOUNT_EMAIL),
            keys.seal(person.name, ACCOUNT_NAME),
        )
        self.accounts.setdefault(keys.tenant_id, {})[person.id] = (person, sealed)
        self.rings[keys.tenant_id] = keys
        return person

    async def receive(
        self, uid: uuid.UUID, *, name: str, slug: str, type_: DataRequestType
    ) -> RequestRecord:
        self.journal.enter("requests.receive", name)
        if uid not in self.records:
            self.records[uid] = RequestRecord(
                uid, name, slug, type_, self.clock, RequestPhase.RECEIVED
            )
            self.phases[uid] = [RequestPhase.RECEIVED]
        return self.records[uid]

    def _move(
        self,
        uid: uuid.UUID,
        phase: RequestPhase,
        result: Mapping[str, Any] | None,
        account_id: uuid.UUID | None = None,
    ) -> RequestRecord:
        record = self.records[uid]
        if ORDER.index(record.phase) > ORDER.index(phase):  # never back: as it is
            return record
        moved = dataclasses.replace(
            record,
            phase=phase,
            result={**record.result, **(result or {})},
            account_id=account_id or record.account_id,
            completed_at=record.completed_at
            or (self.clock if phase == RequestPhase.COMPLETED else None),
        )
        if moved.phase != record.phase:  # a merge into the same phase is no move
            self.phases[uid].append(phase)
        self.records[uid] = moved
        return moved

    async def advance(
        self,
        uid: uuid.UUID,
        phase: RequestPhase,
        result: Mapping[str, Any] | None = None,
        *,
        tenant_id: uuid.UUID | None = None,
        account_id: uuid.UUID | None = None,
    ) -> RequestRecord:
        self.journal.enter(f"requests.advance:{phase}")  # a failure can be put at one phase
        return self._move(uid, phase, result, account_id)

    async def find_account(
        self,
        tenant_id: uuid.UUID,
        *,
        account_id: uuid.UUID | None = None,
        email_index: bytes | None = None,
    ) -> SealedAccount | None:
        self.journal.enter("requests.find_account", tenant_id)
        for person, sealed in self.accounts.get(tenant_id, {}).values():
            if account_id is not None and person.id == account_id:
                return sealed
            ring = self.rings[tenant_id]
            if email_index is not None and ring.blind_index(person.email) == email_index:
                return sealed
        return None

    async def erase_rows(
        self,
        uid: uuid.UUID,
        tenant_id: uuid.UUID,
        chain: str,
        account_id: uuid.UUID,
        needles: list[str],
        result: Mapping[str, Any],
    ) -> RequestRecord:
        self.journal.enter("requests.erase_rows", account_id)
        if ORDER.index(self.records[uid].phase) >= ORDER.index(RequestPhase.ROWS_ERASED):
            return self._move(uid, RequestPhase.ROWS_ERASED, {})
        held = self.accounts.get(tenant_id, {})
        assert not (account_id in held and held[account_id][0].is_owner), "owner erased"
        gone = held.pop(account_id, None)
        self.erased.setdefault(tenant_id, []).append(account_id)
        counts = {
            **result.get("erased", {}),
            "postgres:accounts": int(gone is not None),
            "postgres:pipeline_runs": 2,
            "postgres:deploy_events": 0,
            "audit:details": 1,
        }
        return self._move(uid, RequestPhase.ROWS_ERASED, {**result, "erased": counts})

    async def processors_of(self, tenant_id: uuid.UUID) -> list[SubProcessorEntry]:
        self.journal.enter("requests.processors_of", tenant_id)
        return list(self.processors.get(tenant_id, []))


@dataclass
class FakeExportSource:
    """The rows of a tenant: its accounts as one table (the subject's alone, for a subject)."""

    journal: Journal
    log: FakeRequestLog
    db: FakeDatabase

    async def export(
        self, keys: KeyRing, subject: SubjectRef | None, sink: ExportSink
    ) -> ExportFacts:
        self.journal.enter("export.export", keys.tenant_id)
        people = [p for p, _ in self.log.accounts.get(keys.tenant_id, {}).values()]
        if subject is not None:
            people = [p for p in people if subject.id == p.id or subject.email == p.email]
        table = sink.table("accounts", ("id", "email", "name"))
        table.write_rows([(p.id, p.email, p.name) for p in people])
        found = people[0].id if people else None
        slug = next(s for s, r in self.db.registry.items() if r.tenant_id == keys.tenant_id)
        return ExportFacts(
            tenant_slug=slug,
            tenant_id=keys.tenant_id,
            subject=None if subject is None else subject.document(found),
            audit=AuditSummary(slug, 0, None, True, 0),
            sub_processors=(),
            rows={"accounts": len(people)},
        )


@dataclass
class FakeSigner:
    """Transit's signing key, as a local Ed25519 key."""

    journal: Journal
    key: LocalSigner = field(default_factory=LocalSigner)

    async def sign_export(self, data: bytes, key_version: int | None = None) -> str:
        self.journal.enter("signer.sign_export", key_version)
        return self.key.sign(data)

    async def export_public_keys(self) -> dict[int, str]:
        return {self.key.version: self.key.pem}


@dataclass
class RequestFakes:
    """The request fakes over one :class:`Fakes`; bundles are staged under ``work``."""

    fakes: Fakes
    work: Path
    log: FakeRequestLog = field(init=False)
    source: FakeExportSource = field(init=False)
    signer: FakeSigner = field(init=False)

    def __post_init__(self) -> None:
        self.log = FakeRequestLog(self.fakes.journal)
        self.source = FakeExportSource(self.fakes.journal, self.log, self.fakes.db)
        self.signer = FakeSigner(self.fakes.journal)
        self.work.mkdir(parents=True, exist_ok=True)

    def destination(self, url: str) -> Destination:
        assert url.startswith("file://"), url
        return FileDestination(PurePosixPath(url.removeprefix("file://")))

    def new_files(self) -> BundleFiles:
        return BundleWriter(self.work)

    def ports(self) -> RequestPorts:
        return RequestPorts(self.log, self.source, self.signer, self.destination, self.new_files)

    def context(self, settings: Settings | None = None) -> Context:
        ctx = fake_context(self.fakes, settings=settings)
        ctx.requests = self.ports()
        return ctx

    def destructive(self) -> list[str]:
        """The calls that erase or change something, in order (none after a refusal)."""
        kinds = {
            "bao.destroy_account_invite",
            "requests.erase_rows",
            "audit.append",
            "bao.rotate_tenant_key",
            "bao.new_data_key",
            "db.reseal",
            "bao.trim_tenant_key",
        }
        return [c for c in self.fakes.journal.calls if c.partition("(")[0] in kinds]


def request_body(
    name: str = "erase-ann",
    *,
    type_: str = "Erasure",
    tenant: str = "acme",
    subject: Mapping[str, str] | None = None,
    destination: str | None = None,
    uid: uuid.UUID | None = None,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"tenant": tenant, "type": type_}
    if subject is not None:
        spec["subject"] = dict(subject)
    if destination is not None:
        spec["destination"] = destination
    body: dict[str, Any] = {
        "apiVersion": "integraci.io/v1alpha1",
        "kind": "TenantDataRequest",
        "metadata": {
            "name": name,
            "uid": str(uid or uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "generation": 1,
        },
        "spec": spec,
    }
    if status is not None:
        body["status"] = dict(status)
    return body


def registered(fakes: Fakes, slugs: Sequence[str] = ("acme",)) -> None:
    """Register ``slugs`` in the fake database (as a reconcile of their Tenant would)."""
    for slug in slugs:
        fakes.db.registry[slug] = Registered(tenant_id(slug), None, None)
