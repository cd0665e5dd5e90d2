"""The operator logs in with its own Kubernetes-auth role (operator.hcl) and provisions.

An administrator (the root token here) prepares what the operator cannot do itself: its
OpenBao namespace, the Kubernetes auth mount it logs in through, that mount's config, the
operator policy from the shipped file and a role binding the operator's service account.
The operator then gets no token at all: only ``bao_auth_role`` and a JWT file.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hvac import exceptions as hv
from kubernetes import client

from devenv.kube import KubeApi
from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.client import BaoClients, KubernetesLogin
from tenant_operator.adapters.openbao.policies import POLICY_FILES
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.domain.errors import OperatorError, RetryableError
from tenant_operator.settings import Settings
from tests.e2e.openbao.conftest import (
    OPERATOR_ACCOUNT,
    OPERATOR_NAMESPACE,
    WORKLOAD_ACCOUNT,
    WORKLOAD_AUDIENCE,
    fresh_bao_namespace,
    kube_settings,
    login,
    new_slug,
    service_account_jwt,
)
from tests.support.openbao import LAYOUTS, root_in

pytestmark = pytest.mark.e2e

OPERATOR_POLICY = "tenant-operator"
OPERATOR_ROLE = "operator"  # not tenant-*: the mount layout's operator may write those


@dataclass
class OperatorSetup:
    settings: Settings
    jwt: str


def _prepare(
    server: OpenBaoServer,
    kube_api: KubeApi,
    core: client.CoreV1Api,
    ca_pem: str,
    reviewer: str,
    secrets: set[str],
    tmp_path: Path,
    *,
    layout: str,
    ttl: str = "1h",
) -> OperatorSetup:
    """The administrator's part, then settings that hold a JWT path and no token."""
    namespace = fresh_bao_namespace(server, f"e2e-op-{layout}")
    admin = root_in(server, namespace)
    admin.adapter.post("/v1/sys/auth/kubernetes", json={"type": "kubernetes"})
    admin.adapter.post(
        "/v1/auth/kubernetes/config",
        json={
            "kubernetes_host": kube_api.url,
            "kubernetes_ca_cert": ca_pem,
            "token_reviewer_jwt": reviewer,
        },
    )
    admin.sys.create_or_update_acl_policy(OPERATOR_POLICY, POLICY_FILES[layout].read_text())
    admin.adapter.post(
        f"/v1/auth/kubernetes/role/{OPERATOR_ROLE}",
        json={
            "bound_service_account_names": [OPERATOR_ACCOUNT],
            "bound_service_account_namespaces": [OPERATOR_NAMESPACE],
            "token_policies": [OPERATOR_POLICY],
            "token_ttl": ttl,
            "token_max_ttl": ttl,
        },
    )
    jwt = service_account_jwt(core, secrets, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT)
    jwt_file = tmp_path / "token"
    jwt_file.write_text(jwt)
    settings = kube_settings(
        server,
        kube_api,
        ca_pem,
        reviewer,
        layout=layout,
        bao_namespace=namespace,
        bao_auth_role=OPERATOR_ROLE,
        bao_auth_jwt_path=jwt_file,
    )
    return OperatorSetup(settings, jwt)


Prepare = Callable[..., OperatorSetup]


@pytest.fixture
def prepare(
    openbao_server: OpenBaoServer,
    kube_api: KubeApi,
    core: client.CoreV1Api,
    kube_ca_pem: str,
    reviewer_jwt: str,
    e2e_bao_secrets: set[str],
    bao_root_token: str,
    tmp_path: Path,
) -> "Prepare":
    def make(layout: str, ttl: str = "1h") -> OperatorSetup:
        return _prepare(
            openbao_server,
            kube_api,
            core,
            kube_ca_pem,
            reviewer_jwt,
            e2e_bao_secrets,
            tmp_path,
            layout=layout,
            ttl=ttl,
        )

    return make


def _login_of(tenants: OpenBaoTenants) -> KubernetesLogin:
    assert isinstance(tenants.clients, BaoClients)
    assert tenants.clients.login is not None
    return tenants.clients.login


def _current_token(login_: KubernetesLogin, secrets: set[str]) -> str:
    token = login_.token()
    secrets.add(token)
    return token


