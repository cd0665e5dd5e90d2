"""In-memory fakes of the ports (tenant_operator.controller.ports), typed as their Protocols.

Every fake writes to one shared :class:`Journal`: the calls in order across all ports
(``"db.ensure_tenant(acme)"``), so a test can check step order, and the failures to inject:
``journal.fail("bao.ensure_tenant", RetryableError(...))`` makes that call raise (every
time, or ``times=`` times). Nothing here does I/O: a reconcile over these runs in
milliseconds. :func:`fake_context` wraps them in the controller's :class:`Context` for the triggers
and the drift scanner.
"""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenant_operator.controller.context import Context
from tenant_operator.controller.inventory import Inventory
from tenant_operator.controller.metrics import Metrics
from tenant_operator.controller.ports import Ports
from tenant_operator.domain import audit as chain
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.identity import Adoption, Registered
from tenant_operator.domain.records import SubProcessorEntry
from tenant_operator.settings import Settings


def fake_data_key(slug: str, version: int) -> bytes:
    """The fixed 32-byte data key the fake transit key gives ``slug`` at ``version``."""
    return hashlib.sha256(f"fake data key {slug} v{version}".encode()).digest()


def retryable(reason: str = "Unavailable", message: str = "service unreachable") -> RetryableError:
    return RetryableError(message, reason=reason)


def permanent(reason: str = "Denied", message: str = "refused as it is") -> PermanentError:
    return PermanentError(message, reason=reason)


@dataclass
class Journal:
    """The calls every fake received, in order, and the failures to inject by call name."""

    calls: list[str] = field(default_factory=list)
    failures: dict[str, tuple[OperatorError, int | None]] = field(default_factory=dict)

    def fail(self, call: str, error: OperatorError, *, times: int | None = None) -> None:
        """Make ``call`` ("port.method") raise ``error``: ``times`` times, or always."""
        self.failures[call] = (error, times)

    def enter(self, call: str, *args: object) -> None:
        self.calls.append(f"{call}({', '.join(map(str, args))})")
        if call in self.failures:
            error, times = self.failures[call]
            if times is not None:
                if times <= 1:
                    del self.failures[call]
                else:
                    self.failures[call] = (error, times - 1)
            raise error

    def names(self) -> list[str]:
        """The calls without their arguments ("db.ensure_tenant")."""
        return [c.partition("(")[0] for c in self.calls]


# --- what the ports return ---------------------------------------------------------------


@dataclass(frozen=True)
class DbState:
    tenant_id: uuid.UUID
    isolation: str
    schema: str | None
    schema_version: int | None
    changed: tuple[str, ...]
    adopted: Adoption | None = None


@dataclass(frozen=True)
class Owner:
    account_id: uuid.UUID
    token: str | None
    replaced: uuid.UUID | None = None
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretsState:
    namespace: str | None
    mount: str
    policy: str
    auth_role: str
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    ref: str
    version: int
    changed: bool


@dataclass(frozen=True)
class Content:
    data: Mapping[str, bytes]
    version: str
    owner: str | None


@dataclass(frozen=True)
class Report:
    ok: bool
    problems: tuple[str, ...]


def tenant_id(slug: str) -> uuid.UUID:
    """The id the fake database gives ``slug`` (stable, so tests can name it)."""
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{slug}.tenants.test")


# --- the fakes ------------------------------------------------------------------------------


