"""Tenant workloads log in with their service-account JWT and reach only their own secrets.

The adapter (holding only the shipped operator policy) writes the auth mount's config;
OpenBao then checks each login with a TokenReview against the real kube-apiserver.
"""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import hvac
import pytest
from hvac import exceptions as hv
from kubernetes import client

from devenv.kube import KubeApi
from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.settings import Settings
from tests.e2e.openbao.conftest import (
    WORKLOAD_ACCOUNT,
    WORKLOAD_AUDIENCE,
    fresh_bao_namespace,
    kube_settings,
    login,
    new_slug,
    service_account_jwt,
)
from tests.support.openbao import LAYOUTS, operator_token, root_in

pytestmark = pytest.mark.e2e


def _read(bao: hvac.Client, mount: str, key: str) -> dict[str, str]:
    return dict(bao.adapter.get(f"/v1/{mount}/data/{key}")["data"]["data"])


def _write(bao: hvac.Client, mount: str, key: str, data: dict[str, str]) -> None:
    bao.adapter.post(f"/v1/{mount}/data/{key}", json={"data": data})


@pytest.fixture(params=LAYOUTS)
def settings(
    request: pytest.FixtureRequest,
    openbao_server: OpenBaoServer,
    kube_api: KubeApi,
    kube_ca_pem: str,
    reviewer_jwt: str,
    bao_root_token: str,
) -> Settings:
    layout = str(request.param)
    return kube_settings(
        openbao_server,
        kube_api,
        kube_ca_pem,
        reviewer_jwt,
        layout=layout,
        bao_namespace=fresh_bao_namespace(openbao_server, f"e2e-{layout}"),
    )


@pytest.fixture
def tenants(
    openbao_server: OpenBaoServer, settings: Settings, e2e_bao_secrets: set[str]
) -> Iterator[OpenBaoTenants]:
    """The adapter with a token holding only the shipped operator policy."""
    token = operator_token(openbao_server, settings)
    e2e_bao_secrets.add(token)
    adapter = OpenBaoTenants(settings, token=token)
    yield adapter
    adapter.close()


def _workload(slug: str) -> tuple[str, str]:
    return (f"tenant-{slug}", WORKLOAD_ACCOUNT)


def _workload_jwt(core: client.CoreV1Api, secrets: set[str], account: tuple[str, str]) -> str:
    """The service-account token a tenant workload requests: for the OpenBao audience."""
    return service_account_jwt(core, secrets, *account, audiences=[WORKLOAD_AUDIENCE])


def test_workloads_reach_their_own_connector_secrets_and_are_denied_on_others(
    openbao_server: OpenBaoServer,
    kube_api: KubeApi,
    core: client.CoreV1Api,
    tenants: OpenBaoTenants,
    e2e_bao_secrets: set[str],
) -> None:
    slug_a, slug_b = new_slug("wa"), new_slug("wb")
    sa_a, sa_b = _workload(slug_a), _workload(slug_b)
    first = asyncio.run(tenants.ensure_tenant(slug_a, service_accounts=[sa_a]))
    state_b = asyncio.run(tenants.ensure_tenant(slug_b, service_accounts=[sa_b]))
    assert "auth config of kubernetes written" in first.changed
    again = asyncio.run(tenants.ensure_tenant(slug_a, service_accounts=[sa_a]))
    assert again.changed == ()  # read-compare-write: nothing differs, nothing written

    # The config OpenBao holds points at the real apiserver; the reviewer JWT stays unread.
    config = root_in(openbao_server, first.namespace).adapter.get(
        f"/v1/auth/{tenants.platform.auth_mount}/config"
    )["data"]
    assert config["kubernetes_host"] == kube_api.url
    assert config["token_reviewer_jwt_set"] is True
    assert "token_reviewer_jwt" not in config

    e2e_bao_secrets.update({"a-github-token", "b-github-token", "a-rotated"})
    asyncio.run(tenants.route_connector(slug_a, "github", {"token": "a-github-token"}))
    asyncio.run(tenants.route_connector(slug_b, "github", {"token": "b-github-token"}))

    jwt_a = _workload_jwt(core, e2e_bao_secrets, sa_a)
    jwt_b = _workload_jwt(core, e2e_bao_secrets, sa_b)
    a = login(
        openbao_server, e2e_bao_secrets, first.namespace, "kubernetes", first.auth_role, jwt_a
    )
    b = login(
        openbao_server, e2e_bao_secrets, state_b.namespace, "kubernetes", state_b.auth_role, jwt_b
    )

    # A reads its own connector secrets (read-only to it) and writes its own keys.
    assert _read(a, first.mount, "connectors/github") == {"token": "a-github-token"}
    with pytest.raises(hv.Forbidden):
        _write(a, first.mount, "connectors/github", {"token": "a-rotated"})
    assert _read(a, first.mount, "connectors/github") == {"token": "a-github-token"}
    _write(a, first.mount, "app/own", {"token": "a-rotated"})
    assert _read(a, first.mount, "app/own") == {"token": "a-rotated"}

    # A is denied on B's secrets, through B's namespace or however B's mount is named.
    def as_a(namespace: str | None) -> hvac.Client:
        return hvac.Client(
            url=openbao_server.addr,
            verify=str(openbao_server.ca_cert),
            token=a.token,
            namespace=namespace,
        )

    routes = [(as_a(state_b.namespace), state_b.mount)]
    if tenants.settings.secrets_layout == "namespace":
        assert state_b.namespace is not None
        routes.append((as_a(tenants.settings.bao_namespace), f"tenants/{slug_b}/kv"))
    for bao, mount in routes:
        with pytest.raises(hv.Forbidden):
            _read(bao, mount, "connectors/github")
        with pytest.raises(hv.Forbidden):
            _write(bao, mount, "connectors/github", {"token": "stolen"})
    assert _read(b, state_b.mount, "connectors/github") == {"token": "b-github-token"}

    # A's service account cannot log in with B's role, nor B's with A's.
    for namespace, role, jwt in (
        (state_b.namespace, state_b.auth_role, jwt_a),
        (first.namespace, first.auth_role, jwt_b),
    ):
        with pytest.raises((hv.Forbidden, hv.InvalidRequest)):
            login(openbao_server, e2e_bao_secrets, namespace, "kubernetes", role, jwt)

    # The apiserver really is asked: once A's service account is gone, its JWT is refused
    # (after at most the apiserver's 10 s token-authentication cache; one layout suffices).
    if tenants.settings.secrets_layout == "mount":
        return
    core.delete_namespaced_service_account(sa_a[1], sa_a[0])
    deadline = time.monotonic() + 20
    while True:
        try:
            login(
                openbao_server,
                e2e_bao_secrets,
                first.namespace,
                "kubernetes",
                first.auth_role,
                jwt_a,
            )
        except (hv.Forbidden, hv.InvalidRequest):
            break
        assert time.monotonic() < deadline, "a JWT of a deleted service account still logs in"
        time.sleep(0.2)


