"""What an export is about and what its source reports: the vocabulary between the source
of rows (PostgreSQL), the bundle writer and the export use case. Pure data."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: What a whole-tenant export holds, in bundle order; a subject export holds SUBJECT_TABLES.
TENANT_TABLES = (
    "tenant",
    "accounts",
    "connectors",
    "pipeline_runs",
    "deploy_events",
    "usage_metrics",
    "subprocessor_records",
)
SUBJECT_TABLES = ("accounts", "pipeline_runs", "deploy_events")
#: Columns never exported, whatever the table (secrets and what verifies them).
NEVER_EXPORTED = frozenset(
    {"password_hash", "invite_token_sha256", "email_bidx", "email_enc", "name_enc"}
)


@dataclass(frozen=True)
class SubjectRef:
    """The person an export is about: an account, by email or by id (exactly one)."""

    email: str | None = None
    id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.email is None) == (self.id is None):
            raise ValueError("a subject is an email or an account id, not both")

    def document(self, account_id: uuid.UUID | None) -> dict[str, Any]:
        """The manifest's ``subject``: as asked, the account found (None: no data held)."""
        asked: dict[str, Any] = {"email": self.email} if self.email else {"id": str(self.id)}
        found = None if account_id is None else str(account_id)
        return {**asked, "accountId": found, "dataHeld": account_id is not None}


@dataclass(frozen=True)
class AuditSummary:
    """The manifest's ``audit``: the chain's head in the export's snapshot, its verdict."""

    chain: str
    seq: int
    head: str | None
    verified: bool
    entries: int
    checked: int = 0
    reason: str | None = None

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "chain": self.chain,
            "seq": self.seq,
            "head": self.head,
            "verified": self.verified,
            "checked": self.checked,
            "entries": self.entries,
        }
        if self.reason is not None:
            doc["reason"] = self.reason
        return doc


@dataclass(frozen=True)
class ExportFacts:
    """What the source wrote and knows beside the rows (for the manifest)."""

    tenant_slug: str
    tenant_id: uuid.UUID
    subject: Mapping[str, Any] | None
    audit: AuditSummary
    sub_processors: tuple[Mapping[str, Any], ...]
    rows: Mapping[str, int] = field(default_factory=dict)

    @property
    def data_held(self) -> bool:
        return self.subject is None or bool(self.subject.get("dataHeld"))


class RowSink(Protocol):
    """Where a file's rows go, in batches (the bundle writer's files): as values, or as
    rendered already (JSON object texts, one per row; CSV bytes of whole records)."""

    def write_rows(self, rows: Sequence[Sequence[object]], /) -> None: ...
    def write_jsonl(self, lines: Sequence[str], /) -> None: ...
    def write_csv(self, data: bytes, /) -> None: ...


class ExportSink(Protocol):
    """The bundle being written: tables (JSON Lines + CSV), other JSON Lines, small JSON."""

    def table(self, name: str, columns: Sequence[str], /) -> RowSink: ...
    def jsonl(self, path: str, columns: Sequence[str], /) -> RowSink: ...
    def add_json(self, path: str, items: Sequence[object], /) -> None: ...
