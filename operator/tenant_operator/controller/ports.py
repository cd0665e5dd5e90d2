"""What orchestration needs from the adapters, as protocols (the adapters satisfy them).

The controller talks to PostgreSQL, OpenBao and Kubernetes only through these; the
composition root (:mod:`tenant_operator.runtime`) hands it the concrete adapters.
"""

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from tenant_operator.domain.audit import ChainRow
from tenant_operator.domain.bundle import FileEntry
from tenant_operator.domain.datarequests import RequestRecord, SealedAccount
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.export import ExportFacts, ExportSink, SubjectRef
from tenant_operator.domain.identity import Adoption, Registered
from tenant_operator.domain.records import SubProcessorEntry
from tenant_operator.domain.vocabulary import DataRequestType, RequestPhase


class DatabaseState(Protocol):
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def isolation(self) -> str: ...
    @property
    def schema(self) -> str | None: ...
    @property
    def schema_version(self) -> int | None: ...
    @property
    def changed(self) -> tuple[str, ...]: ...
    @property
    def adopted(self) -> Adoption | None: ...


class OwnerState(Protocol):
    @property
    def account_id(self) -> uuid.UUID: ...
    @property
    def token(self) -> str | None: ...
    @property
    def replaced(self) -> uuid.UUID | None: ...
    @property
    def changed(self) -> tuple[str, ...]: ...


class SecretsState(Protocol):
    @property
    def namespace(self) -> str | None: ...
    @property
    def mount(self) -> str: ...
    @property
    def policy(self) -> str: ...
    @property
    def auth_role(self) -> str: ...
    @property
    def changed(self) -> tuple[str, ...]: ...