def test_config_drift_is_reported_and_repaired(
    openbao_server: OpenBaoServer,
    kube_api: KubeApi,
    core: client.CoreV1Api,
    tenants: OpenBaoTenants,
    e2e_bao_secrets: set[str],
) -> None:
    slug = new_slug("wd")
    account = _workload(slug)
    state = asyncio.run(tenants.ensure_tenant(slug, service_accounts=[account]))
    assert asyncio.run(tenants.verify_tenant(slug, service_accounts=[account])) == ()
    mount = tenants.platform.auth_mount
    root = root_in(openbao_server, state.namespace)
    config: dict[str, Any] = root.adapter.get(f"/v1/auth/{mount}/config")["data"]
    root.adapter.post(
        f"/v1/auth/{mount}/config",
        json={
            "kubernetes_host": "https://127.0.0.1:1",
            "kubernetes_ca_cert": config["kubernetes_ca_cert"],
        },
    )
    jwt = _workload_jwt(core, e2e_bao_secrets, account)
    with pytest.raises(hv.VaultError):  # OpenBao now asks a server that is not there
        login(openbao_server, e2e_bao_secrets, state.namespace, mount, state.auth_role, jwt)

    problems = asyncio.run(tenants.verify_tenant(slug, service_accounts=[account]))
    assert problems == (
        f"auth config of {mount} differs (kubernetes_host, token_reviewer_jwt_set)",
    )
    repaired = asyncio.run(tenants.ensure_tenant(slug, service_accounts=[account]))
    assert f"auth config of {mount} written" in repaired.changed
    assert asyncio.run(tenants.verify_tenant(slug, service_accounts=[account])) == ()
    bao = login(openbao_server, e2e_bao_secrets, state.namespace, mount, state.auth_role, jwt)
    assert bao.adapter.get("/v1/auth/token/lookup-self")["data"]["policies"] == [state.policy]


def test_a_workload_token_holds_only_the_tenant_policy_for_a_bounded_time_and_one_audience(
    openbao_server: OpenBaoServer,
    core: client.CoreV1Api,
    tenants: OpenBaoTenants,
    e2e_bao_secrets: set[str],
) -> None:
    slug = new_slug("wt")
    account = _workload(slug)
    state = asyncio.run(tenants.ensure_tenant(slug, service_accounts=[account]))
    mount = tenants.platform.auth_mount

    jwt = _workload_jwt(core, e2e_bao_secrets, account)
    bao = login(openbao_server, e2e_bao_secrets, state.namespace, mount, state.auth_role, jwt)
    me = bao.adapter.get("/v1/auth/token/lookup-self")["data"]
    assert me["policies"] == [state.policy]  # no "default" policy
    assert 0 < me["ttl"] <= tenants.settings.tenant_token_ttl_seconds
    # Renewal stops at the role's maximum, however often the workload asks.
    renewed = bao.adapter.post("/v1/auth/token/renew-self", json={"increment": "240h"})
    assert renewed["auth"]["lease_duration"] <= tenants.settings.tenant_token_max_ttl_seconds
    # The default policy's paths are not there: cubbyhole, response wrapping.
    for path in ("/v1/cubbyhole/x", "/v1/sys/wrapping/wrap"):
        with pytest.raises(hv.Forbidden):
            bao.adapter.post(path, json={"x": "y", "token": "x"})

    # A token of the same service account for another audience does not log in: neither
    # the apiserver's own (what any pod has mounted by default) nor a made-up one.
    for audiences in ([], ["vault"], ["https://kubernetes.default.svc"]):
        other = service_account_jwt(core, e2e_bao_secrets, *account, audiences=audiences)
        with pytest.raises((hv.Forbidden, hv.InvalidRequest)):
            login(openbao_server, e2e_bao_secrets, state.namespace, mount, state.auth_role, other)
