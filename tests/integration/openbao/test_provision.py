"""ensure / verify / drop against a real OpenBao, holding only the operator's policy."""

import logging

import hvac
import pytest
from hvac import exceptions as hv

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tests.support.openbao import (
    KUBERNETES_HOST,
    REVIEWER_JWT,
    kubernetes_ca_pem,
    root_in,
    run,
)

pytestmark = pytest.mark.integration


def test_ensure_twice_writes_once(tenants: OpenBaoTenants, layout: str) -> None:
    first = run(tenants.ensure_tenant("ensure-twice"))
    second = run(tenants.ensure_tenant("ensure-twice"))
    assert any("policy" in c for c in first.changed)
    assert any("transit key" in c for c in first.changed)
    assert second.changed == ()
    assert second.transit_key == "tenant-ensure-twice"
    if layout == "namespace":
        assert (second.namespace, second.mount, second.policy, second.auth_role) == (
            "tenants/ensure-twice",
            "kv",
            "tenant",
            "tenant",
        )
    else:
        assert (second.namespace, second.mount, second.policy, second.auth_role) == (
            "vault-oss",
            "tenants/ensure-twice",
            "tenant-ensure-twice",
            "tenant-ensure-twice",
        )


def test_role_binds_service_accounts_to_the_tenant_policy(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("bound", service_accounts=[("acme-apps", "worker")]))
    root = root_in(openbao_server, state.namespace)
    role = root.adapter.get(f"/v1/auth/kubernetes/role/{state.auth_role}")["data"]
    assert role["bound_service_account_names"] == ["worker"]
    assert role["bound_service_account_namespaces"] == ["acme-apps"]
    assert role["token_policies"] == [state.policy]
    again = run(tenants.ensure_tenant("bound", service_accounts=[("acme-apps", "worker")]))
    assert again.changed == ()
    changed = run(tenants.ensure_tenant("bound", service_accounts=[("acme-apps", "web")]))
    assert changed.changed == (f"role {state.auth_role} written",)


def test_verify_finds_drift_and_ensure_repairs_it(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("drifty"))
    assert run(tenants.verify_tenant("drifty")) == ()
    root = root_in(openbao_server, state.namespace)
    root.sys.create_or_update_acl_policy(state.policy, 'path "*" { capabilities = ["read"] }')
    problems = run(tenants.verify_tenant("drifty"))
    assert problems == (f"policy {state.policy} differs from the rendered policy",)
    repaired = run(tenants.ensure_tenant("drifty"))
    assert repaired.changed == (f"policy {state.policy} written",)
    assert run(tenants.verify_tenant("drifty")) == ()


def _gone(client: hvac.Client, path: str) -> bool:
    try:
        client.adapter.get(f"/v1/{path}")
    except (hv.InvalidPath, hv.InvalidRequest):
        return True
    return False


def test_erasure_removes_everything_and_repeats_as_a_no_op(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, layout: str
) -> None:
    state = run(tenants.ensure_tenant("erased"))
    run(tenants.route_connector("erased", "github", {"token": "to-be-erased"}))
    run(tenants.store_invite("erased", "invite-to-be-erased"))
    assert run(tenants.drop_tenant("erased")) is True

    ops = root_in(openbao_server, tenants.platform.namespace)
    assert _gone(ops, f"transit/keys/{state.transit_key}")
    if layout == "namespace":
        parent = root_in(openbao_server, "tenants")
        assert _gone(parent, "sys/namespaces/erased")
    else:
        assert _gone(ops, f"sys/mounts/{state.mount}")
        assert _gone(ops, f"sys/policies/acl/{state.policy}")
        assert _gone(ops, f"auth/kubernetes/role/{state.auth_role}")
        assert _gone(ops, f"{state.mount}/data/connectors/github")
    assert run(tenants.verify_tenant("erased")) != ()
    assert run(tenants.drop_tenant("erased")) is False
    assert run(tenants.drop_tenant("never-existed")) is False


def test_reprovision_after_erasure_starts_clean(tenants: OpenBaoTenants) -> None:
    run(tenants.ensure_tenant("phoenix"))
    first = run(tenants.route_connector("phoenix", "github", {"token": "phoenix-one"}))
    run(tenants.drop_tenant("phoenix"))
    run(tenants.ensure_tenant("phoenix"))
    again = run(tenants.route_connector("phoenix", "github", {"token": "phoenix-one"}))
    assert (first.version, again.version, again.changed) == (1, 1, True)


def test_audit_heads_round_trip(tenants: OpenBaoTenants) -> None:
    assert run(tenants.read_audit_head("audited")) is None
    run(tenants.mirror_audit_head("audited", 7, "sha256:" + "a" * 64))
    run(tenants.mirror_audit_head(None, 3, "sha256:" + "b" * 64))
    assert run(tenants.read_audit_head("audited")) == (7, "sha256:" + "a" * 64)
    assert run(tenants.read_audit_head(None)) == (3, "sha256:" + "b" * 64)


def test_auth_config_is_written_once_by_the_least_privilege_operator(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, layout: str
) -> None:
    first = run(tenants.ensure_tenant("configured"))
    assert run(tenants.ensure_tenant("configured")).changed == ()
    state = run(tenants.ensure_tenant("configured"))
    config = root_in(openbao_server, state.namespace).adapter.get("/v1/auth/kubernetes/config")[
        "data"
    ]
    assert config["kubernetes_host"] == KUBERNETES_HOST
    assert config["kubernetes_ca_cert"] == kubernetes_ca_pem()
    assert config["token_reviewer_jwt_set"] is True
    assert REVIEWER_JWT not in str(config)
    if layout == "namespace":
        assert "auth config of kubernetes written" in first.changed
    # A new operator process cannot read the reviewer JWT back: it writes the config once.
    fresh = OpenBaoTenants(tenants.settings, tenants.clients)
    assert "auth config of kubernetes written" in run(fresh.ensure_tenant("configured")).changed
    assert run(fresh.ensure_tenant("configured")).changed == ()


def test_without_a_ca_outside_a_pod_provisioning_warns_but_succeeds(
    openbao_server: OpenBaoServer,
    tenants: OpenBaoTenants,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = tenants.settings.model_copy(update={"kubernetes_ca_cert": None})
    adapter = OpenBaoTenants(settings, tenants.clients)
    with caplog.at_level(logging.WARNING, logger="tenant_operator"):
        state = run(adapter.ensure_tenant("no-ca"))
        run(adapter.ensure_tenant("no-ca"))
    assert state.policy in ("tenant", "tenant-no-ca")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per mount, not per reconcile
    assert "kubernetes_ca_cert" in warnings[0] and "cannot log in" in warnings[0]
    assert run(adapter.verify_tenant("no-ca")) == ()
