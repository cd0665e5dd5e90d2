"""Attacks on connector Secrets: a tenant naming a Secret it does not own gets nothing.

A connector Secret belongs to the tenant its ``integraci.io/tenant`` label names, set by
whoever creates the Secret (who needs RBAC on Secrets in the allowed namespace, which a
Tenant author does not have). A tenant naming another tenant's Secret, an unlabelled one or
one that does not exist gets the same condition (only the name it wrote differs), nothing
is copied into its OpenBao space, and the owner is left as it was. The chart's
ValidatingAdmissionPolicy makes the API server refuse any change of the label.
"""

import contextlib
import json
from typing import Any

import hvac.exceptions
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devenv.kube import KubeApi
from tests.e2e.operator.conftest import OWNER_LABEL, SECRETS_NS, Stack, unique
from tests.e2e.operator.test_lifecycle import connector
from tests.support.chart import admission_policies

pytestmark = pytest.mark.e2e

NUDGE = "integraci.io/reconcile-requested"
SHOWN = ("ConnectorsRouted", "Ready", "Stalled")


def settled(stack: Stack, slug: str, generation: int) -> dict[str, dict[str, Any]]:
    """The conditions of ``slug`` once its connectors step at ``generation`` has an outcome."""

    def outcome() -> dict[str, dict[str, Any]] | None:
        tenant = stack.tenant(slug)
        status = tenant.get("status") or {}
        if status.get("observedGeneration") != generation:
            return None
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        routed = conditions.get("ConnectorsRouted")
        return conditions if routed and routed["status"] != "Unknown" else None

    found: dict[str, dict[str, Any]] = stack.wait(f"{slug}'s connectors outcome", outcome)
    return found


def shown(conditions: dict[str, dict[str, Any]], wrote: str) -> list[tuple[str, str, str]]:
    """What a tenant is told, with the Secret name it wrote itself replaced."""
    return [
        (
            conditions[t]["status"],
            conditions[t]["reason"],
            str(conditions[t]["message"]).replace(wrote, "<name>"),
        )
        for t in SHOWN
    ]


def routed_connector(stack: Stack, slug: str) -> tuple[int, dict[str, str]]:
    kv = stack.bao_root(f"tenants/{slug}").secrets.kv.v2
    meta = kv.read_secret_metadata("connectors/github", mount_point="kv")
    data = kv.read_secret_version(
        "connectors/github", mount_point="kv", raise_on_deleted_version=True
    )["data"]["data"]
    return int(meta["data"]["current_version"]), dict(data)


def bao_connectors(stack: Stack, slug: str) -> list[str]:
    kv = stack.bao_root(f"tenants/{slug}").secrets.kv.v2
    try:
        keys: list[str] = kv.list_secrets("connectors", mount_point="kv")["data"]["keys"]
    except hvac.exceptions.InvalidPath:
        return []
    return keys


def pg_connectors(stack: Stack, slug: str) -> list[tuple[Any, ...]]:
    return stack.sql(
        "SELECT c.name, c.ref FROM integraci.connectors c"
        " JOIN integraci.tenants t ON t.id = c.tenant_id WHERE t.slug = %s",
        [slug],
    )


def test_a_tenant_naming_another_tenants_secret_gets_nothing(stack: Stack) -> None:
    a, b = unique("own-a"), unique("own-b")
    # Secret names that say nothing of their owner.
    theirs, unlabelled, missing = unique("conn"), unique("conn"), unique("conn")
    stack.put_secret(theirs, {"token": f"{a}-only-s3cr3t"}, owner=a)
    stack.put_secret(unlabelled, {"token": f"{a}-unlabelled-s3cr3t"}, owner=None)
    stack.apply_tenant(a, connectors=[connector("github", theirs)])
    owner_before = stack.wait_ready(a)["status"]["connectors"]
    bao_before = routed_connector(stack, a)

    stack.apply_tenant(b, connectors=[connector("github", theirs)])
    stolen = settled(stack, b, 1)
    assert stolen["ConnectorsRouted"]["status"] == "False", (
        f"{b} got {a}'s Secret routed: {stolen['ConnectorsRouted']}"
    )
    # A change of the owner's Secret is not news to the tenant naming it.
    stack.put_secret(theirs, {"token": f"{a}-rotated-s3cr3t"}, owner=a)
    stack.wait(
        f"{a} to route the rotated Secret",
        lambda: stack.tenant(a)["status"]["connectors"][0]["version"] == 2,
    )
    assert NUDGE not in (stack.tenant(b)["metadata"].get("annotations") or {})

    stack.patch_tenant(b, {"spec": {"connectors": [connector("github", unlabelled)]}})
    nobodys = settled(stack, b, 2)
    stack.patch_tenant(b, {"spec": {"connectors": [connector("github", missing)]}})
    absent = settled(stack, b, 3)

    # Byte for byte the same, but for the name the tenant wrote.
    told = shown(absent, missing)
    assert shown(stolen, theirs) == told
    assert shown(nobodys, unlabelled) == told
    routed = absent["ConnectorsRouted"]
    assert (routed["status"], routed["reason"]) == ("False", "SecretNotAvailable")
    assert f"Secret {SECRETS_NS}/{missing} " in routed["message"]
    assert f"{OWNER_LABEL}={b}" in routed["message"]
    # Nothing was copied into b: not in OpenBao, PostgreSQL or its status.
    assert bao_connectors(stack, b) == []
    assert pg_connectors(stack, b) == []
    assert not stack.tenant(b)["status"].get("connectors")
    # Nothing b can read says anything of a.
    about_b = [
        e.to_dict()
        for e in stack.core.list_namespaced_event("default").items
        if e.involved_object.name == b
    ]
    log = [line for line in stack.operator.log().splitlines() if b in line]
    for text in (json.dumps(about_b, default=str), json.dumps(stack.tenant(b)), *log):
        assert a not in text and "exist" not in text and "owned by" not in text, text
    # The owner is as it was, with its rotated Secret.
    owner_after = stack.wait_ready(a)["status"]["connectors"]
    assert [c["ref"] for c in owner_after] == [c["ref"] for c in owner_before]
    assert routed_connector(stack, a) == (bao_before[0] + 1, {"token": f"{a}-rotated-s3cr3t"})
    assert pg_connectors(stack, a) == [("github", f"openbao://tenants/{a}/kv/connectors/github")]


