"""Condition types and reasons (declared in :mod:`.vocabulary`) and the pure rules that
combine them.

kstatus semantics: ``Ready`` summarises; ``Reconciling`` (work in progress or a retryable
failure) and ``Stalled`` (a failure that needs a human) are abnormal-true. Every other type
is one positive aspect. ``lastTransitionTime`` changes only when a status flips.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tenant_operator.domain.vocabulary import ConditionType, Reason

READY = ConditionType.READY
RECONCILING = ConditionType.RECONCILING
STALLED = ConditionType.STALLED
DATABASE_READY = ConditionType.DATABASE_READY
SECRETS_READY = ConditionType.SECRETS_READY
CONNECTORS_ROUTED = ConditionType.CONNECTORS_ROUTED
SUBPROCESSORS_ACCEPTED = ConditionType.SUBPROCESSORS_ACCEPTED
ISOLATION_VERIFIED = ConditionType.ISOLATION_VERIFIED
AUDIT_CHAIN_VERIFIED = ConditionType.AUDIT_CHAIN_VERIFIED

#: Aspects in reconcile order: reconcile_tenant runs one step per aspect in this order.
ASPECTS = (
    DATABASE_READY,
    SECRETS_READY,
    CONNECTORS_ROUTED,
    SUBPROCESSORS_ACCEPTED,
    ISOLATION_VERIFIED,
    AUDIT_CHAIN_VERIFIED,
)
#: Aspects that gate Ready. An objection to a sub-processor is the tenant's right, not a
#: provisioning failure: it turns SubProcessorsAccepted False but the tenant stays Ready.
READY_GATES = tuple(a for a in ASPECTS if a != SUBPROCESSORS_ACCEPTED)

# Reasons used here by name (the full list is vocabulary.Reason).
RECONCILED = Reason.RECONCILED
PENDING = Reason.PENDING
PAUSED = Reason.PAUSED
DELETION_PREVENTED = Reason.DELETION_PREVENTED
#: A connector Secret that does not exist or is not the tenant's (never told apart).
SECRET_NOT_AVAILABLE = Reason.SECRET_NOT_AVAILABLE

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Check:
    """The outcome of one aspect in one reconcile."""

    type: str
    status: Status
    reason: str
    message: str = ""
    #: Set when the check failed: "retry" (will be retried) or "permanent" (needs a human).
    failure: Literal["retry", "permanent"] | None = None


def ok(type_: str, message: str, reason: str = RECONCILED) -> Check:
    return Check(type_, "True", reason, message)


def failed(type_: str, reason: str, message: str, *, permanent: bool) -> Check:
    return Check(type_, "False", reason, message, "permanent" if permanent else "retry")


def pending(type_: str, blocker: str) -> Check:
    return Check(type_, "Unknown", PENDING, f"waiting for {blocker}")


def summarize(checks: Sequence[Check]) -> list[Check]:
    """Ready, Reconciling and Stalled derived from the aspect checks."""
    by_type = {c.type: c for c in checks}
    stalled = next((c for c in checks if c.failure == "permanent"), None)
    retrying = next((c for c in checks if c.failure == "retry"), None)
    gates = [by_type.get(t) for t in READY_GATES]
    if stalled is not None:
        ready = Check(READY, "False", stalled.reason, stalled.message)
    elif retrying is not None:
        ready = Check(READY, "False", retrying.reason, retrying.message)
    elif all(g is not None and g.status == "True" for g in gates):
        ready = Check(READY, "True", RECONCILED, "tenant is provisioned and verified")
    else:
        blocker = next(g for g in gates if g is None or g.status != "True")
        ready = Check(READY, "Unknown", PENDING, blocker.message if blocker else "")
    return [
        ready,
        Check(
            RECONCILING,
            "True" if retrying and not stalled else "False",
            retrying.reason if retrying and not stalled else RECONCILED,
            retrying.message if retrying and not stalled else "",
        ),
        Check(
            STALLED,
            "True" if stalled else "False",
            stalled.reason if stalled else RECONCILED,
            stalled.message if stalled else "",
        ),
    ]
