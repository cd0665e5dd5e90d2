"""kstatus and the Argo CD health check over statuses the operator really writes.

Each state is produced on the real API by the real operator and read back from it. For
each object the Python mirrors (``tests/support/gitops_health.py``) must agree with the real code
(kstatus ``status.Compute`` and ``deploy/argocd/tenant-health.lua`` in gopher-lua, run by
the ``gitops-health`` binary), and both must give the verdict the state calls for.
"""

from collections.abc import Iterator
from typing import Any, cast

import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.operator.conftest import GROUP, PLURAL, SECRETS_NS, VERSION, Stack, unique
from tests.support.gitops_health import argocd_health, kstatus, mismatches

PAUSED = "integraci.io/paused"
PREVENT_DELETION = "integraci.io/prevent-deletion"


@pytest.fixture
def tenants(stack: Stack) -> Iterator[list[str]]:
    """Slugs to delete afterwards (deletionPolicy defaults to Retain: data is kept)."""
    slugs: list[str] = []
    yield slugs
    for slug in slugs:
        try:
            stack.patch_tenant(slug, {"metadata": {"annotations": {PREVENT_DELETION: None}}})
            stack.delete_tenant(slug)
        except ApiException as exc:
            if exc.status != 404:
                raise
    for slug in slugs:
        stack.wait_gone(slug, timeout=90)


def judge(objects: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """(kstatus, Argo CD) per state, after checking the mirrors against the real code."""
    assert mismatches(list(objects.values())) == []
    return {name: (kstatus(obj)[0], argocd_health(obj)[0]) for name, obj in objects.items()}


def observed(stack: Stack, slug: str, type_: str, status: str, reason: str) -> dict[str, Any]:
    """The Tenant once the operator has observed its generation and says type_=status."""

    def matches() -> dict[str, Any] | None:
        tenant = stack.tenant(slug)
        seen = (tenant.get("status") or {}).get("observedGeneration")
        cond = stack.condition(slug, type_)
        if seen != tenant["metadata"]["generation"] or not cond:
            return None
        return tenant if (cond["status"], cond["reason"]) == (status, reason) else None

    found: dict[str, Any] = stack.wait(f"{slug} {type_}={status} ({reason})", matches, 90)
    return found


def connector(namespace: str, secret: str) -> dict[str, Any]:
    return {
        "name": "github",
        "type": "github",
        "secretRef": {"namespace": namespace, "name": secret},
    }


def test_created_ready_and_a_new_generation(stack: Stack, tenants: list[str]) -> None:
    slug = unique("gitops")
    tenants.append(slug)
    # The API's answer to the create is the object before the operator saw it, and the
    # answer to a spec patch the object before it saw the new generation: no race.
    created = stack.apply_tenant(slug)
    ready = stack.wait_ready(slug)
    owner = {"name": "New Owner", "email": f"new@{slug}.example"}
    bumped = cast(
        dict[str, Any],
        stack.custom.patch_cluster_custom_object(
            GROUP, VERSION, PLURAL, slug, {"spec": {"owner": owner}}
        ),
    )
    assert bumped["status"]["observedGeneration"] < bumped["metadata"]["generation"]
    ready_again = stack.wait_ready(slug)
    assert judge(
        {"created": created, "ready": ready, "bumped": bumped, "ready again": ready_again}
    ) == {
        # kstatus has nothing to go by without a status and calls it Current; the Lua
        # waits for the operator to observe generation 1.
        "created": ("Current", "Progressing"),
        "ready": ("Current", "Healthy"),
        "bumped": ("InProgress", "Progressing"),
        "ready again": ("Current", "Healthy"),
    }


def test_stalled(stack: Stack, tenants: list[str]) -> None:
    slug = unique("gitops-stall")
    tenants.append(slug)
    stack.apply_tenant(slug, connectors=[connector("kube-system", "anything")])
    stalled = observed(stack, slug, "Stalled", "True", "SecretNamespaceForbidden")
    assert judge({"stalled": stalled}) == {"stalled": ("Failed", "Degraded")}
    assert argocd_health(stalled)[1].startswith("SecretNamespaceForbidden: ")


def test_retrying_through_an_openbao_outage(stack: Stack, tenants: list[str]) -> None:
    # A missing connector Secret is not retried (it stalls with SecretNotAvailable until the
    # Secret appears); an outage is: Reconciling True with a retryable reason.
    slug = unique("gitops-retry")
    tenants.append(slug)
    stack.bao.pause()
    try:
        stack.apply_tenant(slug)
        retrying = observed(stack, slug, "Reconciling", "True", "OpenBaoUnreachable")
    finally:
        stack.bao.resume()
    recovered = stack.wait_ready(slug, timeout=120)
    assert judge({"retrying": retrying, "recovered": recovered}) == {
        "retrying": ("InProgress", "Progressing"),
        "recovered": ("Current", "Healthy"),
    }


def test_paused(stack: Stack, tenants: list[str]) -> None:
    slug = unique("gitops-pause")
    tenants.append(slug)
    stack.apply_tenant(slug)
    stack.wait_ready(slug)
    stack.patch_tenant(slug, {"metadata": {"annotations": {PAUSED: "true"}}})
    paused = observed(stack, slug, "Reconciling", "False", "Paused")
    stack.patch_tenant(slug, {"spec": {"owner": {"name": "Paused", "email": "p@x.example"}}})

    def paused_conditions_written() -> dict[str, Any] | None:
        tenant = stack.tenant(slug)
        reconciling = next(c for c in tenant["status"]["conditions"] if c["type"] == "Reconciling")
        seen = reconciling.get("observedGeneration")
        return tenant if seen == tenant["metadata"]["generation"] else None

    # Paused, the operator still writes its conditions but never observedGeneration.
    changed = stack.wait("the paused reconcile of the change", paused_conditions_written)
    assert changed["status"]["observedGeneration"] < changed["metadata"]["generation"]
    assert judge({"paused": paused, "paused, spec changed": changed}) == {
        "paused": ("Current", "Suspended"),
        "paused, spec changed": ("InProgress", "Suspended"),
    }


def test_deletion_prevented(stack: Stack, tenants: list[str]) -> None:
    slug = unique("gitops-guard")
    tenants.append(slug)
    stack.apply_tenant(slug, annotations={PREVENT_DELETION: "true"})
    stack.wait_ready(slug)
    stack.delete_tenant(slug)

    def refused() -> dict[str, Any] | None:
        ready = stack.condition(slug, "Ready")
        return stack.tenant(slug) if ready and ready["reason"] == "DeletionPrevented" else None

    terminating = stack.wait("DeletionPrevented", refused)
    # Argo CD answers "Pending deletion" before it runs any health script; so does the Lua.
    assert judge({"terminating": terminating}) == {"terminating": ("Terminating", "Progressing")}
    assert stack.condition(slug, "Stalled")["status"] == "True"  # type: ignore[index]


def test_a_connector_secret_appearing_late(stack: Stack, tenants: list[str]) -> None:
    slug = unique("gitops-late")
    tenants.append(slug)
    stack.apply_tenant(slug, connectors=[connector(SECRETS_NS, f"{slug}-gh")])
    missing = observed(stack, slug, "Stalled", "True", "SecretNotAvailable")
    stack.put_secret(f"{slug}-gh", {"token": f"{slug}-late-s3cr3t"}, owner=slug)
    ready = stack.wait_ready(slug)
    assert judge({"missing": missing, "ready": ready}) == {
        "missing": ("Failed", "Degraded"),
        "ready": ("Current", "Healthy"),
    }
