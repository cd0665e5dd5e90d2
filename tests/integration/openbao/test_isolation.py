"""Who can reach what: tenant tokens stay in their place; the operator cannot read values."""

import hvac
import pytest
from hvac import exceptions as hv

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tests.support.openbao import root_in, run, tenant_token

pytestmark = pytest.mark.integration


def _read(client: hvac.Client, mount: str, key: str) -> dict[str, str]:
    answer = client.adapter.get(f"/v1/{mount}/data/{key}")
    return dict(answer["data"]["data"])


def _write(client: hvac.Client, mount: str, key: str, data: dict[str, str]) -> None:
    client.adapter.post(f"/v1/{mount}/data/{key}", json={"data": data})


def test_tenant_token_reaches_its_own_secrets_and_not_another_tenants(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, bao_secrets: set[str]
) -> None:
    a = tenant_token(openbao_server, tenants, "iso-a")
    b = tenant_token(openbao_server, tenants, "iso-b")
    bao_secrets.update({a.token, b.token, "a-github-token", "b-github-token", "a-own-value"})
    a_state = run(tenants.ensure_tenant("iso-a"))
    b_state = run(tenants.ensure_tenant("iso-b"))
    run(tenants.route_connector("iso-a", "github", {"token": "a-github-token"}))
    run(tenants.route_connector("iso-b", "github", {"token": "b-github-token"}))

    # A reads its own connector secrets and writes its own keys (connectors are read-only
    # to it: tests/integration/openbao/test_boundary.py).
    assert _read(a, a_state.mount, "connectors/github") == {"token": "a-github-token"}
    _write(a, a_state.mount, "app/own", {"token": "a-own-value"})
    assert _read(a, a_state.mount, "app/own") == {"token": "a-own-value"}

    # A is denied on B however B's mount is addressed: through B's namespace, or as a
    # path below the parent or root namespace (namespace layout), or by name (mount layout).
    def as_a(namespace: str | None) -> hvac.Client:
        return hvac.Client(
            url=openbao_server.addr,
            verify=str(openbao_server.ca_cert),
            token=a.token,
            namespace=namespace,
        )

    routes = [(as_a(b_state.namespace), b_state.mount)]
    if b_state.namespace == "tenants/iso-b":
        routes += [(as_a(None), "tenants/iso-b/kv"), (as_a("tenants"), "iso-b/kv")]
    for client, mount in routes:
        with pytest.raises(hv.Forbidden):
            _read(client, mount, "connectors/github")
        with pytest.raises(hv.Forbidden):
            _write(client, mount, "connectors/github", {"token": "stolen"})
    # ... and on everything besides its mount (policies, transit, other mounts).
    with pytest.raises(hv.Forbidden):
        a.adapter.get(f"/v1/sys/policies/acl/{a_state.policy}")
    # B still has its own value.
    assert _read(b, b_state.mount, "connectors/github") == {"token": "b-github-token"}


def test_operator_token_provisions_but_cannot_read_values(
    openbao_server: OpenBaoServer,
    tenants: OpenBaoTenants,
    operator_tokens: dict[str, str],
    bao_secrets: set[str],
) -> None:
    bao_secrets.update({"op-written-value", "app-written-value", "op-invite"})
    tenant = tenant_token(openbao_server, tenants, "op-blind")
    bao_secrets.add(tenant.token)
    state = run(tenants.ensure_tenant("op-blind"))
    run(tenants.route_connector("op-blind", "github", {"token": "op-written-value"}))
    run(tenants.store_invite("op-blind", "op-invite"))
    _write(tenant, state.mount, "app/database", {"password": "app-written-value"})

    operator = hvac.Client(
        url=openbao_server.addr,
        verify=str(openbao_server.ca_cert),
        token=operator_tokens[tenants.settings.secrets_layout],
        namespace=state.namespace,
    )
    for key in ("connectors/github", "invites/owner", "app/database"):
        with pytest.raises(hv.Forbidden):
            _read(operator, state.mount, key)
    with pytest.raises(hv.Forbidden):
        operator.adapter.get(f"/v1/{state.mount}/metadata/app/database")
    with pytest.raises(hv.Forbidden):
        _write(operator, state.mount, "app/database", {"password": "overwritten"})
    # No transit use, no token minting, no other policies.
    transit = hvac.Client(
        url=openbao_server.addr,
        verify=str(openbao_server.ca_cert),
        token=operator_tokens[tenants.settings.secrets_layout],
        namespace=tenants.platform.namespace,
    )
    with pytest.raises(hv.Forbidden):
        transit.adapter.post(
            f"/v1/transit/encrypt/{state.transit_key}", json={"plaintext": "aGVsbG8="}
        )
    with pytest.raises(hv.Forbidden):
        transit.adapter.post("/v1/auth/token/create", json={"policies": ["default"]})
    with pytest.raises(hv.Forbidden):
        transit.adapter.get("/v1/sys/policies/acl/default")
    # Metadata (versions and content hash) is readable: that is how routing deduplicates.
    meta = operator.adapter.get(f"/v1/{state.mount}/metadata/connectors/github")["data"]
    assert meta["current_version"] == 1
    assert "op-written-value" not in str(meta)
    root = root_in(openbao_server, state.namespace)
    assert _read(root, state.mount, "invites/owner") == {"token": "op-invite"}
