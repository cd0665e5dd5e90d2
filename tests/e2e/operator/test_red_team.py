"""Red team: a Tenant author (RBAC on Tenant objects only) against the operator's bookkeeping.

A Tenant author may create, update and delete Tenants; nothing else. Status, the
operator's finalizer and kopf's progress annotations are the operator's: a forged status
could make a resumed tenant skip work, and a stripped finalizer or a forged "handler
succeeded" record makes a deletion with ``deletionPolicy: Delete`` erase nothing (data,
OpenBao secrets and transit key silently kept, no erasure record, the registry row left
claiming the slug). The API server must refuse each write, and the erasure still happen.
"""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devenv.kube import KubeApi
from tests.e2e.operator.conftest import GROUP, VERSION, Stack, metrics, unique
from tests.e2e.operator.test_deletion import audit_actions, bao_namespaces
from tests.support.chart import admission_policies

pytestmark = pytest.mark.e2e

AUTHORS = "red-team-tenant-authors"
FINALIZER = "integraci.io/tenant-operator"
ERASURE_PROGRESS = "kopf.integraci.io/tenant-erasure"
PREVENT = "integraci.io/prevent-deletion"
ADOPT = "integraci.io/adopt"


def as_author(kube: KubeApi, *args: str, stdin: str = "") -> str:
    """Run kubectl as a Tenant author (impersonated); the stderr of a refusal, or ''."""
    done = kube.kubectl("--as=mallory", f"--as-group={AUTHORS}", *args, stdin=stdin or None)
    return "" if done.returncode == 0 else done.stderr


@pytest.fixture
def authors(kube_api: KubeApi) -> Iterator[None]:
    """RBAC for Tenant authors, and the chart's admission policies on Tenants (defaults)."""
    policies = admission_policies({}, "-bookkeeping", "-adoption")
    rbac = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": AUTHORS},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["tenants"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": AUTHORS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": AUTHORS,
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": AUTHORS}
            ],
        },
    ]
    manifest = "\n".join(json.dumps(d) for d in [*policies, *rbac])
    done = kube_api.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert done.returncode == 0, done.stderr
    try:
        wait_enforced(kube_api)
        yield
    finally:
        kube_api.kubectl("delete", "--ignore-not-found", "-f", "-", stdin=manifest)


def wait_enforced(kube: KubeApi, timeout: float = 60.0) -> None:
    """Wait until the API server enforces both policies (they take a moment after creation).

    On a timeout it goes on: the test's own assertions then say what the API server answered.
    """
    probes = {}
    for name, value, says in (
        (ERASURE_PROGRESS, "{}", "kopf.integraci.io/ annotations"),
        (ADOPT, str(uuid.uuid4()), ADOPT),
    ):
        probe = json.loads(tenant_manifest("rt-probe"))
        probe["metadata"]["annotations"] = {name: value}
        probes[says] = json.dumps(probe)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        refused = [
            what in as_author(kube, "create", "--dry-run=server", "-f", "-", stdin=probe)
            for what, probe in probes.items()
        ]
        if all(refused):
            return
        time.sleep(0.5)


def tenant_manifest(slug: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Tenant",
            "metadata": {"name": slug},
            "spec": {
                "organisation": "Red Team Ltd",
                "plan": "team",
                "owner": {"name": "Mal Lory", "email": f"mal@{slug}.example"},
                **spec,
            },
        }
    )


def test_a_tenant_author_cannot_write_status(
    stack: Stack, kube_api: KubeApi, authors: None
) -> None:
    slug = unique("rt-status")
    assert as_author(kube_api, "create", "-f", "-", stdin=tenant_manifest(slug)) == ""
    before = stack.wait_ready(slug)["status"]
    forged = {
        "status": {
            "observedGeneration": 99,
            "connectors": [
                {"name": "x", "ref": "openbao://tenants/other/kv/connectors/x", "version": 1}
            ],
            "audit": {"seq": 1, "head": "sha256:" + "0" * 64},
        }
    }
    refusal = as_author(
        kube_api,
        "patch",
        "tenant",
        slug,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(forged),
    )
    assert "forbidden" in refusal.lower(), refusal
    # Through the main resource the status is ignored (the CRD's status subresource).
    as_author(kube_api, "patch", "tenant", slug, "--type=merge", "-p", json.dumps(forged))
    after = stack.tenant(slug)["status"]
    assert after.get("connectors", []) == before.get("connectors", [])
    assert after["audit"] == before["audit"]
    assert after["observedGeneration"] == before["observedGeneration"]


