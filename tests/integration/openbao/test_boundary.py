"""Attacks on the tenant boundary inside OpenBao, each refused by OpenBao itself.

The tenant's own token (what its workloads get) cannot reach the owner's invite or change
the connector values the operator routes; values changed behind the operator's back (with
the root token) are reported by verify and restored from the Secret; the tenant's
Kubernetes-auth role grants nothing besides the tenant policy, for a bounded time, to
tokens of one audience; slugs whose OpenBao names are reserved or are the operator's own
never reach OpenBao.
"""

from collections.abc import Callable
from typing import Any

import hvac
import pytest
from hvac import exceptions as hv

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.domain.errors import PermanentError
from tests.support.openbao import OPERATOR_POLICY, root_in, run, tenant_token

pytestmark = pytest.mark.integration

#: Every KV v2 endpoint that reaches a key (read, list, write, soft-delete, undelete, destroy).
_KV_CALLS: dict[str, Callable[[hvac.Client, str, str], object]] = {
    "read data": lambda c, m, k: c.adapter.get(f"/v1/{m}/data/{k}"),
    "read metadata": lambda c, m, k: c.adapter.get(f"/v1/{m}/metadata/{k}"),
    "list": lambda c, m, k: c.adapter.list(f"/v1/{m}/metadata/{k.rsplit('/', 1)[0]}"),
    "write": lambda c, m, k: c.adapter.post(f"/v1/{m}/data/{k}", json={"data": {"x": "y"}}),
    "patch": lambda c, m, k: c.adapter.request(
        "PATCH",
        f"/v1/{m}/data/{k}",
        json={"data": {"x": "y"}},
        headers={"Content-Type": "application/merge-patch+json"},
    ),
    "write metadata": lambda c, m, k: c.adapter.post(
        f"/v1/{m}/metadata/{k}", json={"custom_metadata": {"content-sha256": "forged"}}
    ),
    "soft delete": lambda c, m, k: c.adapter.delete(f"/v1/{m}/data/{k}"),
    "delete version": lambda c, m, k: c.adapter.post(f"/v1/{m}/delete/{k}", json={"versions": [1]}),
    "undelete": lambda c, m, k: c.adapter.post(f"/v1/{m}/undelete/{k}", json={"versions": [1]}),
    "destroy": lambda c, m, k: c.adapter.post(f"/v1/{m}/destroy/{k}", json={"versions": [1]}),
    "delete metadata": lambda c, m, k: c.adapter.delete(f"/v1/{m}/metadata/{k}"),
}


def _value(root: hvac.Client, mount: str, key: str) -> dict[str, str]:
    return dict(root.adapter.get(f"/v1/{mount}/data/{key}")["data"]["data"])


def _meta(root: hvac.Client, mount: str, key: str) -> dict[str, Any]:
    return dict(root.adapter.get(f"/v1/{mount}/metadata/{key}")["data"])


def test_tenant_workloads_cannot_reach_the_owner_invite_and_it_expires(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, bao_secrets: set[str]
) -> None:
    invite = "invite-token-" + "e" * 24
    workload = tenant_token(openbao_server, tenants, "invited")
    bao_secrets.update({invite, workload.token})
    state = run(tenants.ensure_tenant("invited"))
    run(tenants.store_invite("invited", invite))
    root = root_in(openbao_server, state.namespace)

    reached = []
    for what, call in _KV_CALLS.items():
        try:
            call(workload, state.mount, "invites/owner")
            reached.append(what)
        except hv.Forbidden:
            pass
    assert reached == [], f"the tenant's own token reached the owner invite: {reached}"
    # Nothing was changed or lost: one version, the operator's value.
    assert _value(root, state.mount, "invites/owner") == {"token": invite}
    meta = _meta(root, state.mount, "invites/owner")
    assert sorted(meta["versions"]) == ["1"]
    # OpenBao itself deletes the invite once it is older than the invite TTL.
    assert meta["delete_version_after"] == "168h0m0s"
    # The tenant still uses the rest of its mount.
    workload.adapter.post(f"/v1/{state.mount}/data/app/notes", json={"data": {"n": "1"}})
    assert _value(workload, state.mount, "app/notes") == {"n": "1"}


def test_tenant_workloads_read_connectors_but_cannot_change_or_remove_them(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, bao_secrets: set[str]
) -> None:
    workload = tenant_token(openbao_server, tenants, "readonly")
    bao_secrets.update({workload.token, "ro-github-token"})
    state = run(tenants.ensure_tenant("readonly"))
    run(tenants.route_connector("readonly", "github", {"token": "ro-github-token"}))
    root = root_in(openbao_server, state.namespace)
    before = _meta(root, state.mount, "connectors/github")

    assert _value(workload, state.mount, "connectors/github") == {"token": "ro-github-token"}
    workload.adapter.get(f"/v1/{state.mount}/metadata/connectors/github")
    changed = []
    for what in ("write", "patch", "write metadata", "soft delete", "delete version"):
        try:
            _KV_CALLS[what](workload, state.mount, "connectors/github")
            changed.append(what)
        except hv.Forbidden:
            pass
    for what in ("undelete", "destroy", "delete metadata"):
        try:
            _KV_CALLS[what](workload, state.mount, "connectors/github")
            changed.append(what)
        except hv.Forbidden:
            pass
    assert changed == [], f"the tenant's own token changed a connector: {changed}"
    assert _value(root, state.mount, "connectors/github") == {"token": "ro-github-token"}
    assert _meta(root, state.mount, "connectors/github") == before


