"""drift.scan_once over a Context of fakes: only Ready, live, unpaused drifted tenants nudged."""

import asyncio
import dataclasses
from typing import Any

import pytest

from tenant_operator.controller import drift
from tenant_operator.controller.context import Context
from tenant_operator.domain.errors import RetryableError
from tests.support.fakes import Fakes, FakeTenants, fake_context
from tests.support.tenants import tenant_body


def ready(slug: str, *, status: str = "True", **extra: Any) -> dict[str, Any]:
    """A listed Tenant whose Ready condition is ``status`` (complete, as the CRD requires)."""
    body = tenant_body(slug)
    condition = {
        "type": "Ready",
        "status": status,
        "reason": "Reconciled",
        "lastTransitionTime": "2026-05-01T00:00:00Z",
    }
    body["status"] = {"conditions": [condition], **extra}
    return body


def kube(rt: Context) -> FakeTenants:
    assert isinstance(rt.ports.tenants, FakeTenants)
    return rt.ports.tenants


def scan(rt: Context) -> dict[str, list[str]]:
    return asyncio.run(drift.scan_once(rt))


def fleet(fakes: Fakes, *tenants: dict[str, Any]) -> Context:
    return fake_context(fakes, tenants=tenants)


def test_a_fleet_without_drift_is_left_alone() -> None:
    fakes = Fakes.create()
    rt = fleet(fakes, ready("acme"), ready("beta"))
    assert scan(rt) == {}
    assert kube(rt).nudged == [] and kube(rt).events == []
    assert "bao.verify_tenant(acme)" in fakes.journal.calls


def test_only_the_drifted_tenants_are_nudged_with_an_event() -> None:
    fakes = Fakes.create()
    fakes.bao.drift["beta"] = ("policy tenant-beta differs",)
    fakes.isolation.broken["gamma"] = ("row level security disabled",)
    rt = fleet(fakes, ready("acme"), ready("beta"), ready("gamma"))
    drifted = scan(rt)
    assert drifted == {
        "beta": ["OpenBao: policy tenant-beta differs"],
        "gamma": ["PostgreSQL: row level security disabled"],
    }
    assert sorted(kube(rt).nudged) == [("beta", "drift"), ("gamma", "drift")]
    assert {(t, r) for t, r, _ in kube(rt).events} == {("Warning", "DriftDetected")}
    assert "db.repair_isolation" not in fakes.journal.names()  # the reconcile repairs
    assert rt.metrics.registry.get_sample_value("tenant_operator_drift_repairs_total") == 2


@pytest.mark.parametrize(
    "tenant",
    [
        ready("beta", status="False"),
        ready("beta", status="Unknown"),
        tenant_body("beta"),  # never reconciled
        ready("beta") | {"metadata": {**tenant_body("beta")["metadata"], "deletionTimestamp": "x"}},
        ready("beta")
        | {
            "metadata": {
                **tenant_body("beta", annotations={"integraci.io/paused": "true"})["metadata"]
            }
        },
    ],
    ids=["not-ready", "unknown", "no-status", "deleting", "paused"],
)
def test_a_tenant_that_is_not_ready_deleting_or_paused_is_not_inspected(
    tenant: dict[str, Any],
) -> None:
    fakes = Fakes.create()
    fakes.bao.drift["beta"] = ("policy tenant-beta differs",)
    rt = fleet(fakes, tenant)
    assert scan(rt) == {}
    assert fakes.journal.names() == ["kube.pages"]


def test_the_ready_gauge_counts_every_tenant() -> None:
    fakes = Fakes.create()
    rt = fleet(fakes, ready("a"), ready("b"), ready("c", status="False"), tenant_body("d"))
    scan(rt)
    gauge = rt.metrics.registry.get_sample_value
    assert [
        gauge("tenant_operator_tenants", {"ready": s}) for s in ("True", "False", "Unknown")
    ] == [
        2,
        1,
        1,
    ]


def test_an_ended_notice_period_nudges() -> None:
    fakes = Fakes.create()
    sub = {"name": "stripe", "state": "PendingNotice", "effectiveAt": "2026-01-01T00:00:00+00:00"}
    later = {**sub, "name": "mailgun", "effectiveAt": "2999-01-01T00:00:00+00:00"}
    rt = fleet(fakes, ready("acme", subProcessors=[sub, later]))
    assert scan(rt) == {"acme": ["notice period of sub-processor stripe ended"]}
    assert kube(rt).nudged == [("acme", "drift")]


def test_a_rewritten_audit_chain_nudges() -> None:
    fakes = Fakes.create()
    for action in ("tenant.database.ensured", "tenant.secrets.ensured"):
        asyncio.run(
            fakes.audit.append("acme", actor="op", action=action, target="tenant:acme", detail={})
        )
    rows = fakes.audit.chains["acme"]
    rows[0] = dataclasses.replace(rows[0], actor="intruder")
    rt = fleet(fakes, ready("acme"))
    (problem,) = scan(rt)["acme"]
    assert problem.startswith("audit chain: entry 1")


def test_a_tenant_whose_inspection_fails_is_skipped_and_the_others_scanned() -> None:
    fakes = Fakes.create()
    fakes.journal.fail("bao.verify_tenant", RetryableError("OpenBao sealed"), times=1)
    fakes.isolation.broken["beta"] = ("row level security disabled",)
    rt = fleet(fakes, ready("acme"), ready("beta"))
    assert list(scan(rt)) == ["beta"]
    assert kube(rt).nudged == [("beta", "drift")]


def test_connectors_in_the_status_are_verified() -> None:
    fakes = Fakes.create()
    rt = fleet(
        fakes, ready("acme", connectors=[{"name": "github", "ref": "openbao://x", "version": 1}])
    )
    scan(rt)
    assert "bao.verify_tenant(acme)" in fakes.journal.calls


def test_a_large_fleet_is_scanned_in_batches() -> None:
    fakes = Fakes.create()
    fakes.bao.drift = {f"t{i}": ("policy differs",) for i in range(0, 45, 2)}
    rt = fleet(fakes, *(ready(f"t{i}") for i in range(45)))
    assert rt.settings.drift_batch_size < 45
    assert sorted(scan(rt)) == sorted(fakes.bao.drift)
    assert len(kube(rt).nudged) == 23
