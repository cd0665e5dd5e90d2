"""Slugs whose derived names collide with something not the tenant's, end to end.

New ones are refused by the API server (tests/e2e/test_tenant_validation.py). These are the
ones that exist anyway: admitted before the rule existed (the CRD is applied without it for
a moment, as an older release shipped it). The operator stalls them with SlugReserved
before any write, and their deletion finishes without touching the reserved OpenBao path.
"""

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import hvac
import pytest
import yaml

from devenv.kube import KubeApi
from tests.e2e.operator.conftest import GROUP, PLURAL, VERSION, Stack
from tests.support.kube import CRD_DIR
from tests.support.tenants import tenant_manifest

TENANT_CRD = CRD_DIR / f"{PLURAL}.{GROUP}.yaml"
NAME_RULE = "self.metadata.name"


def bao_namespaces(stack: Stack) -> set[str]:
    try:
        answer = stack.bao_root("tenants").adapter.list("/v1/sys/namespaces")
    except hvac.exceptions.InvalidPath:  # no tenant namespace yet
        return set()
    return {k.rstrip("/") for k in (answer or {}).get("data", {}).get("keys", [])}


def transit_keys(stack: Stack) -> set[str]:
    try:
        answer = stack.bao_root().secrets.transit.list_keys(mount_point="transit")
    except hvac.exceptions.InvalidPath:  # no key yet
        return set()
    return set(answer["data"]["keys"])


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strip(v) for k, v in node.items()}
    rules = [r for r in out.pop("x-kubernetes-validations", []) if not _new_rule(r["rule"])]
    if rules:
        out["x-kubernetes-validations"] = rules
    return out


def _new_rule(rule: str) -> bool:
    return NAME_RULE in rule or "self.matches(" in rule


def without_name_rules(crd: dict[str, Any]) -> dict[str, Any]:
    """The Tenant CRD as a release before the reserved-slug and text rules shipped it."""
    old = copy.deepcopy(crd)
    version = old["spec"]["versions"][0]
    version["schema"] = _strip(version["schema"])
    return dict(old)


def apply(kube: KubeApi, crd: dict[str, Any]) -> None:
    done = kube.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=json.dumps(crd)
    )
    assert done.returncode == 0, done.stderr


def tenant_body(slug: str, **spec: Any) -> dict[str, Any]:
    spec = {"organisation": "Old Release Ltd", **spec}
    return tenant_manifest(slug, email="jane@old.example", **spec)


def admitted(kube: KubeApi, body: dict[str, Any]) -> bool:
    dry = kube.kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(body))
    return dry.returncode == 0


def wait_for(what: str, check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


@pytest.fixture
def pre_existing(stack: Stack, kube_api: KubeApi) -> Iterator[Any]:
    """Create Tenants as an older release admitted them (the CRD without the name rule)."""
    crd = yaml.safe_load(TENANT_CRD.read_text())
    created: list[str] = []

    def create(slug: str, **spec: Any) -> None:
        body = tenant_body(slug, **spec)
        apply(kube_api, without_name_rules(crd))
        try:
            wait_for("the CRD without the name rule", lambda: admitted(kube_api, body))
            stack.custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
            created.append(slug)
        finally:
            apply(kube_api, crd)
        probe = tenant_body("sys")
        if without_name_rules(crd) != crd:  # (the committed CRD has the rule)
            wait_for("the CRD with the name rule again", lambda: not admitted(kube_api, probe))

    yield create
    for slug in created:
        kube_api.kubectl("delete", "tenant", slug, "--ignore-not-found", "--wait=false")


def stalled(stack: Stack, slug: str) -> dict[str, Any] | None:
    condition = stack.condition(slug, "Stalled")
    return condition if condition and condition["status"] == "True" else None


def test_a_pre_existing_secrets_tenant_stalls_creates_nothing_and_deletes(
    stack: Stack, pre_existing: Any
) -> None:
    # `secrets` derives the workload namespace tenant-secrets: the namespace holding every
    # tenant's connector Secrets. Its Kubernetes-auth role would be bound to it.
    namespaces_before = bao_namespaces(stack)
    pre_existing("secrets")

    condition = stack.wait("Stalled", lambda: stalled(stack, "secrets"))

    assert condition["reason"] == "SlugReserved"
    assert "tenant-secrets" in condition["message"]
    assert "choose another name" in condition["message"]
    ready = stack.condition("secrets", "Ready")
    assert ready is not None and ready["status"] == "False"
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = 'secrets'") == []
    assert stack.sql("SELECT 1 FROM integraci.audit_log WHERE chain = 'secrets'") == []
    assert "secrets" not in bao_namespaces(stack)
    assert bao_namespaces(stack) == namespaces_before
    assert "tenant-secrets" not in transit_keys(stack)

    stack.delete_tenant("secrets")
    stack.wait_gone("secrets")

    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = 'secrets'") == []
    assert stack.sql("SELECT 1 FROM integraci.audit_log WHERE chain = 'secrets'") == []


def test_a_reserved_openbao_name_with_an_old_registry_row_is_erased_and_released(
    stack: Stack, pre_existing: Any
) -> None:
    # An older release wrote the registry row of `cubbyhole` (then failed in OpenBao, which
    # refuses the name): deletion must finish, remove the row, and leave OpenBao alone.
    pre_existing("cubbyhole", deletionPolicy="Delete")
    stack.sql(
        "INSERT INTO integraci.tenants (slug, plan, isolation) "  # organisation: sealed only
        "VALUES ('cubbyhole', 'team', 'shared') ON CONFLICT DO NOTHING"
    )
    condition = stack.wait("Stalled", lambda: stalled(stack, "cubbyhole"))
    assert condition["reason"] == "SlugReserved"
    assert "reserved by OpenBao" in condition["message"]

    stack.delete_tenant("cubbyhole")
    stack.wait_gone("cubbyhole", timeout=30)

    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = 'cubbyhole'") == []
    assert "cubbyhole" not in bao_namespaces(stack)
    # the OpenBao adapter was never asked to build the reserved path
    assert "cannot name a namespace" not in stack.operator.log()


def test_a_pre_existing_tenant_with_hostile_text_stalls_and_deletes(
    stack: Stack, pre_existing: Any
) -> None:
    # Admitted before the text rules: a bidi override in the organisation. The operator
    # refuses it (its model refuses what the CRD now refuses) before any write.
    slug = "bidi-" + str(int(time.time() * 1000) % 100000)
    pre_existing(slug, organisation="Acme \u202eLtd", deletionPolicy="Delete")

    condition = stack.wait("Stalled", lambda: stalled(stack, slug))

    assert condition["reason"] == "InvalidSpec"
    assert "spec.organisation" in condition["message"]
    assert "format or control character" in condition["message"]
    assert "U+202E" in condition["message"]
    assert stack.sql("SELECT 1 FROM integraci.tenants WHERE slug = %s", [slug]) == []
    # still updatable (the rules ratchet: unchanged values are not re-checked) and deletable
    stack.patch_tenant(slug, {"metadata": {"labels": {"team": "billing"}}})
    stack.delete_tenant(slug)
    stack.wait_gone(slug, timeout=30)