def refusal(stack: Stack, name: str, labels: dict[str, str | None], *, dry_run: bool) -> str:
    """The API server's refusal of a label patch ("" when it was accepted)."""
    patch = {"metadata": {"labels": labels}}
    try:
        stack.core.patch_namespaced_secret(
            name, SECRETS_NS, patch, **({"dry_run": "All"} if dry_run else {})
        )
    except ApiException as exc:
        assert exc.status in (403, 422), exc
        return str(json.loads(exc.body)["message"])
    return ""


def owner_policy_enforced(stack: Stack, probe: str) -> None:
    """Wait (at most 30 s, then go on) until the API server enforces the chart's policy."""
    # On a timeout, the assertions that follow say what the API server answered.
    with contextlib.suppress(AssertionError):
        stack.wait(
            "the owner-label policy",
            lambda: refusal(stack, probe, {OWNER_LABEL: "someone-else"}, dry_run=True),
            timeout=30,
        )


def test_the_owner_label_of_a_connector_secret_cannot_be_changed(
    stack: Stack, kube_api: KubeApi, request: pytest.FixtureRequest
) -> None:
    # Only the chart's owner-label policy: the others (reserved slugs, ...) would outlive
    # this test in the session's API server and refuse what later tests create.
    policies = admission_policies(
        {"tenants.allowedSecretNamespaces": [SECRETS_NS]}, "-secret-owner"
    )
    if policies:  # none: the API server has nothing to refuse with (asserted below)
        manifest = "\n".join(json.dumps(d) for d in policies)
        request.addfinalizer(
            lambda: kube_api.kubectl("delete", "--ignore-not-found", "-f", "-", stdin=manifest)
        )
        done = kube_api.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
        assert done.returncode == 0, done.stderr
    a, b = unique("lbl-a"), unique("lbl-b")
    owned, unlabelled = unique("conn"), unique("conn")
    # Creating a Secret with or without the label is allowed.
    stack.put_secret(owned, {"token": f"{a}-label-s3cr3t"}, owner=a)
    stack.put_secret(unlabelled, {"token": f"{a}-nolabel-s3cr3t"}, owner=None)
    owner_policy_enforced(stack, owned)

    moved = refusal(stack, owned, {OWNER_LABEL: b}, dry_run=False)
    assert "integraci.io/tenant label of a connector Secret is set" in moved, (
        f"the API server let {owned}'s owner label move from {a} to {b}"
    )
    assert refusal(stack, owned, {OWNER_LABEL: None}, dry_run=False) == moved
    assert refusal(stack, unlabelled, {OWNER_LABEL: b}, dry_run=False)
    secret = stack.core.read_namespaced_secret(owned, SECRETS_NS)
    assert secret.metadata.labels == {OWNER_LABEL: a}
    assert not (stack.core.read_namespaced_secret(unlabelled, SECRETS_NS).metadata.labels or {})
    # Other labels and the data (a rotation) are not the policy's business.
    assert refusal(stack, owned, {"team": "billing"}, dry_run=False) == ""
    stack.put_secret(owned, {"token": f"{a}-label-rotated-s3cr3t"}, owner=a)
    # Secrets elsewhere are not matched.
    elsewhere = client.V1Secret(
        metadata=client.V1ObjectMeta(name=unique("conn"), labels={OWNER_LABEL: a}),
        string_data={"k": "v"},
    )
    stack.core.create_namespaced_secret("default", elsewhere)
    stack.core.patch_namespaced_secret(
        elsewhere.metadata.name, "default", {"metadata": {"labels": {OWNER_LABEL: b}}}
    )
