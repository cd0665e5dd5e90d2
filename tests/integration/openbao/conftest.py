"""OpenBao adapter fixtures on top of the session ``openbao_server`` (a real dev server).

Two operator set-ups share the server: the ``namespace`` layout at the root namespace and
the ``mount`` layout inside the namespace ``vault-oss`` (as on a server without
namespaces, but out of the way of ``tenants/``). Each operator acts with a token holding
only the shipped policy file (operator.hcl / operator-mount.hcl), never the root token.

Every log record of these tests is captured at DEBUG (root, hvac, urllib3) into
``bao_log_records``; secrets the tests use are collected in ``bao_secrets``; the last test
module checks that none of them ever reached a log line.
"""

import asyncio
import functools
import logging
import secrets
import tempfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import hvac
import pytest

from devenv.certs import write_kube_pki
from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.policies import POLICY_FILES
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.settings import Settings
from tests.logcapture import capture

T = TypeVar("T")
LAYOUTS = ("namespace", "mount")
MOUNT_LAYOUT_NAMESPACE = "vault-oss"
OPERATOR_POLICY = "tenant-operator"
#: The auth mounts' config names a Kubernetes API that is never asked here (no logins in
#: these tests; tests/e2e/openbao logs in against a real one); the reviewer JWT is fake.
KUBERNETES_HOST = "https://127.0.0.1:6443"
REVIEWER_JWT = "integration-reviewer-jwt-" + secrets.token_hex(8)


@functools.cache
def kubernetes_ca_pem() -> str:
    """A throwaway CA certificate (OpenBao parses the PEM when the config is written)."""
    return write_kube_pki(Path(tempfile.mkdtemp(prefix="bao-ca-")) / "pki").ca_cert.read_text()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def bao_log_records() -> Iterator[list[logging.LogRecord]]:
    with capture(("hvac", "urllib3")) as records:
        yield records


@pytest.fixture(scope="session")
def bao_secrets() -> set[str]:
    """Every token and secret value the OpenBao tests use (checked against the logs)."""
    return {REVIEWER_JWT}


@pytest.fixture(autouse=True)
def _capture_logs(bao_log_records: list[logging.LogRecord]) -> None:
    """Make every OpenBao test log into the session capture."""


@pytest.fixture(scope="session")
def bao_root(openbao_server: OpenBaoServer, bao_secrets: set[str]) -> hvac.Client:
    bao_secrets.add(openbao_server.root_token)
    return hvac.Client(url=openbao_server.addr, token=openbao_server.root_token)


def root_in(server: OpenBaoServer, namespace: str | None) -> hvac.Client:
    return hvac.Client(url=server.addr, token=server.root_token, namespace=namespace)


def settings_for(server: OpenBaoServer, layout: str) -> Settings:
    namespace = MOUNT_LAYOUT_NAMESPACE if layout == "mount" else None
    return Settings(
        bao_addr=server.addr,
        secrets_layout=layout,
        bao_namespace=namespace,
        bao_timeout_seconds=5.0,
        tenant_service_accounts=("tenant-app",),
        kubernetes_host=KUBERNETES_HOST,
        kubernetes_ca_cert=kubernetes_ca_pem(),
        kubernetes_token_reviewer_jwt=REVIEWER_JWT,
    )


def operator_token(server: OpenBaoServer, settings: Settings) -> str:
    """A token holding only the shipped operator policy, in the operator's namespace."""
    if settings.bao_namespace:
        root = root_in(server, None)
        try:
            root.adapter.get(f"/v1/sys/namespaces/{settings.bao_namespace}")
        except hvac.exceptions.InvalidPath:
            root.sys.create_namespace(settings.bao_namespace)
    client = root_in(server, settings.bao_namespace)
    client.sys.create_or_update_acl_policy(
        OPERATOR_POLICY, POLICY_FILES[settings.secrets_layout].read_text()
    )
    answer = client.auth.token.create(policies=[OPERATOR_POLICY], ttl="1h")
    return str(answer["auth"]["client_token"])


@pytest.fixture(scope="session")
def operator_tokens(openbao_server: OpenBaoServer, bao_secrets: set[str]) -> dict[str, str]:
    tokens = {
        layout: operator_token(openbao_server, settings_for(openbao_server, layout))
        for layout in LAYOUTS
    }
    bao_secrets.update(tokens.values())
    return tokens


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(openbao_server: OpenBaoServer, layout: str) -> Settings:
    return settings_for(openbao_server, layout)


@pytest.fixture
def tenants(settings: Settings, operator_tokens: dict[str, str]) -> Iterator[OpenBaoTenants]:
    adapter = OpenBaoTenants(settings, token=operator_tokens[settings.secrets_layout])
    yield adapter
    adapter.close()


def tenant_token(server: OpenBaoServer, tenants: OpenBaoTenants, slug: str) -> hvac.Client:
    """A client holding only tenant ``slug``'s policy, in the tenant's namespace."""
    state = run(tenants.ensure_tenant(slug))
    root = root_in(server, state.namespace)
    token = root.auth.token.create(policies=[state.policy], ttl="10m", no_default_policy=True)
    return hvac.Client(
        url=server.addr, token=token["auth"]["client_token"], namespace=state.namespace
    )
