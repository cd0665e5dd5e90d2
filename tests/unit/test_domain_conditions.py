"""kstatus-style conditions: summary rules and lastTransitionTime only on a flip."""

from datetime import UTC, datetime, timedelta

import pytest

from tenant_operator.domain import conditions as cond

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def all_ok() -> list[cond.Check]:
    return [cond.ok(a, "fine") for a in cond.ASPECTS]


def by_type(checks: list[cond.Check]) -> dict[str, cond.Check]:
    return {c.type: c for c in checks}


def test_all_aspects_true_is_ready() -> None:
    summary = by_type(cond.summarize(all_ok()))
    assert summary["Ready"].status == "True"
    assert summary["Reconciling"].status == "False"
    assert summary["Stalled"].status == "False"


@pytest.mark.parametrize(
    ("permanent", "reconciling", "stalled"), [(False, "True", "False"), (True, "False", "True")]
)
def test_failures_drive_reconciling_or_stalled(
    permanent: bool, reconciling: str, stalled: str
) -> None:
    checks = all_ok()
    checks[1] = cond.failed(cond.SECRETS_READY, "OpenBaoSealed", "sealed", permanent=permanent)
    summary = by_type(cond.summarize(checks))
    assert summary["Ready"].status == "False"
    assert summary["Ready"].reason == "OpenBaoSealed"
    assert summary["Reconciling"].status == reconciling
    assert summary["Stalled"].status == stalled


def test_an_objection_does_not_make_the_tenant_unready() -> None:
    checks = all_ok()
    checks[3] = cond.Check(cond.SUBPROCESSORS_ACCEPTED, "False", "Objected", "objects to x")
    summary = by_type(cond.summarize(checks))
    assert summary["Ready"].status == "True"
    assert summary["Reconciling"].status == "False"


def test_pending_aspects_leave_ready_unknown() -> None:
    checks = [cond.ok(cond.DATABASE_READY, "ok"), cond.pending(cond.SECRETS_READY, "x")]
    assert by_type(cond.summarize(checks))["Ready"].status == "Unknown"


def test_transition_time_changes_only_when_status_flips() -> None:
    first = cond.merge([], [cond.ok(cond.READY, "a")], generation=1, now=T0)
    later = T0 + timedelta(minutes=5)
    same = cond.merge(first, [cond.ok(cond.READY, "b", reason="Again")], generation=2, now=later)
    assert same[0]["lastTransitionTime"] == first[0]["lastTransitionTime"]
    assert same[0]["message"] == "b" and same[0]["observedGeneration"] == 2
    flipped = cond.merge(
        same, [cond.failed(cond.READY, "X", "y", permanent=False)], generation=2, now=later
    )
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:05:00Z"


def test_merge_keeps_untouched_types_and_orders_them() -> None:
    first = cond.merge([], all_ok(), generation=1, now=T0)
    merged = cond.merge(first, cond.summarize(all_ok()), generation=1, now=T0)
    types = [c["type"] for c in merged]
    assert types[:3] == ["Ready", "Reconciling", "Stalled"]
    assert set(types[3:]) == set(cond.ASPECTS)
