"""Specs the operator cannot honour, outages and drift: reported, retried, repaired."""

import json
from collections.abc import Callable

from tests.e2e.operator.conftest import SECRETS_NS, Stack, unique


def connector(secret_ns: str, secret: str) -> dict[str, object]:
    return {
        "name": "github",
        "type": "github",
        "secretRef": {"namespace": secret_ns, "name": secret},
    }


def wait_reason(stack: Stack, slug: str, type_: str, status: str, reason: str) -> dict[str, str]:
    def matches() -> dict[str, str] | None:
        cond = stack.condition(slug, type_)
        return cond if cond and cond["status"] == status and cond["reason"] == reason else None

    found: dict[str, str] = stack.wait(f"{type_}={status} ({reason})", matches)
    return found


def test_missing_secret_stalls_then_recovers(stack: Stack) -> None:
    slug = unique("nosec")
    stack.apply_tenant(slug, connectors=[connector(SECRETS_NS, f"{slug}-gh")])
    stalled = wait_reason(stack, slug, "Stalled", "True", "SecretNotAvailable")
    assert f"Secret {SECRETS_NS}/{slug}-gh is not available" in stalled["message"]
    assert f"create it with the label integraci.io/tenant={slug}" in stalled["message"]
    assert stack.condition(slug, "Ready")["status"] == "False"  # type: ignore[index]
    stack.put_secret(f"{slug}-gh", {"token": "late-s3cr3t"}, owner=slug)
    stack.wait_ready(slug)


def test_secret_in_forbidden_namespace_is_refused(stack: Stack) -> None:
    slug = unique("forbid")
    stack.apply_tenant(slug, connectors=[connector("kube-system", "anything")])
    stalled = wait_reason(stack, slug, "Stalled", "True", "SecretNamespaceForbidden")
    assert "kube-system" in stalled["message"] and "tenant-secrets" in stalled["message"]
    stack.put_secret(f"{slug}-gh", {"token": "allowed-s3cr3t"}, owner=slug)
    stack.patch_tenant(slug, {"spec": {"connectors": [connector(SECRETS_NS, f"{slug}-gh")]}})
    stack.wait_ready(slug)


def test_postgres_outage_is_reported_and_converges(stack: Stack) -> None:
    slug = unique("pgdown")
    stack.pg.pause()
    try:
        stack.apply_tenant(slug)
        ready = wait_reason(stack, slug, "Reconciling", "True", "DatabaseUnavailable")
        assert "unreachable" in ready["message"]
        assert stack.condition(slug, "Ready")["reason"] == "DatabaseUnavailable"  # type: ignore[index]
    finally:
        stack.pg.resume()
    stack.wait_ready(slug, timeout=120)
    assert stack.sql("SELECT count(*) FROM integraci.tenants WHERE slug = %s", [slug]) == [(1,)]


def test_drift_is_found_and_repaired(stack: Stack) -> None:
    """Each drift is found by the scanner, reported as an event and repaired.

    One drift at a time: with both made at once, a scan could check PostgreSQL just before
    the first and OpenBao just after the second, and the reconcile it triggers repairs both,
    so no event would ever name the PostgreSQL one (seen once in a full run).
    """
    slug = unique("drift")
    stack.apply_tenant(slug, plan="enterprise")
    stack.wait_ready(slug)
    schema = f"t_{slug}".replace("-", "_")
    tenant_ns = stack.bao_root(f"tenants/{slug}")

    def reported(engine: str) -> Callable[[], bool]:
        def check() -> bool:
            events = stack.core.list_namespaced_event("default").items
            return any(
                e.involved_object.name == slug
                and e.reason == "DriftDetected"
                and f"{engine}:" in e.message
                for e in events
            )

        return check

    stack.sql(f'ALTER TABLE "{schema}".accounts NO FORCE ROW LEVEL SECURITY')

    def forced() -> bool:
        return stack.sql(
            "SELECT relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
            [f'"{schema}".accounts'],
        ) == [(True,)]

    stack.wait("a DriftDetected event naming the PostgreSQL drift", reported("PostgreSQL"))
    stack.wait("RLS forced again", forced, timeout=60)

    tenant_ns.sys.create_or_update_acl_policy("tenant", 'path "*" { capabilities = ["read"] }')

    def policy_restored() -> bool:
        return 'path "*"' not in tenant_ns.sys.read_acl_policy("tenant")["data"]["policy"]

    stack.wait("a DriftDetected event naming the OpenBao drift", reported("OpenBao"))
    stack.wait("the tenant policy restored", policy_restored, timeout=60)
    stack.wait_ready(slug)


def test_no_secret_in_logs_events_or_status(stack: Stack) -> None:
    slug = unique("leak")
    stack.put_secret(f"{slug}-gh", {"token": f"{slug}-ultra-s3cr3t-value"}, owner=slug)
    stack.apply_tenant(slug, connectors=[connector(SECRETS_NS, f"{slug}-gh")])
    stack.wait_ready(slug)
    haystacks = {
        "operator log": stack.operator.log(),
        "events": json.dumps(
            [e.to_dict() for e in stack.core.list_event_for_all_namespaces().items], default=str
        ),
        "tenants": json.dumps(
            stack.custom.list_cluster_custom_object("integraci.io", "v1alpha1", "tenants")
        ),
    }
    assert stack.planted
    for where, text in haystacks.items():
        for secret in stack.planted:
            assert secret not in text, f"a planted secret appears in the {where}"
