"""Which sub-processors may process a tenant's data, and from when (DPA section 7).

A sub-processor already in the register when the tenant was created is part of its
agreement: Active. One added later is PendingNotice for enterprise tenants until its
notice period has passed, then Active; other plans get no notice period. An objection
makes it Objected for that tenant, whatever the plan.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tenant_operator.domain.vocabulary import SubProcessorState as State


@dataclass(frozen=True)
class RegisterEntry:
    """A sub-processor as registered: name, when it was announced, how much notice."""

    name: str
    announced_at: datetime
    notice_days: int


@dataclass(frozen=True)
class Decision:
    """The state of one sub-processor for one tenant."""

    name: str
    state: State
    notified_at: datetime
    effective_at: datetime
    objected_at: datetime | None


def decide(
    entries: Sequence[RegisterEntry],
    *,
    enterprise: bool,
    tenant_created_at: datetime,
    objections: Collection[str],
    previous_objected_at: dict[str, datetime],
    now: datetime,
) -> list[Decision]:
    """One decision per register entry, sorted by name (pure)."""
    decisions = []
    for entry in sorted(entries, key=lambda e: e.name):
        needs_notice = enterprise and entry.announced_at > tenant_created_at
        notice = timedelta(days=entry.notice_days) if needs_notice else timedelta(0)
        effective_at = entry.announced_at + notice
        notified_at = max(entry.announced_at, tenant_created_at)
        objected_at: datetime | None = None
        if entry.name in objections:
            state, objected_at = State.OBJECTED, previous_objected_at.get(entry.name, now)
        elif now < effective_at:
            state = State.PENDING_NOTICE
        else:
            state = State.ACTIVE
        decisions.append(Decision(entry.name, state, notified_at, effective_at, objected_at))
    return decisions