@pytest.mark.parametrize("layout", LAYOUTS)
def test_operator_logs_in_with_kubernetes_auth_and_provisions_a_tenant(
    openbao_server: OpenBaoServer,
    core: client.CoreV1Api,
    prepare: Prepare,
    e2e_bao_secrets: set[str],
    layout: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = prepare(layout)
    assert setup.settings.bao_token is None
    tenants = OpenBaoTenants(setup.settings)
    slug = new_slug("op")
    account = (f"tenant-{slug}", WORKLOAD_ACCOUNT)
    e2e_bao_secrets.add("op-routed-value")

    state = asyncio.run(tenants.ensure_tenant(slug, service_accounts=[account]))
    asyncio.run(tenants.route_connector(slug, "github", {"token": "op-routed-value"}))
    assert asyncio.run(tenants.verify_tenant(slug, service_accounts=[account])) == ()
    login_ = _login_of(tenants)
    assert login_.logins == 1  # one login served every request of the provisioning
    token = _current_token(login_, e2e_bao_secrets)
    who = root_in(openbao_server, setup.settings.bao_namespace).adapter.post(
        "/v1/auth/token/lookup", json={"token": token}
    )["data"]
    assert who["policies"] == ["default", OPERATOR_POLICY]
    assert who["meta"]["service_account_name"] == OPERATOR_ACCOUNT

    # The tenant's workload logs in through the mount the operator configured.
    jwt = service_account_jwt(core, e2e_bao_secrets, *account, audiences=[WORKLOAD_AUDIENCE])
    workload = login(
        openbao_server, e2e_bao_secrets, state.namespace, "kubernetes", state.auth_role, jwt
    )
    value = workload.adapter.get(f"/v1/{state.mount}/data/connectors/github")["data"]["data"]
    assert value == {"token": "op-routed-value"}

    # The operator's own login cannot read the value back: denied, after one fresh login.
    with pytest.raises(hv.Forbidden):
        tenants.clients(state.namespace).adapter.get(f"/v1/{state.mount}/data/connectors/github")
    assert login_.logins == 2

    # Neither the JWT nor a token reaches a log line, a repr or an error.
    texts = [r.getMessage() for r in caplog.records] + [repr(tenants), repr(tenants.clients)]
    assert any("logged in to OpenBao with Kubernetes-auth role" in t for t in texts)
    for secret in (setup.jwt, token, _current_token(login_, e2e_bao_secrets)):
        assert not any(secret in t for t in texts)
    asyncio.run(tenants.drop_tenant(slug))
    tenants.close()


def test_operator_logs_in_again_when_its_token_expires(prepare: Prepare) -> None:
    setup = prepare("namespace", ttl="3s")
    tenants = OpenBaoTenants(setup.settings)
    slug = new_slug("ex")
    asyncio.run(tenants.ensure_tenant(slug))
    assert _login_of(tenants).logins == 1
    time.sleep(3.5)  # past the TTL: the old token is dead
    asyncio.run(tenants.route_connector(slug, "github", {"token": "after-expiry"}))
    assert _login_of(tenants).logins == 2
    tenants.close()


def test_operator_logs_in_again_once_when_its_token_is_revoked(
    openbao_server: OpenBaoServer, prepare: Prepare
) -> None:
    setup = prepare("mount")
    tenants = OpenBaoTenants(setup.settings)
    slug = new_slug("rv")
    asyncio.run(tenants.ensure_tenant(slug))
    assert _login_of(tenants).logins == 1
    # Revoke every token issued through the login mount (sudo; the administrator).
    root_in(openbao_server, setup.settings.bao_namespace).adapter.put(
        "/v1/sys/leases/revoke-prefix/auth/kubernetes/login"
    )
    state = asyncio.run(tenants.ensure_tenant(slug))
    asyncio.run(tenants.route_connector(slug, "github", {"token": "after-revoke"}))
    assert state.changed == ()
    assert _login_of(tenants).logins == 2  # one 403, one login, retried; then fine
    tenants.close()


def test_a_refused_login_is_retryable_and_names_no_secret(
    core: client.CoreV1Api, prepare: Prepare, e2e_bao_secrets: set[str], tmp_path: Path
) -> None:
    setup = prepare("namespace")
    # A real JWT, but of a service account the operator's role does not bind.
    stranger = service_account_jwt(core, e2e_bao_secrets, "not-the-operator", OPERATOR_ACCOUNT)
    stranger_file = tmp_path / "stranger"
    stranger_file.write_text(stranger)
    for path, contains in (
        (stranger_file, "refused the operator's Kubernetes-auth login"),
        (tmp_path / "missing", "cannot read the operator's service-account token"),
    ):
        settings = setup.settings.model_copy(update={"bao_auth_jwt_path": path})
        tenants = OpenBaoTenants(settings)
        with pytest.raises(RetryableError) as refused:
            asyncio.run(tenants.ensure_tenant(new_slug("no")))
        assert refused.value.reason == "OpenBaoLoginFailed"
        assert contains in refused.value.message
        assert "operator.hcl" in refused.value.message or "bao_auth_jwt_path" in str(
            refused.value.message
        )
        for secret in (stranger, setup.jwt):
            assert secret not in str(refused.value) and secret not in repr(refused.value)
        assert isinstance(refused.value, OperatorError)
        tenants.close()