def _new_version(root: hvac.Client, mount: str, key: str) -> None:
    root.adapter.post(f"/v1/{mount}/data/{key}", json={"data": {"token": "planted"}})


def _new_version_hash_kept(root: hvac.Client, mount: str, key: str) -> None:
    custom = _meta(root, mount, key)["custom_metadata"]
    _new_version(root, mount, key)
    root.adapter.post(f"/v1/{mount}/metadata/{key}", json={"custom_metadata": custom})


def _soft_delete(root: hvac.Client, mount: str, key: str) -> None:
    root.adapter.delete(f"/v1/{mount}/data/{key}")


def _destroy_current(root: hvac.Client, mount: str, key: str) -> None:
    version = _meta(root, mount, key)["current_version"]
    root.adapter.post(f"/v1/{mount}/destroy/{key}", json={"versions": [version]})


def _forge_metadata(root: hvac.Client, mount: str, key: str) -> None:
    custom = dict(_meta(root, mount, key)["custom_metadata"])
    custom["content-version"] = "99"
    root.adapter.post(f"/v1/{mount}/metadata/{key}", json={"custom_metadata": custom})


@pytest.mark.parametrize(
    "tamper",
    [_new_version, _new_version_hash_kept, _soft_delete, _destroy_current, _forge_metadata],
)
def test_a_connector_tampered_with_behind_the_operators_back_is_reported_and_restored(
    openbao_server: OpenBaoServer,
    tenants: OpenBaoTenants,
    bao_secrets: set[str],
    tamper: Callable[[hvac.Client, str, str], None],
) -> None:
    slug = "tamper-" + tamper.__name__.strip("_").replace("_", "-")[:20]
    secret = {"token": "tamper-original"}
    bao_secrets.update({"tamper-original", "planted"})
    state = run(tenants.ensure_tenant(slug))
    run(tenants.route_connector(slug, "github", secret))
    root = root_in(openbao_server, state.namespace)
    assert run(tenants.verify_tenant(slug, connectors=["github"])) == ()

    tamper(root, state.mount, "connectors/github")
    problems = run(tenants.verify_tenant(slug, connectors=["github"]))
    assert problems == ("connector secret connectors/github was changed outside the operator",)

    restored = run(tenants.route_connector(slug, "github", secret))
    assert restored.changed
    assert _value(root, state.mount, "connectors/github") == secret
    assert run(tenants.verify_tenant(slug, connectors=["github"])) == ()
    versions = sorted(_meta(root, state.mount, "connectors/github")["versions"], key=int)
    again = run(tenants.route_connector(slug, "github", dict(secret)))
    assert (again.changed, again.version) == (False, restored.version)
    assert sorted(_meta(root, state.mount, "connectors/github")["versions"], key=int) == versions


def test_a_missing_connector_is_reported(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("gone-connector"))
    run(tenants.route_connector("gone-connector", "github", {"token": "tamper-original"}))
    root_in(openbao_server, state.namespace).adapter.delete(
        f"/v1/{state.mount}/metadata/connectors/github"
    )
    assert run(tenants.verify_tenant("gone-connector", connectors=["github"])) == (
        "connector secret connectors/github is missing",
    )


def test_the_tenant_role_grants_only_the_tenant_policy_briefly_to_one_audience(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("role-bounds"))
    root = root_in(openbao_server, state.namespace)
    path = f"/v1/auth/{tenants.platform.auth_mount}/role/{state.auth_role}"
    role = root.adapter.get(path)["data"]
    assert role["token_policies"] == [state.policy]
    assert role["token_no_default_policy"] is True
    assert (role["token_ttl"], role["token_max_ttl"]) == (3600, 14400)
    assert role["audience"] == "openbao"
    assert run(tenants.verify_tenant("role-bounds")) == ()

    # Each field changed behind the operator's back is drift, and ensure restores it.
    for field, value in (
        ("token_no_default_policy", False),
        ("token_max_ttl", 0),
        ("token_ttl", 7200),
        ("audience", ""),
    ):
        root.adapter.post(path, json={**role, field: value})
        problems = run(tenants.verify_tenant("role-bounds"))
        assert problems == (f"role {state.auth_role} differs ({field})",), field
        assert (
            f"role {state.auth_role} written" in run(tenants.ensure_tenant("role-bounds")).changed
        )
        assert root.adapter.get(path)["data"][field] == role[field]
    assert run(tenants.verify_tenant("role-bounds")) == ()


