"""Kubernetes auth end to end: the real kube-apiserver vouches for tokens to a real OpenBao.

OpenBao runs outside any pod, so it gets what a pod would have had: the apiserver's URL
(``kube_api.url``), the CA of the launcher's PKI (named in the kubeconfig) and a token
reviewer, the JWT of a service account bound to ``system:auth-delegator`` (allowed to
create TokenReviews). No controller-manager runs: namespaces and service accounts are
created here, and JWTs come from the TokenRequest API.

Every log record of these tests is collected; ``e2e_bao_secrets`` gathers the JWTs and
tokens used, and each test module checks that none of them reached a log line.
"""

import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import hvac
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devenv.kube import KubeApi
from devenv.openbao import OpenBaoServer
from tenant_operator.settings import Settings
from tests.support.logs import capture, record_text
from tests.support.openbao import root_in

REVIEWER_NAMESPACE = "openbao-system"
REVIEWER_ACCOUNT = "openbao-token-reviewer"
WORKLOAD_ACCOUNT = "tenant-app"
#: The audience tenant workloads request their service-account token for (the default of
#: settings.tenant_token_audience, required by the tenant's Kubernetes-auth role).
WORKLOAD_AUDIENCE = "openbao"
OPERATOR_NAMESPACE = "tenant-operator-system"
OPERATOR_ACCOUNT = "tenant-operator"


@pytest.fixture(scope="session")
def e2e_bao_log_records() -> Iterator[list[logging.LogRecord]]:
    with capture(("hvac", "urllib3", "kubernetes", "tenant_operator")) as records:
        yield records


@pytest.fixture(scope="session")
def e2e_bao_secrets() -> set[str]:
    """Every JWT and OpenBao token these tests use (checked against the logs)."""
    return set()


@pytest.fixture(autouse=True)
def _no_secret_in_logs(
    e2e_bao_log_records: list[logging.LogRecord], e2e_bao_secrets: set[str]
) -> Iterator[None]:
    """After each test: no JWT or token it used appears in any log record so far."""
    yield
    texts = [record_text(r) for r in e2e_bao_log_records]
    assert texts, "the log capture saw nothing"
    leaked = [s[:6] + "..." for s in e2e_bao_secrets if any(s in t for t in texts)]
    assert leaked == [], f"secrets in log lines: {leaked}"


@pytest.fixture(scope="session")
def core(api_client: Any) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def kube_ca_pem(kube_api: KubeApi) -> str:
    """The CA certificate the apiserver's serving certificate chains to (launcher PKI)."""
    config = json.loads(kube_api.kubeconfig.read_text())
    path = config["clusters"][0]["cluster"]["certificate-authority"]
    return Path(path).read_text()


def ensure_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except ApiException as exc:
        if exc.status != 409:
            raise


def ensure_service_account(core: client.CoreV1Api, namespace: str, name: str) -> None:
    ensure_namespace(core, namespace)
    try:
        core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
        )
    except ApiException as exc:
        if exc.status != 409:
            raise


def service_account_jwt(
    core: client.CoreV1Api,
    secrets: set[str],
    namespace: str,
    name: str,
    *,
    seconds: int = 3600,
    audiences: Sequence[str] = (),
) -> str:
    """A bound service-account JWT from the TokenRequest API (the account is created).

    No ``audiences``: the apiserver's own (what the reviewer and the operator's login use);
    tenant workloads ask for ``WORKLOAD_AUDIENCE``, which the tenant role requires.
    """
    ensure_service_account(core, namespace, name)
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=list(audiences), expiration_seconds=seconds)
    )
    answer = core.create_namespaced_service_account_token(name, namespace, request)
    jwt = str(answer.status.token)
    secrets.add(jwt)
    return jwt


@pytest.fixture(scope="session")
def reviewer_jwt(api_client: Any, core: client.CoreV1Api, e2e_bao_secrets: set[str]) -> str:
    """The JWT OpenBao presents to TokenReview: its account holds system:auth-delegator."""
    ensure_service_account(core, REVIEWER_NAMESPACE, REVIEWER_ACCOUNT)
    binding = client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name="openbao-token-reviewer"),
        role_ref=client.V1RoleRef(
            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="system:auth-delegator"
        ),
        subjects=[
            client.RbacV1Subject(
                kind="ServiceAccount", name=REVIEWER_ACCOUNT, namespace=REVIEWER_NAMESPACE
            )
        ],
    )
    try:
        client.RbacAuthorizationV1Api(api_client).create_cluster_role_binding(binding)
    except ApiException as exc:
        if exc.status != 409:
            raise
    return service_account_jwt(core, e2e_bao_secrets, REVIEWER_NAMESPACE, REVIEWER_ACCOUNT)


@pytest.fixture(scope="session")
def bao_root_token(openbao_server: OpenBaoServer, e2e_bao_secrets: set[str]) -> str:
    e2e_bao_secrets.add(openbao_server.root_token)
    return openbao_server.root_token


def fresh_bao_namespace(server: OpenBaoServer, prefix: str) -> str:
    """A new top-level OpenBao namespace, so each test's operator starts from nothing."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    root_in(server, None).sys.create_namespace(name)
    return name


def kube_settings(
    server: OpenBaoServer,
    kube_api: KubeApi,
    ca_pem: str,
    reviewer: str,
    *,
    layout: str,
    bao_namespace: str,
    **extra: Any,
) -> Settings:
    """Settings whose auth mounts send TokenReviews to the real apiserver."""
    values: dict[str, Any] = {
        "bao_addr": server.addr,
        "bao_cacert": str(server.ca_cert),
        "bao_token": None,
        "secrets_layout": layout,
        "bao_namespace": bao_namespace,
        "bao_timeout_seconds": 10.0,
        "kubernetes_host": kube_api.url,
        "kubernetes_ca_cert": ca_pem,
        "kubernetes_token_reviewer_jwt": reviewer,
    }
    values.update(extra)
    return Settings(**values)


def new_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def login(
    server: OpenBaoServer,
    secrets: set[str],
    namespace: str | None,
    mount: str,
    role: str,
    jwt: str,
) -> hvac.Client:
    """Log in with Kubernetes auth exactly as a workload does; the client holds the token."""
    anon = hvac.Client(url=server.addr, verify=str(server.ca_cert), token="", namespace=namespace)
    answer = anon.adapter.post(f"/v1/auth/{mount}/login", json={"role": role, "jwt": jwt})
    token = str(answer["auth"]["client_token"])
    secrets.add(token)
    return hvac.Client(
        url=server.addr, verify=str(server.ca_cert), token=token, namespace=namespace
    )
