"""Clients, settings and tokens on the session's real OpenBao dev server.

Two operator set-ups share the server: the ``namespace`` layout at the root namespace and
the ``mount`` layout inside the namespace ``vault-oss`` (as on a server without
namespaces, but out of the way of ``tenants/``). An operator acts with a token holding
only the shipped policy file (operator.hcl / operator-mount.hcl), never the root token.
"""

import asyncio
import functools
import secrets
import tempfile
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import hvac

from devenv.certs import write_kube_pki
from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.policies import POLICY_FILES
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.settings import Settings

T = TypeVar("T")
LAYOUTS = ("namespace", "mount")
MOUNT_LAYOUT_NAMESPACE = "vault-oss"
OPERATOR_POLICY = "tenant-operator"
#: The auth mounts' config names a Kubernetes API that is never asked here (no logins in
#: these tests; tests/e2e/openbao logs in against a real one); the reviewer JWT is fake.
KUBERNETES_HOST = "https://127.0.0.1:6443"
REVIEWER_JWT = "integration-reviewer-jwt-" + secrets.token_hex(8)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Drive one call of the async adapter from a synchronous test."""
    return asyncio.run(coro)


@functools.cache
def kubernetes_ca_pem() -> str:
    """A throwaway CA certificate (OpenBao parses the PEM when the config is written)."""
    return write_kube_pki(Path(tempfile.mkdtemp(prefix="bao-ca-")) / "pki").ca_cert.read_text()


def root_in(server: OpenBaoServer, namespace: str | None) -> hvac.Client:
    return hvac.Client(
        url=server.addr, verify=str(server.ca_cert), token=server.root_token, namespace=namespace
    )


def settings_for(server: OpenBaoServer, layout: str) -> Settings:
    namespace = MOUNT_LAYOUT_NAMESPACE if layout == "mount" else None
    return Settings(
        bao_addr=server.addr,
        bao_cacert=str(server.ca_cert),
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


def tenant_token(server: OpenBaoServer, tenants: OpenBaoTenants, slug: str) -> hvac.Client:
    """A client holding only tenant ``slug``'s policy, in the tenant's namespace."""
    state = run(tenants.ensure_tenant(slug))
    root = root_in(server, state.namespace)
    token = root.auth.token.create(policies=[state.policy], ttl="10m", no_default_policy=True)
    return hvac.Client(
        url=server.addr,
        verify=str(server.ca_cert),
        token=token["auth"]["client_token"],
        namespace=state.namespace,
    )


@contextmanager
def operator_in(server: OpenBaoServer, namespace: str) -> Iterator[OpenBaoTenants]:
    """The operator's adapter (namespace layout) in OpenBao namespace ``namespace``.

    A namespace of a test module's own, so its audit mirror starts fresh; the platform
    objects are ensured first, and the adapter is closed after.
    """
    settings = settings_for(server, "namespace").model_copy(update={"bao_namespace": namespace})
    adapter = OpenBaoTenants(settings, token=operator_token(server, settings))
    try:
        run(adapter.ensure_platform())
        yield adapter
    finally:
        adapter.close()
