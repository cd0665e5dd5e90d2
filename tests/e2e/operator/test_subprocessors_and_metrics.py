"""Sub-processor notices (DPA s.7) and the operator's metrics, end to end."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.operator.conftest import GROUP, VERSION, Stack, metrics, unique


def add_subprocessor(stack: Stack, name: str, notice_days: int) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SubProcessor",
        "metadata": {"name": name},
        "spec": {
            "purpose": "Error tracking",
            "dataCategories": ["Operational telemetry"],
            "location": "European Union",
            "transferMechanism": "SCCs",
            "noticeDays": notice_days,
        },
    }
    stack.custom.create_cluster_custom_object(GROUP, VERSION, "subprocessors", body)


def entry(stack: Stack, slug: str, name: str) -> dict[str, Any] | None:
    for sub in (stack.tenant(slug).get("status") or {}).get("subProcessors") or []:
        if sub["name"] == name:
            return dict(sub)
    return None


def test_new_subprocessor_waits_out_notice_for_enterprise_and_can_be_objected(
    stack: Stack,
) -> None:
    enterprise, team = unique("ent"), unique("team")
    stack.apply_tenant(enterprise, plan="enterprise")
    stack.apply_tenant(team, plan="team")
    stack.wait_ready(enterprise)
    stack.wait_ready(team)
    # Kubernetes timestamps have whole seconds, and a sub-processor registered in the same
    # second as the tenant is part of its agreement (not "added later"): wait a second.
    created = datetime.fromisoformat(stack.tenant(enterprise)["metadata"]["creationTimestamp"])
    while datetime.now(UTC) < created + timedelta(seconds=1.1):
        time.sleep(0.1)
    vendor = unique("vendor")
    add_subprocessor(stack, vendor, notice_days=30)

    pending = stack.wait("PendingNotice for enterprise", lambda: entry(stack, enterprise, vendor))
    assert pending["state"] == "PendingNotice"
    effective = datetime.fromisoformat(pending["effectiveAt"])
    assert timedelta(days=29) < effective - datetime.now(UTC) <= timedelta(days=30)
    active = stack.wait("Active for team", lambda: entry(stack, team, vendor))
    assert active["state"] == "Active"
    assert stack.condition(enterprise, "SubProcessorsAccepted")["status"] == "True"  # type: ignore[index]

    stack.patch_tenant(enterprise, {"spec": {"subProcessors": {"objections": [vendor]}}})

    def objected() -> bool:
        sub = entry(stack, enterprise, vendor)
        return bool(sub and sub["state"] == "Objected")

    stack.wait("Objected", objected)
    accepted = stack.condition(enterprise, "SubProcessorsAccepted")
    assert accepted and accepted["status"] == "False" and accepted["reason"] == "Objected"
    assert vendor in accepted["message"]
    assert stack.wait_ready(enterprise)  # an objection is the tenant's right, not a failure
    objected_at = entry(stack, enterprise, vendor)["objectedAt"]  # type: ignore[index]
    stack.patch_tenant(enterprise, {"spec": {"organisation": "Renamed Ltd"}})
    stack.wait_ready(enterprise)
    assert entry(stack, enterprise, vendor)["objectedAt"] == objected_at  # type: ignore[index]
    rows = stack.sql(
        "SELECT r.state, r.objected_at IS NOT NULL FROM integraci.subprocessor_records r"
        " JOIN integraci.tenants t ON t.id = r.tenant_id WHERE t.slug = %s AND r.name = %s",
        [enterprise, vendor],
    )
    assert rows in ([], [("Objected", True)])  # [] when RLS hides rows from the superuser
    register = stack.sql(
        "SELECT notice_days FROM integraci.subprocessors WHERE name = %s", [vendor]
    )
    assert register == [(30,)]


def test_metrics_count_reconciles_and_ready_tenants(stack: Stack) -> None:
    slug = unique("metrics")
    stack.apply_tenant(slug)
    stack.wait_ready(slug)
    stack.wait(
        "ready gauge",
        lambda: 'tenant_operator_tenants{ready="True"}' in metrics(stack),
        timeout=30,
    )
    text = metrics(stack)
    assert 'tenant_operator_reconciles_total{outcome="ready"}' in text
    assert 'tenant_operator_reconcile_seconds_count{outcome="ready"}' in text
