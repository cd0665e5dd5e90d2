"""kstatus-style conditions: the summary rules (merging them: tests/unit/test_status.py)."""

import pytest

from tenant_operator.domain import conditions as cond


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
