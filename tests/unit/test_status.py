"""The status module: conditions merged (lastTransitionTime only on a flip), the status read
tolerantly, built through the model (a misspelt field is an error) and dumped once."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tenant_operator.api.tenant import DatabaseStatus, TenantStatus
from tenant_operator.controller.status import amended, merge_conditions, read_status, wire
from tenant_operator.domain import conditions as cond

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_transition_time_changes_only_when_status_flips() -> None:
    first = merge_conditions([], [cond.ok(cond.READY, "a")], generation=1, now=T0)
    later = T0 + timedelta(minutes=5)
    again = [cond.ok(cond.READY, "b", reason="Again")]
    same = merge_conditions(first, again, generation=2, now=later)
    assert same[0].last_transition_time == first[0].last_transition_time == T0
    assert same[0].message == "b" and same[0].observed_generation == 2
    flip = [cond.failed(cond.READY, "X", "y", permanent=False)]
    flipped = merge_conditions(same, flip, generation=2, now=later)
    assert wire(flipped[0])["lastTransitionTime"] == "2026-01-01T00:05:00Z"


def test_merge_keeps_untouched_types_and_orders_them() -> None:
    first = merge_conditions([], all_ok(), generation=1, now=T0)
    merged = merge_conditions(first, cond.summarize(all_ok()), generation=1, now=T0)
    types = [c.type for c in merged]
    assert types[:3] == ["Ready", "Reconciling", "Stalled"]
    assert set(types[3:]) == set(cond.ASPECTS)


def test_without_a_generation_no_condition_carries_one() -> None:
    (ready,) = merge_conditions([], [cond.ok(cond.READY, "a")], generation=None, now=T0)
    assert "observedGeneration" not in wire(ready)


def all_ok() -> list[cond.Check]:
    return [cond.ok(a, "fine") for a in cond.ASPECTS]


def test_the_wire_form_holds_exactly_the_fields_set() -> None:
    """A field set to None is sent as null (a merge patch removes it); one never set, or
    left at its default, is not sent at all."""
    status = TenantStatus(database=DatabaseStatus(isolation="shared", schema=None))
    assert wire(status) == {"database": {"isolation": "shared", "schema": None}}
    assert wire(TenantStatus()) == {}
    assert wire(amended(status, observed_generation=None)) == {
        "database": {"isolation": "shared", "schema": None},
        "observedGeneration": None,
    }


def test_a_misspelt_field_is_an_error_not_a_pruned_key() -> None:
    with pytest.raises(ValidationError, match="observedGeneraton"):
        amended(TenantStatus(), observedGeneraton=3)
    with pytest.raises(ValidationError, match="schemaVersoin"):
        TenantStatus.model_validate({"database": {"isolation": "shared", "schemaVersoin": 1}})


def test_an_absent_status_reads_as_empty() -> None:
    assert read_status({"metadata": {"name": "acme"}}) == TenantStatus()
    assert read_status({"metadata": {"name": "acme"}, "status": None}) == TenantStatus()


def test_of_an_unreadable_status_what_still_parses_is_kept() -> None:
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "Reconciled",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    body = {
        "metadata": {"name": "acme"},
        "status": {
            "observedGeneration": 2,
            "conditions": [ready],
            "retired": {"a field": "of an older version"},
            "audit": {"seq": "not a number", "head": "sha256:x"},
        },
    }
    status = read_status(body)
    assert status.observed_generation == 2
    assert [c.type for c in status.conditions] == ["Ready"]
    assert status.audit is None
    assert wire(status) == {"observedGeneration": 2, "conditions": [ready]}