@dataclass
class FakeDatabase:
    """The PostgreSQL tenants port: a registry of slugs and the rows last written."""

    journal: Journal
    isolation_check: "FakeIsolation | None" = None
    registry: dict[str, Registered] = field(default_factory=dict)
    owners: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)
    organisations: dict[uuid.UUID, str] = field(default_factory=dict)
    #: Each tenant's wrapped data keys: version -> wrapped.
    keys: dict[uuid.UUID, dict[int, str]] = field(default_factory=dict)
    connectors: dict[uuid.UUID, list[Any]] = field(default_factory=dict)
    subprocessors: dict[uuid.UUID, list[Any]] = field(default_factory=dict)
    retained: list[str] = field(default_factory=list)
    register: dict[str, SubProcessorEntry] = field(default_factory=dict)
    #: Set to make the next ensure_tenant report this adoption (then cleared).
    adoption: Adoption | None = None

    async def ensure_tenant(
        self,
        slug: str,
        *,
        organisation: str,
        plan: str,
        isolation: Any,
        k8s_uid: str | None = None,
        adopt: str | None = None,
    ) -> DbState:
        self.journal.enter("db.ensure_tenant", slug)
        new = slug not in self.registry
        if new:
            uid = uuid.UUID(k8s_uid) if k8s_uid else None
            self.registry[slug] = Registered(tenant_id(slug), uid, None)
        adopted, self.adoption = self.adoption, None
        schema = f"tenant_{slug}" if str(isolation) == "schema" else None
        return DbState(
            tenant_id(slug),
            str(isolation),
            schema,
            2 if schema else None,
            ("tenant", "schema") if new and schema else ("tenant",) if new else (),
            adopted,
        )

    async def ensure_owner_account(
        self,
        tenant_id: uuid.UUID,
        *,
        name: str,
        email: str,
        keys: KeyRing,
        organisation: str,
    ) -> Owner:
        self.journal.enter("db.ensure_owner_account", tenant_id)
        assert keys.tenant_id == tenant_id and set(keys.versions) == set(self.keys[tenant_id])
        org = self.organisations.get(tenant_id)
        self.organisations[tenant_id] = organisation
        org_changed = ("updated organisation",) if org not in (None, organisation) else ()
        account = uuid.uuid5(tenant_id, email)
        before = self.owners.get(tenant_id)
        self.owners[tenant_id] = (name, email)
        created = ("created owner account",)
        if before is None:
            return Owner(account, token="invite-token", changed=created)
        if before[1] != email:
            replaced = uuid.uuid5(tenant_id, before[1])
            return Owner(account, "invite-token", replaced, (*created, *org_changed))
        renamed = ("updated owner name",) if before[0] != name else ()
        return Owner(account, token=None, changed=(*renamed, *org_changed))

    async def tenant_keys(self, tenant_id: uuid.UUID) -> list[tuple[int, str]]:
        self.journal.enter("db.tenant_keys", tenant_id)
        return sorted(self.keys.get(tenant_id, {}).items())

    async def add_tenant_key(self, tenant_id: uuid.UUID, version: int, wrapped: str) -> bool:
        self.journal.enter("db.add_tenant_key", tenant_id, version)
        held = self.keys.setdefault(tenant_id, {})
        if version in held:
            return False
        held[version] = wrapped
        return True

    async def reseal(
        self,
        tenant_id: uuid.UUID,
        old: KeyRing,
        new: KeyRing,
        new_version: int,
        new_wrapped: str,
    ) -> int:
        self.journal.enter("db.reseal", tenant_id, new_version)
        self.keys[tenant_id] = {new_version: new_wrapped}
        return 1 if tenant_id in self.owners else 0

    async def registered(self, slug: str) -> Registered | None:
        self.journal.enter("db.registered", slug)
        return self.registry.get(slug)

    async def retain_tenant(self, slug: str, k8s_uid: str | None) -> bool:
        self.journal.enter("db.retain_tenant", slug)
        self.retained.append(slug)
        return slug in self.registry

    async def ensure_connectors(
        self, tenant_id: uuid.UUID, connectors: Sequence[Any]
    ) -> tuple[str, ...]:
        self.journal.enter("db.ensure_connectors", tenant_id)
        before, self.connectors[tenant_id] = self.connectors.get(tenant_id), list(connectors)
        return () if before == list(connectors) else tuple(c.name for c in connectors)

    async def ensure_subprocessor_records(
        self, tenant_id: uuid.UUID, records: Sequence[Any]
    ) -> tuple[str, ...]:
        self.journal.enter("db.ensure_subprocessor_records", tenant_id)
        before, self.subprocessors[tenant_id] = self.subprocessors.get(tenant_id), list(records)
        return () if before == list(records) else tuple(r.name for r in records)

    async def drop_tenant(self, slug: str) -> bool:
        self.journal.enter("db.drop_tenant", slug)
        gone = self.registry.pop(slug, None)
        if gone is not None:
            self.keys.pop(gone.tenant_id, None)  # ON DELETE CASCADE
        return gone is not None

    async def repair_isolation(self, slug: str) -> tuple[str, ...]:
        self.journal.enter("db.repair_isolation", slug)
        if self.isolation_check is None or not self.isolation_check.repairable:
            return ()
        return self.isolation_check.broken.pop(slug, ())

    async def ensure_subprocessor(self, entry: SubProcessorEntry) -> tuple[str, ...]:
        self.journal.enter("db.ensure_subprocessor", entry.name)
        old = self.register.get(entry.name)
        self.register[entry.name] = entry
        if old == entry:
            return ()
        return (f"{'updated' if old else 'registered'} sub-processor {entry.name}",)