class ConnectorRoute(Protocol):
    @property
    def ref(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def changed(self) -> bool: ...


class AuditHead(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str: ...


class IsolationReport(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def problems(self) -> tuple[str, ...]: ...


class TenantDatabase(Protocol):
    async def ensure_tenant(
        self,
        slug: str,
        *,
        organisation: str,
        plan: str,
        isolation: Any,
        k8s_uid: str | None = None,
        adopt: str | None = None,
    ) -> DatabaseState: ...
    async def ensure_owner_account(
        self,
        tenant_id: uuid.UUID,
        *,
        name: str,
        email: str,
        keys: KeyRing,
        organisation: str,
    ) -> OwnerState: ...
    async def tenant_keys(self, tenant_id: uuid.UUID) -> list[tuple[int, str]]: ...
    async def add_tenant_key(self, tenant_id: uuid.UUID, version: int, wrapped: str) -> bool: ...
    async def reseal(
        self,
        tenant_id: uuid.UUID,
        old: KeyRing,
        new: KeyRing,
        new_version: int,
        new_wrapped: str,
    ) -> int: ...
    async def registered(self, slug: str) -> Registered | None: ...
    async def retain_tenant(self, slug: str, k8s_uid: str | None) -> bool: ...
    async def ensure_connectors(
        self, tenant_id: uuid.UUID, connectors: Sequence[Any]
    ) -> tuple[str, ...]: ...
    async def ensure_subprocessor_records(
        self, tenant_id: uuid.UUID, records: Sequence[Any]
    ) -> tuple[str, ...]: ...
    async def drop_tenant(self, slug: str) -> bool: ...
    async def repair_isolation(self, slug: str) -> tuple[str, ...]: ...
    async def ensure_subprocessor(self, entry: SubProcessorEntry) -> tuple[str, ...]: ...


class AuditTrail(Protocol):
    async def append(
        self,
        tenant: str | None,
        *,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, object],
    ) -> AuditHead: ...
    async def rows(self, tenant: str | None, *, since: int = 1) -> list[ChainRow]: ...
    async def head(self, tenant: str | None) -> AuditHead | None: ...
    async def chain_name(self, tenant: str | None) -> str: ...
    async def digest_key(self, tenant: str | None) -> bytes | None: ...
    async def close(self, tenant: str) -> str | None: ...


class SecretStore(Protocol):
    async def ensure_tenant(
        self, slug: str, *, service_accounts: Sequence[tuple[str, str]] = ()
    ) -> SecretsState: ...
    async def route_connector(
        self, slug: str, connector: str, data: Mapping[str, bytes | str]
    ) -> ConnectorRoute: ...
    async def drop_connector(self, slug: str, connector: str) -> bool: ...
    async def store_invite(self, slug: str, token: str) -> str: ...
    async def destroy_invite(self, slug: str) -> bool: ...
    async def destroy_account_invite(self, slug: str, account: uuid.UUID) -> bool: ...
    async def account_invite_exists(self, slug: str, account: uuid.UUID) -> bool: ...
    async def new_data_key(self, slug: str) -> tuple[str, bytes]: ...
    async def unwrap_data_key(self, slug: str, wrapped: str) -> bytes: ...
    async def rotate_tenant_key(self, slug: str) -> int: ...
    async def tenant_key_version(self, slug: str) -> int: ...
    async def trim_tenant_key(self, slug: str, min_version: int) -> None: ...
    async def mirror_audit_head(self, chain: str | None, seq: int, head: str) -> None: ...
    async def read_audit_head(self, chain: str | None) -> tuple[int, str] | None: ...
    async def verify_tenant(
        self,
        slug: str,
        *,
        connectors: Sequence[str] = (),
        service_accounts: Sequence[tuple[str, str]] = (),
    ) -> tuple[str, ...]: ...
    async def drop_tenant(self, slug: str) -> bool: ...


class SecretContent(Protocol):
    @property
    def data(self) -> Mapping[str, bytes]: ...
    @property
    def version(self) -> str: ...
    @property
    def owner(self) -> str | None: ...


class SecretSource(Protocol):
    async def read(self, namespace: str, name: str) -> SecretContent | None: ...


class TenantDirectory(Protocol):
    """The Tenant objects in Kubernetes: listed, nudged to reconcile, given events."""

    def pages(self) -> AsyncIterator[list[dict[str, Any]]]: ...
    async def names(self) -> list[str]: ...
    async def nudge(self, slug: str, why: str) -> None: ...
    async def event(
        self, tenant: Mapping[str, Any], *, type_: str, reason: str, message: str
    ) -> None: ...


class Peering(Protocol):
    """Whether this replica is the active one (a standby's kopf watches are paused)."""

    async def active(self) -> bool: ...


class IsolationVerifier(Protocol):
    async def __call__(self, slug: str) -> IsolationReport: ...


class ExportSource(Protocol):
    """The rows of a tenant (or of one subject of it), in one snapshot, into a bundle."""

    async def export(
        self, keys: KeyRing, subject: SubjectRef | None, sink: ExportSink
    ) -> ExportFacts: ...


class ExportSigner(Protocol):
    """Signs export manifests (OpenBao transit) and gives the public keys by version."""

    async def sign_export(self, data: bytes, key_version: int | None = None) -> str: ...
    async def export_public_keys(self) -> dict[int, str]: ...


class BundleFiles(ExportSink, Protocol):
    """A bundle being written locally (``adapters.export.bundle.BundleWriter``)."""

    @property
    def root(self) -> Path: ...
    @property
    def files(self) -> tuple[FileEntry, ...]: ...
    def assemble(self, manifest: bytes, signature: bytes, mtime: int) -> tuple[Path, str]: ...
    def __enter__(self) -> "BundleFiles": ...
    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None: ...


class Destination(Protocol):
    """Where bundles go (``adapters.storage``: ``file:///dir`` or ``s3://bucket/prefix``).

    ``put_new`` never overwrites (PermanentError, reason DestinationExists); ``fetch``
    downloads an object; ``check_writable`` says what is wrong and how to fix it.
    """

    def location(self, name: str) -> str: ...
    async def exists(self, name: str) -> bool: ...
    async def put_new(self, name: str, path: Path) -> str: ...
    async def fetch(self, name: str, path: Path) -> None: ...
    async def check_writable(self) -> None: ...


class RequestLog(Protocol):
    """The operator's record of requests and the subject erasure's rows (PostgreSQL)."""

    async def receive(
        self, uid: uuid.UUID, *, name: str, slug: str, type_: DataRequestType
    ) -> RequestRecord: ...
    async def advance(
        self,
        uid: uuid.UUID,
        phase: RequestPhase,
        result: Mapping[str, Any] | None = None,
        *,
        tenant_id: uuid.UUID | None = None,
        account_id: uuid.UUID | None = None,
    ) -> RequestRecord: ...
    async def find_account(
        self,
        tenant_id: uuid.UUID,
        *,
        account_id: uuid.UUID | None = None,
        email_index: bytes | None = None,
    ) -> SealedAccount | None: ...
    async def erase_rows(
        self,
        uid: uuid.UUID,
        tenant_id: uuid.UUID,
        chain: str,
        account_id: uuid.UUID,
        needles: list[str],
        result: Mapping[str, Any],
    ) -> RequestRecord: ...
    async def processors_of(self, tenant_id: uuid.UUID) -> list[SubProcessorEntry]: ...


@dataclass(frozen=True)
class RequestPorts:
    """What data-subject requests talk to besides the tenant ports."""

    log: RequestLog
    export_source: ExportSource
    signer: ExportSigner
    destination: Callable[[str], Destination]
    new_files: Callable[[], BundleFiles]


@dataclass(frozen=True)
class Ports:
    """Everything a reconcile talks to; built once at startup and kept in kopf's memo."""

    db: TenantDatabase
    audit: AuditTrail
    bao: SecretStore
    k8s_secrets: SecretSource
    verify_isolation: IsolationVerifier
    tenants: TenantDirectory
    actor: str = "tenant-operator"