def test_a_tenant_author_cannot_make_a_deletion_skip_erasure(
    stack: Stack, kube_api: KubeApi, authors: None
) -> None:
    slug = unique("rt-erase")
    manifest = tenant_manifest(slug, deletionPolicy="Delete")
    assert as_author(kube_api, "create", "-f", "-", stdin=manifest) == ""
    stack.wait_ready(slug)
    assert slug in bao_namespaces(stack)

    def patched(patch: dict[str, Any]) -> str:
        return as_author(kube_api, "patch", "tenant", slug, "--type=merge", "-p", json.dumps(patch))

    # 1. Forge kopf's record that the erasure handler already succeeded (kopf then skips it
    #    and drops the finalizer at once), at an update or at creation.
    record = {
        "started": "2026-01-01T00:00:00",
        "stopped": "2026-01-01T00:00:01",
        "purpose": "delete",
        "retries": 1,
        "success": True,
        "failure": False,
    }
    forged = patched({"metadata": {"annotations": {ERASURE_PROGRESS: json.dumps(record)}}})
    assert "kopf.integraci.io" in forged, f"a Tenant author forged kopf's progress: {forged!r}"
    created = json.loads(tenant_manifest(unique("rt-forge"), deletionPolicy="Delete"))
    created["metadata"]["annotations"] = {ERASURE_PROGRESS: json.dumps(record)}
    refusal = as_author(kube_api, "create", "-f", "-", stdin=json.dumps(created))
    assert "kopf.integraci.io" in refusal, refusal
    # 2. Hold the deletion (prevent-deletion), then strip the operator's finalizer.
    assert patched({"metadata": {"annotations": {PREVENT: "true"}}}) == ""
    assert as_author(kube_api, "delete", "tenant", slug, "--wait=false") == ""

    def held() -> bool:
        ready = stack.condition(slug, "Ready")
        return bool(ready and ready["reason"] == "DeletionPrevented")

    stack.wait("the deletion held", held)
    stripped = patched({"metadata": {"finalizers": []}})
    assert FINALIZER in stripped, f"a Tenant author removed the finalizer: {stripped!r}"
    # Other changes still pass.
    assert patched({"metadata": {"labels": {"team": "red"}}}) == ""

    tenant = stack.tenant(slug)
    assert FINALIZER in tenant["metadata"]["finalizers"]
    progress = (tenant["metadata"].get("annotations") or {}).get(ERASURE_PROGRESS)
    assert progress is None or json.loads(progress).get("success") is not True  # the operator's
    # Nothing was erased while held; released, the deletion really erases and records it.
    assert slug in bao_namespaces(stack)
    assert patched({"metadata": {"annotations": {PREVENT: None}}}) == ""
    stack.wait_gone(slug, timeout=90)
    assert slug not in bao_namespaces(stack)
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = %s", [slug]) == []
    assert audit_actions(stack, slug)[-1] == "tenant.erased"


def test_a_tenant_author_cannot_adopt_another_customers_retained_tenant(
    stack: Stack, kube_api: KubeApi, authors: None
) -> None:
    """The retained tenant's id is not shown to whoever creates a Tenant under its slug, and
    an author who has it anyway (ids leak: a ticket, an old log) still cannot adopt: under
    the chart's default only system:masters may set the annotation."""
    slug = unique("rt-adopt")
    stack.apply_tenant(slug, deletionPolicy="Retain")
    first_uid = stack.wait_ready(slug)["metadata"]["uid"]
    ((tenant_id,),) = stack.sql("SELECT id FROM integraci.tenants WHERE slug = %s", [slug])
    stack.delete_tenant(slug)
    stack.wait_gone(slug)

    assert as_author(kube_api, "create", "-f", "-", stdin=tenant_manifest(slug)) == ""

    def refused() -> dict[str, Any] | None:
        ready = stack.condition(slug, "Ready")
        return ready if ready and ready["reason"] == "RetainedTenantExists" else None

    shown = stack.wait("the retained slug refused", refused)
    assert str(tenant_id) not in shown["message"]
    patch = json.dumps({"metadata": {"annotations": {ADOPT: str(tenant_id)}}})
    refusal = as_author(kube_api, "patch", "tenant", slug, "--type=merge", "-p", patch)
    assert "integraci.io/adopt" in refusal, f"a Tenant author adopted {slug}: {refusal!r}"
    assert ADOPT not in (stack.tenant(slug)["metadata"].get("annotations") or {})
    row = stack.sql(
        "SELECT k8s_uid::text, retained_at IS NOT NULL FROM integraci.tenants WHERE id = %s",
        [tenant_id],
    )
    assert row == [(first_uid, True)]
    assert as_author(kube_api, "delete", "tenant", slug) == ""
    stack.wait_gone(slug)
    assert stack.sql("SELECT k8s_uid::text FROM integraci.tenants WHERE id = %s", [tenant_id]) == [
        (first_uid,)
    ]


def test_the_operator_log_and_metrics_carry_no_tenant_data(
    stack: Stack, kube_api: KubeApi, authors: None
) -> None:
    """Who reads the operator's log (at its default level) or scrapes its metrics learns
    no owner's name or email, organisation, connector configuration or secret value."""
    slug = unique("rt-leak")
    value = f"{slug}-connector-s3cr3t"
    stack.put_secret(f"{slug}-gh", {"token": value}, owner=slug)
    body = json.loads(tenant_manifest(slug))
    body["spec"]["organisation"] = f"Leaky Org {slug}"
    body["spec"]["owner"] = {"name": f"Pat {slug}", "email": f"pat.{slug}@leaky.example"}
    body["spec"]["connectors"] = [
        {
            "name": "github",
            "type": "github",
            "config": {"org": f"org-{slug}-private"},
            "secretRef": {"namespace": "tenant-secrets", "name": f"{slug}-gh"},
        }
    ]
    assert as_author(kube_api, "create", "-f", "-", stdin=json.dumps(body)) == ""
    stack.wait_ready(slug)
    log = stack.operator.log()
    assert slug in log  # the log does name tenants (by slug)
    for private in (
        value,
        f"Leaky Org {slug}",
        f"Pat {slug}",
        f"pat.{slug}@leaky.example",
        f"org-{slug}-private",
    ):
        assert private not in log, private
    assert slug not in metrics(stack)
