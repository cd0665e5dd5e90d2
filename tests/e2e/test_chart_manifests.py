"""Every manifest the chart renders is accepted by the real kube-apiserver (server dry-run).

A server-side dry-run runs the API's validation and admission (schema, defaulting, Pod
Security) without storing anything. The ServiceMonitor kind needs the Prometheus Operator's
CRD, which is not installed here, so it is rendered (tests/repo/test_chart.py) but not
dry-run; everything else is.
"""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from devenv.kube import KubeApi
from devenv.operator import ensure_namespaces
from tests.support.chart import documents, only

pytestmark = pytest.mark.e2e

VALUE_SETS = {
    "defaults": {},
    "token-auth-mount-layout": {
        "openbao.auth.method": "token",
        "openbao.auth.token.existingSecret": "bao-token",
        "openbao.layout": "mount",
        "openbao.caSecret": "openbao-ca",
    },
    "single-replica-no-policies": {
        "replicaCount": 1,
        "peering.enabled": False,
        "networkPolicy.enabled": False,
        "podDisruptionBudget.enabled": False,
        "metrics.service.enabled": False,
    },
    "two-shards": {"shards": 2, "tenants.allowedSecretNamespaces": ["conn-a", "conn-b"]},
    "two-secret-namespaces-created": {
        "tenants.allowedSecretNamespaces": ["conn-a", "conn-b"],
        "tenants.createSecretNamespaces": True,
    },
}


def dry_run(kube: KubeApi, docs: list[dict[str, Any]]) -> str:
    manifest = "\n".join(json.dumps(d) for d in docs)
    done = kube.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=manifest)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    return done.stdout


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_rendered_manifest_passes_a_server_side_dry_run(
    kube_api: KubeApi, crds: list[Path], values: dict[str, Any]
) -> None:
    release_ns = f"chart-{uuid.uuid4().hex[:6]}"
    docs = documents(values, namespace=release_ns)
    # Namespaced objects need their namespace to exist even in a dry-run (including the
    # ones the chart creates: a dry-run creates nothing).
    wanted = {release_ns} | {
        d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")
    }
    ensure_namespaces(kube_api, sorted(wanted))
    out = dry_run(kube_api, [d for d in docs if d["kind"] != "ServiceMonitor"])
    for doc in docs:
        if doc["kind"] != "ServiceMonitor":
            assert f"{doc['metadata']['name']} serverside-applied (server dry run)" in out


def restricted_namespace(kube: KubeApi) -> str:
    namespace = f"restricted-{uuid.uuid4().hex[:6]}"
    labelled = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }
    created = kube.kubectl("apply", "-f", "-", stdin=json.dumps(labelled))
    assert created.returncode == 0, created.stderr
    return namespace


def operator_pod(namespace: str) -> dict[str, Any]:
    """A Pod made of the chart's Deployment template, as the ReplicaSet would make it."""
    template = only(documents(namespace=namespace), "Deployment")["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tenant-operator-0", "namespace": namespace, **template["metadata"]},
        "spec": template["spec"],
    }


def test_the_operator_pod_is_admitted_under_restricted_pod_security(kube_api: KubeApi) -> None:
    """Pod Security admission enforces on Pods (it only warns on Deployments): dry-run one."""
    dry_run(kube_api, [operator_pod(restricted_namespace(kube_api))])


def test_pod_security_admission_refuses_a_weakened_pod(kube_api: KubeApi) -> None:
    """The check above can fail: the same Pod without its securityContext is refused."""
    pod = operator_pod(restricted_namespace(kube_api))
    del pod["spec"]["containers"][0]["securityContext"]
    done = kube_api.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=json.dumps(pod)
    )
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in done.stderr