@pytest.mark.parametrize("slug", ["sys", "auth", "identity", "cubbyhole", "audit", "root"])
def test_slugs_reserved_by_openbao_are_refused_before_any_write(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, layout: str, slug: str
) -> None:
    if layout == "mount":
        pytest.skip("in the mount layout a slug only names a mount below tenants/")
    with pytest.raises(PermanentError) as refused:
        run(tenants.ensure_tenant(slug))
    assert refused.value.reason == "SlugReserved"
    assert "reserved" in refused.value.message
    run(tenants.ensure_tenant("not-reserved"))  # so the parent namespace has a listing
    listed = root_in(openbao_server, "tenants").adapter.list("/v1/sys/namespaces")
    assert f"{slug}/" not in listed["data"]["keys"]


def test_a_slug_naming_the_operators_own_policy_or_role_is_refused_before_any_write(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, layout: str
) -> None:
    if layout == "namespace":
        pytest.skip("in the namespace layout tenant policies and roles live in their namespace")
    ops = root_in(openbao_server, tenants.settings.bao_namespace)
    own = ops.adapter.get(f"/v1/sys/policies/acl/{OPERATOR_POLICY}")["data"]["policy"]
    slug = OPERATOR_POLICY.removeprefix("tenant-")
    for call in (tenants.ensure_tenant, tenants.verify_tenant, tenants.drop_tenant):
        with pytest.raises(PermanentError) as refused:
            run(call(slug))
        assert refused.value.reason == "SlugReserved"
        assert OPERATOR_POLICY in refused.value.message
    assert ops.adapter.get(f"/v1/sys/policies/acl/{OPERATOR_POLICY}")["data"]["policy"] == own
    with pytest.raises(hv.InvalidRequest):
        ops.adapter.get(f"/v1/sys/mounts/tenants/{slug}")
    # The engine holds it too: the operator's token cannot rewrite its own policy or role.
    operator = tenants.clients(tenants.platform.namespace)
    with pytest.raises(hv.Forbidden):
        operator.adapter.put(
            f"/v1/sys/policies/acl/{OPERATOR_POLICY}", json={"policy": 'path "*" {}'}
        )
    with pytest.raises(hv.Forbidden):
        operator.adapter.post(
            f"/v1/auth/{tenants.platform.auth_mount}/role/{OPERATOR_POLICY}",
            json={"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["x"]},
        )
    assert ops.adapter.get(f"/v1/sys/policies/acl/{OPERATOR_POLICY}")["data"]["policy"] == own


def test_a_connector_routed_before_content_versions_is_adopted_without_a_new_version(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    secret = {"token": "tamper-original"}
    state = run(tenants.ensure_tenant("legacy-route"))
    run(tenants.route_connector("legacy-route", "github", secret))
    root = root_in(openbao_server, state.namespace)
    custom = _meta(root, state.mount, "connectors/github")["custom_metadata"]
    legacy = {k: v for k, v in custom.items() if k != "content-version"}
    root.adapter.post(
        f"/v1/{state.mount}/metadata/connectors/github", json={"custom_metadata": legacy}
    )
    assert run(tenants.verify_tenant("legacy-route", connectors=["github"])) == ()
    again = run(tenants.route_connector("legacy-route", "github", dict(secret)))
    assert (again.changed, again.version) == (False, 1)
    meta = _meta(root, state.mount, "connectors/github")
    assert sorted(meta["versions"]) == ["1"]
    assert meta["custom_metadata"] == custom


def test_a_foreign_service_account_bound_to_the_tenant_role_is_reported_and_removed(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    """Who logs in as the tenant is the role's binding: binding another workload (another
    tenant's namespace, or an attacker's service account) behind the operator's back is
    drift, and the next ensure binds only the tenant's own accounts again."""
    state = run(tenants.ensure_tenant("role-binding"))
    root = root_in(openbao_server, state.namespace)
    path = f"/v1/auth/{tenants.platform.auth_mount}/role/{state.auth_role}"
    role = root.adapter.get(path)["data"]
    assert run(tenants.verify_tenant("role-binding")) == ()
    for field, value in (
        ("bound_service_account_names", [*role["bound_service_account_names"], "attacker"]),
        ("bound_service_account_namespaces", ["tenant-other"]),
    ):
        root.adapter.post(path, json={**role, field: value})
        problems = run(tenants.verify_tenant("role-binding"))
        assert problems == (f"role {state.auth_role} differs ({field})",), field
        run(tenants.ensure_tenant("role-binding"))
        assert root.adapter.get(path)["data"][field] == role[field]
    assert run(tenants.verify_tenant("role-binding")) == ()
