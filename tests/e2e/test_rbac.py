"""RBAC is enforced by the real apiserver: a service account gets only what it is granted."""

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devenv.kube import KubeApi

pytestmark = pytest.mark.e2e


def _service_account(api_client: Any, namespace: str, name: str) -> str:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )
    return f"system:serviceaccount:{namespace}:{name}"


def test_impersonated_service_account_without_rights_gets_403(
    kube_api: KubeApi, api_client: Any, namespace: str
) -> None:
    user = _service_account(api_client, namespace, "nobody")

    result = kube_api.kubectl("--as", user, "get", "secrets", "-n", namespace)

    assert result.returncode != 0
    assert "(Forbidden)" in result.stderr
    assert f'User "{user}" cannot list resource "secrets"' in result.stderr


def test_impersonated_service_account_gets_exactly_what_a_role_grants(
    kube_api: KubeApi, api_client: Any, namespace: str
) -> None:
    user = _service_account(api_client, namespace, "reader")
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="configmap-reader"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""], resources=["configmaps"], verbs=["get", "list"]
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="reader"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="configmap-reader"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)
            ],
        ),
    )

    allowed = kube_api.kubectl("--as", user, "get", "configmaps", "-n", namespace)
    denied = kube_api.kubectl("--as", user, "get", "secrets", "-n", namespace)

    assert allowed.returncode == 0, allowed.stderr
    assert "(Forbidden)" in denied.stderr


def test_service_account_token_is_authenticated_and_denied(
    kube_api: KubeApi, api_client: Any, namespace: str
) -> None:
    """A token signed by the apiserver's SA key authenticates; RBAC then says 403."""
    user = _service_account(api_client, namespace, "token-holder")
    token = (
        client.CoreV1Api(api_client)
        .create_namespaced_service_account_token(
            "token-holder",
            namespace,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
            ),
        )
        .status.token
    )
    configuration = client.Configuration()
    configuration.host = kube_api.url
    configuration.ssl_ca_cert = str(api_client.configuration.ssl_ca_cert)
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}

    with (
        client.ApiClient(configuration) as as_service_account,
        pytest.raises(ApiException) as denied,
    ):
        client.CoreV1Api(as_service_account).list_namespaced_secret(namespace)

    assert denied.value.status == 403
    message = json.loads(denied.value.body)["message"]
    assert f'User "{user}" cannot list resource "secrets"' in message