@dataclass
class FakeAudit:
    """The audit trail: real hash chains (domain.audit), unkeyed, one per tenant."""

    journal: Journal
    chains: dict[str | None, list[chain.ChainRow]] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    at: datetime = datetime(2026, 6, 1, tzinfo=UTC)

    async def append(
        self,
        tenant: str | None,
        *,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, object],
    ) -> chain.AuditHead:
        self.journal.enter("audit.append", tenant, action)
        rows = self.chains.setdefault(tenant, [])
        seq, prev = (rows[-1].seq + 1, rows[-1].hash) if rows else (1, chain.GENESIS)
        digest = chain.detail_digest(detail)
        hash_ = chain.entry_hash(
            prev, seq=seq, at=self.at, actor=actor, action=action, target=target, digest=digest
        )
        rows.append(
            chain.ChainRow(seq, self.at, actor, action, target, dict(detail), digest, prev, hash_)
        )
        return chain.AuditHead(seq, hash_)

    async def rows(self, tenant: str | None, *, since: int = 1) -> list[chain.ChainRow]:
        self.journal.enter("audit.rows", tenant)
        return [r for r in self.chains.get(tenant, []) if r.seq >= since]

    async def head(self, tenant: str | None) -> chain.AuditHead | None:
        self.journal.enter("audit.head", tenant)
        rows = self.chains.get(tenant)
        return chain.AuditHead(rows[-1].seq, rows[-1].hash) if rows else None

    async def chain_name(self, tenant: str | None) -> str:
        return tenant or chain.PLATFORM_CHAIN

    async def digest_key(self, tenant: str | None) -> bytes | None:
        return None

    async def close(self, tenant: str) -> str | None:
        self.journal.enter("audit.close", tenant)
        self.closed.append(tenant)
        return tenant if tenant in self.chains else None

    def actions(self, tenant: str | None) -> list[str]:
        """The actions of ``tenant``'s chain, in order (a test helper, not of the port)."""
        return [r.action for r in self.chains.get(tenant, [])]


