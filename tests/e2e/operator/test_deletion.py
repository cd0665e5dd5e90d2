"""Deletion policies, prevent-deletion and paused, end to end."""

import hvac
import pytest

from tests.e2e.operator.conftest import Stack, unique


def bao_namespaces(stack: Stack) -> set[str]:
    try:
        answer = stack.bao_root("tenants").adapter.list("/v1/sys/namespaces")
    except hvac.exceptions.InvalidPath:  # none left
        return set()
    return {k.rstrip("/") for k in (answer or {}).get("data", {}).get("keys", [])}


def audit_actions(stack: Stack, slug: str) -> list[str]:
    rows = stack.sql("SELECT action FROM integraci.audit_log WHERE chain = %s ORDER BY seq", [slug])
    return [r[0] for r in rows]


def test_delete_with_retain_keeps_everything_and_audits(stack: Stack) -> None:
    slug = unique("keep")
    stack.apply_tenant(slug, plan="enterprise")
    stack.wait_ready(slug)
    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = %s", [slug]) == [(1,)]
    assert slug in bao_namespaces(stack)
    assert audit_actions(stack, slug)[-1] == "tenant.deleted.retained"


def test_delete_with_delete_erases_all_three_systems(stack: Stack) -> None:
    slug = unique("gone")
    stack.put_secret(f"{slug}-gh", {"token": f"{slug}-erase-me"}, owner=slug)
    connector = {
        "name": "github",
        "type": "github",
        "secretRef": {"namespace": "tenant-secrets", "name": f"{slug}-gh"},
    }
    stack.apply_tenant(slug, plan="enterprise", deletionPolicy="Delete", connectors=[connector])
    stack.wait_ready(slug)
    schema = f"t_{slug}".replace("-", "_")
    assert stack.sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = %s", [slug]) == []
    assert stack.sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]) == []
    assert slug not in bao_namespaces(stack)
    keys = stack.bao_root().secrets.transit.list_keys(mount_point="transit")["data"]["keys"]
    assert f"tenant-{slug}" not in keys
    assert audit_actions(stack, slug)[-1] == "tenant.erased"
    platform = stack.sql(
        "SELECT target FROM integraci.audit_log WHERE chain = '_platform' AND action = %s",
        ["tenant.erased"],
    )
    assert (f"tenant:{slug}",) in platform


def test_prevent_deletion_blocks_the_finalizer(stack: Stack) -> None:
    slug = unique("guard")
    annotations = {"integraci.io/prevent-deletion": "true"}
    stack.apply_tenant(slug, deletionPolicy="Delete", annotations=annotations)
    stack.wait_ready(slug)
    stack.delete_tenant(slug)

    def refused() -> bool:
        ready = stack.condition(slug, "Ready")
        return bool(ready and ready["reason"] == "DeletionPrevented")

    stack.wait("DeletionPrevented condition", refused)
    events = stack.core.list_namespaced_event("default").items
    assert any(e.reason == "DeletionPrevented" and e.involved_object.name == slug for e in events)
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = %s", [slug]) == [(1,)]
    stack.patch_tenant(slug, {"metadata": {"annotations": {"integraci.io/prevent-deletion": None}}})
    stack.wait_gone(slug, timeout=90)
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = %s", [slug]) == []


def test_paused_stops_reconciling_but_not_deletion(stack: Stack) -> None:
    slug = unique("pause")
    stack.apply_tenant(slug)
    stack.wait_ready(slug)
    stack.patch_tenant(slug, {"metadata": {"annotations": {"integraci.io/paused": "true"}}})

    def paused() -> bool:
        reconciling = stack.condition(slug, "Reconciling")
        return bool(reconciling and reconciling["reason"] == "Paused")

    stack.wait("Reconciling reason Paused", paused)
    stack.patch_tenant(slug, {"spec": {"owner": {"name": "Paused Change", "email": "p@x.example"}}})
    tenant = stack.tenant(slug)
    assert tenant["status"]["observedGeneration"] < tenant["metadata"]["generation"]
    stack.patch_tenant(slug, {"spec": {"deletionPolicy": "Delete"}})
    stack.delete_tenant(slug)
    stack.wait_gone(slug)


def mirrored_head(stack: Stack, chain: str) -> tuple[int, str] | None:
    path = "audit/platform" if chain == "_platform" else f"audit/tenants/{chain}"
    try:
        answer = stack.bao_root().adapter.get(f"/v1/platform/data/{path}")
    except hvac.exceptions.InvalidPath:
        return None
    data = answer["data"]["data"]
    return int(data["seq"]), str(data["head"])


def stored_head(stack: Stack, chain: str) -> tuple[int, str]:
    rows = stack.sql(
        "SELECT seq, hash FROM integraci.audit_log WHERE chain = %s ORDER BY seq DESC LIMIT 1",
        [chain],
    )
    return int(rows[0][0]), str(rows[0][1])


def test_erasure_entries_are_mirrored_and_a_recreated_slug_starts_a_new_chain(
    stack: Stack,
) -> None:
    slug = unique("again")
    stack.apply_tenant(slug, deletionPolicy="Delete")
    stack.wait_ready(slug)
    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    # the entries written at deletion are mirrored outside PostgreSQL, both chains
    assert audit_actions(stack, slug)[-1] == "tenant.erased"
    assert mirrored_head(stack, slug) == stored_head(stack, slug)
    assert mirrored_head(stack, "_platform") == stored_head(stack, "_platform")
    # the chain is closed: redacted, its digest key destroyed
    assert stack.sql(
        "SELECT count(*) FROM integraci.audit_log WHERE chain = %s AND detail IS NOT NULL",
        [slug],
    ) == [(0,)]
    with pytest.raises(hvac.exceptions.InvalidPath):
        stack.bao_root().adapter.get(f"/v1/platform/data/audit/keys/tenants/{slug}")
    old = stack.sql("SELECT seq, hash FROM integraci.audit_log WHERE chain = %s", [slug])
    # the same slug again: a chain of its own from genesis, the old one untouched
    stack.apply_tenant(slug)
    status = stack.wait_ready(slug)["status"]["audit"]
    (new,) = stack.sql(
        "SELECT chain FROM integraci.audit_chains WHERE slug = %s AND closed_at IS NULL", [slug]
    )
    assert new[0].startswith(f"{slug}@")
    first = stack.sql(
        "SELECT seq, prev_hash FROM integraci.audit_log WHERE chain = %s AND seq = 1", new
    )
    assert first == [(1, "0" * 64)]
    assert status["seq"] == stored_head(stack, new[0])[0]
    assert mirrored_head(stack, new[0]) == stored_head(stack, new[0])
    assert stack.sql("SELECT seq, hash FROM integraci.audit_log WHERE chain = %s", [slug]) == old
