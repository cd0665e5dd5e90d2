"""Data-subject requests, pure: time limits, what a request has recorded, who to inform.

GDPR Art. 12(3): a request is answered "without undue delay and in any event within one
month of receipt of the request". One month is a calendar month: received on 31 January,
due on 28 (or 29) February, at the same time of day.
"""

import calendar
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tenant_operator.domain.records import SubProcessorEntry
from tenant_operator.domain.vocabulary import DataRequestType, RequestPhase

#: The phases of an erasure, in order (an export goes straight to COMPLETED).
ERASURE_PHASES = (
    RequestPhase.RECEIVED,
    RequestPhase.RESOLVED,
    RequestPhase.SECRETS_ERASED,
    RequestPhase.ROWS_ERASED,
    RequestPhase.RECORDED,
    RequestPhase.KEY_ROTATED,
    RequestPhase.COMPLETED,
)
#: Words that mark a register's data category (free text, e.g. "Account data", "Billing
#: contact") as holding an account's personal data: a sub-processor processing such a
#: category received the subject's data (GDPR Art. 19).
ACCOUNT_CATEGORY_WORDS = ("account", "contact", "email", "name", "personal", "user", "identity")


def add_month(at: datetime) -> datetime:
    """``at`` one calendar month later, the day clamped to the month's last."""
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def due_at(received_at: datetime) -> datetime:
    return add_month(received_at)


def is_overdue(received_at: datetime, now: datetime, *, completed: bool) -> bool:
    return not completed and now > due_at(received_at)


def reached(phase: RequestPhase, wanted: RequestPhase) -> bool:
    """Whether an erasure at ``phase`` has done ``wanted`` already."""
    if phase == RequestPhase.COMPLETED:
        return True
    return ERASURE_PHASES.index(phase) >= ERASURE_PHASES.index(wanted)


@dataclass(frozen=True)
class RequestRecord:
    """What PostgreSQL holds of a request (never the subject's email or name)."""

    uid: uuid.UUID
    name: str
    slug: str
    type: DataRequestType
    received_at: datetime
    phase: RequestPhase
    account_id: uuid.UUID | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    completed_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return self.phase == RequestPhase.COMPLETED


@dataclass(frozen=True)
class SealedAccount:
    """A subject's account as the database holds it: email and name sealed."""

    id: uuid.UUID
    is_owner: bool
    email: bytes
    name: bytes


def recipients(register: Iterable[SubProcessorEntry]) -> list[dict[str, Any]]:
    """The sub-processors to inform of an erasure (GDPR Art. 19): of those that process the
    tenant's data (not objected to), the ones whose categories hold account data."""
    out = []
    for entry in sorted(register, key=lambda e: e.name):
        categories = [c for c in entry.data_categories if holds_account_data(c)]
        if categories:
            out.append(
                {
                    "name": entry.name,
                    "purpose": entry.purpose,
                    "location": entry.location,
                    "dataCategories": categories,
                }
            )
    return out


def holds_account_data(category: str) -> bool:
    folded = category.casefold()
    return any(word in folded for word in ACCOUNT_CATEGORY_WORDS)


def backups_clear_at(rotated_at: datetime, retention: timedelta) -> datetime:
    """From when no backup holds a readable copy: the last backup with the old key expired."""
    return rotated_at + retention


def needles(account_id: uuid.UUID, *values: str | None) -> Sequence[str]:
    """What marks an audit detail as naming the subject: the account id, email and name."""
    return tuple(v for v in (str(account_id), *values) if v)