@dataclass
class FakeSecretStore:
    """The OpenBao port: which tenants exist, routed connector data, invites, audit heads."""

    journal: Journal
    tenants: set[str] = field(default_factory=set)
    routed: dict[tuple[str, str], tuple[int, dict[str, bytes | str]]] = field(default_factory=dict)
    invites: dict[str, str] = field(default_factory=dict)
    heads: dict[str | None, tuple[int, str]] = field(default_factory=dict)
    #: Each tenant's transit key version (set by its first data key) and trimmed minimum.
    transit_versions: dict[str, int] = field(default_factory=dict)
    trimmed: dict[str, int] = field(default_factory=dict)
    #: What verify_tenant reports for a slug (empty: as it should be).
    drift: dict[str, tuple[str, ...]] = field(default_factory=dict)

    async def ensure_tenant(
        self, slug: str, *, service_accounts: Sequence[tuple[str, str]] = ()
    ) -> SecretsState:
        self.journal.enter("bao.ensure_tenant", slug)
        new = slug not in self.tenants
        self.tenants.add(slug)
        return SecretsState(
            f"tenants/{slug}",
            "kv",
            f"tenant-{slug}",
            f"tenant-{slug}",
            ("namespace",) if new else (),
        )

    async def route_connector(
        self, slug: str, connector: str, data: Mapping[str, bytes | str]
    ) -> Route:
        self.journal.enter("bao.route_connector", slug, connector)
        before = self.routed.get((slug, connector))
        if before is not None and before[1] == dict(data):
            version, changed = before[0], False
        else:
            version, changed = (before[0] + 1 if before else 1), True
        self.routed[(slug, connector)] = (version, dict(data))
        return Route(f"openbao://tenants/{slug}/kv/connectors/{connector}", version, changed)

    async def drop_connector(self, slug: str, connector: str) -> bool:
        self.journal.enter("bao.drop_connector", slug, connector)
        return self.routed.pop((slug, connector), None) is not None

    async def store_invite(self, slug: str, token: str) -> str:
        self.journal.enter("bao.store_invite", slug)
        self.invites[slug] = token
        return f"openbao://tenants/{slug}/kv/invites/owner"

    async def destroy_account_invite(self, slug: str, account: uuid.UUID) -> bool:
        self.journal.enter("bao.destroy_account_invite", slug)
        return self.invites.pop(f"{slug}/{account}", None) is not None

    async def account_invite_exists(self, slug: str, account: uuid.UUID) -> bool:
        self.journal.enter("bao.account_invite_exists", slug)
        return f"{slug}/{account}" in self.invites

    async def destroy_invite(self, slug: str) -> bool:
        self.journal.enter("bao.destroy_invite", slug)
        return self.invites.pop(slug, None) is not None

    async def new_data_key(self, slug: str) -> tuple[str, bytes]:
        """A fixed in-memory key: its "wrapped" form names the transit version and slug."""
        self.journal.enter("bao.new_data_key", slug)
        version = self.transit_versions.setdefault(slug, 1)
        return f"vault:v{version}:{slug}", fake_data_key(slug, version)

    async def unwrap_data_key(self, slug: str, wrapped: str) -> bytes:
        self.journal.enter("bao.unwrap_data_key", slug)
        _, version, owner = wrapped.split(":", 2)
        if owner != slug or slug not in self.transit_versions:
            raise PermanentError(f"cannot unwrap for {slug}", reason="OpenBaoPermissionDenied")
        return fake_data_key(slug, int(version.removeprefix("v")))

    async def rotate_tenant_key(self, slug: str) -> int:
        self.journal.enter("bao.rotate_tenant_key", slug)
        self.transit_versions[slug] = self.transit_versions.get(slug, 1) + 1
        return self.transit_versions[slug]

    async def tenant_key_version(self, slug: str) -> int:
        self.journal.enter("bao.tenant_key_version", slug)
        return self.transit_versions.get(slug, 1)

    async def trim_tenant_key(self, slug: str, min_version: int) -> None:
        self.journal.enter("bao.trim_tenant_key", slug, min_version)
        self.trimmed[slug] = min_version

    async def mirror_audit_head(self, chain: str | None, seq: int, head: str) -> None:
        self.journal.enter("bao.mirror_audit_head", chain, seq)
        self.heads[chain] = (seq, head)

    async def read_audit_head(self, chain: str | None) -> tuple[int, str] | None:
        self.journal.enter("bao.read_audit_head", chain)
        return self.heads.get(chain)

    async def verify_tenant(
        self,
        slug: str,
        *,
        connectors: Sequence[str] = (),
        service_accounts: Sequence[tuple[str, str]] = (),
    ) -> tuple[str, ...]:
        self.journal.enter("bao.verify_tenant", slug)
        return self.drift.get(slug, ())

    async def drop_tenant(self, slug: str) -> bool:
        self.journal.enter("bao.drop_tenant", slug)
        if slug not in self.tenants:
            return False
        self.tenants.discard(slug)
        self.transit_versions.pop(slug, None)  # the transit key destroyed
        return True


