"""What orchestration hands the database adapter to write (frozen, validated on construction).

Built by the controller from the plan and its decisions; the PostgreSQL adapter stores them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import validate_label
from tenant_operator.domain.vocabulary import OPENBAO_REF_SCHEME, Reason, SubProcessorState


@dataclass(frozen=True)
class ConnectorRecord:
    """A connector row: non-secret config and the opaque OpenBao reference of its secret."""

    name: str
    type: str
    config: Mapping[str, str]
    ref: str
    version: int

    def __post_init__(self) -> None:
        validate_label(self.name, what="connector name")
        validate_label(self.type, what="connector type")
        if not self.ref.startswith(OPENBAO_REF_SCHEME):
            raise PermanentError(
                f"connector {self.name!r}: the secret reference must start with "
                f"{OPENBAO_REF_SCHEME!r}; Postgres stores only opaque references",
                reason=Reason.INVALID_SECRET_REF,
            )
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.config.items()):
            raise PermanentError(
                f"connector {self.name!r}: config keys and values must be strings",
                reason=Reason.INVALID_SPEC,
            )
        if self.version < 0:
            raise PermanentError(
                f"connector {self.name!r}: negative version", reason=Reason.INVALID_SPEC
            )


@dataclass(frozen=True)
class SubProcessorRecord:
    """One tenant's view of a register entry: notice given, effective date, objection."""

    name: str
    state: SubProcessorState
    notified_at: datetime | None = None
    effective_at: datetime | None = None
    objected_at: datetime | None = None

    def __post_init__(self) -> None:
        validate_label(self.name, what="sub-processor name")
        if self.state not in tuple(SubProcessorState):
            raise PermanentError(
                f"sub-processor {self.name!r}: unknown state {self.state!r}",
                reason=Reason.INVALID_SPEC,
            )


@dataclass(frozen=True)
class SubProcessorEntry:
    """A register entry (the ``SubProcessor`` resource)."""

    name: str
    purpose: str
    data_categories: tuple[str, ...] = ()
    location: str = ""
    transfer_mechanism: str = ""
    notice_days: int = 30

    def __post_init__(self) -> None:
        validate_label(self.name, what="sub-processor name")
        if self.notice_days < 0:
            raise PermanentError("notice_days must be >= 0", reason=Reason.INVALID_SPEC)