@dataclass
class FakeSecretSource:
    """The Kubernetes Secret reader: Secrets by (namespace, name)."""

    journal: Journal
    secrets: dict[tuple[str, str], Content] = field(default_factory=dict)

    def put(self, namespace: str, name: str, owner: str | None, version: str = "1") -> None:
        self.secrets[(namespace, name)] = Content({"token": b"s3cret"}, version, owner)

    async def read(self, namespace: str, name: str) -> Content | None:
        self.journal.enter("k8s.read", namespace, name)
        return self.secrets.get((namespace, name))


@dataclass
class FakeIsolation:
    """The isolation verifier: ``broken`` slugs report their problems until repaired."""

    journal: Journal
    broken: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Whether db.repair_isolation fixes what is broken.
    repairable: bool = True

    async def __call__(self, slug: str) -> Report:
        self.journal.enter("verify_isolation", slug)
        problems = self.broken.get(slug, ())
        return Report(not problems, problems)


class FakeTenants:
    """The Tenant directory port without an API server: pages, nudges and events."""

    def __init__(self, journal: Journal, tenants: Sequence[dict[str, Any]] = ()) -> None:
        self.journal = journal
        self.tenants = list(tenants)
        self.nudged: list[tuple[str, str]] = []
        self.events: list[tuple[str, str, str]] = []

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        self.journal.enter("kube.pages")
        yield list(self.tenants)

    async def names(self) -> list[str]:
        self.journal.enter("kube.names")
        return [str(t["metadata"]["name"]) for t in self.tenants]

    async def nudge(self, slug: str, why: str) -> None:
        self.journal.enter("kube.nudge", slug)
        self.nudged.append((slug, why))

    async def event(
        self, tenant: Mapping[str, Any], *, type_: str, reason: str, message: str
    ) -> None:
        self.journal.enter("kube.event", tenant.get("metadata", {}).get("name"), reason)
        self.events.append((type_, reason, message))


@dataclass
class Fakes:
    """One set of fakes sharing a journal; :meth:`ports` bundles them as ``Ports``."""

    journal: Journal
    db: FakeDatabase
    audit: FakeAudit
    bao: FakeSecretStore
    k8s: FakeSecretSource
    isolation: FakeIsolation
    tenants: "FakeTenants"

    @classmethod
    def create(cls) -> "Fakes":
        journal = Journal()
        isolation = FakeIsolation(journal)
        return cls(
            journal,
            FakeDatabase(journal, isolation),
            FakeAudit(journal),
            FakeSecretStore(journal),
            FakeSecretSource(journal),
            isolation,
            FakeTenants(journal),
        )

    def ports(self, actor: str = "tenant-operator") -> Ports:
        return Ports(
            db=self.db,
            audit=self.audit,
            bao=self.bao,
            k8s_secrets=self.k8s,
            verify_isolation=self.isolation,
            tenants=self.tenants,
            actor=actor,
        )


# --- a Context over the fakes (for the triggers and the drift scanner) -------------------


class FakePeering:
    """The peering port: this replica is active unless a test says otherwise."""

    def __init__(self, active: bool = True) -> None:
        self.is_active = active

    async def active(self) -> bool:
        return self.is_active


def fake_context(
    fakes: Fakes,
    *,
    settings: Settings | None = None,
    inventory: Inventory | None = None,
    tenants: Sequence[dict[str, Any]] = (),
) -> Context:
    """A controller Context whose ports are ``fakes`` (no I/O anywhere)."""
    fakes.tenants.tenants = list(tenants)
    return Context(
        settings=settings or Settings(drift_tenants_per_second=1000.0),
        ports=fakes.ports(),
        metrics=Metrics.create(),
        inventory=inventory or Inventory.build([], {}),
        peering=FakePeering(),
        admission=asyncio.Semaphore(4),
    )
