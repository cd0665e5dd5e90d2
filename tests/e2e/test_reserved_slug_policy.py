"""The chart's ValidatingAdmissionPolicy refuses slugs that an install's values reserve.

The CRD's rule knows only the names the default settings derive; an install with its own
secret namespaces, workload prefix, release namespace or operator role derives others. The
policy is rendered from those values and enforced by the real kube-apiserver.
"""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.kube import KubeApi
from tests.support.chart import admission_policies
from tests.support.tenants import tenant_manifest

pytestmark = pytest.mark.e2e

RELEASE_NAMESPACE = "ws-platform"
VALUES = {
    "tenants.allowedSecretNamespaces": ["ws-vault", "connector-secrets"],
    "tenants.workloadNamespacePrefix": "ws-",
    "openbao.auth.kubernetes.role": "tenant-ops",
    "openbao.operatorPolicy": "tenant-ops-policy",
}


def dry_create(kube: KubeApi, name: str) -> tuple[int, str]:
    done = kube.kubectl(
        "create", "--dry-run=server", "-f", "-", stdin=json.dumps(tenant_manifest(name))
    )
    return done.returncode, done.stderr


@pytest.fixture
def policy(kube_api: KubeApi, crds: list[Path]) -> Iterator[list[dict[str, Any]]]:
    docs = admission_policies(VALUES, "reserved-slugs", namespace=RELEASE_NAMESPACE)
    assert docs, "the chart renders no reserved-slugs ValidatingAdmissionPolicy"
    manifest = "\n".join(json.dumps(d) for d in docs)
    applied = kube_api.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert applied.returncode == 0, applied.stderr
    yield docs
    kube_api.kubectl("delete", "--ignore-not-found", "-f", "-", stdin=manifest)


def wait_enforced(kube: KubeApi) -> None:
    deadline = time.monotonic() + 30
    while dry_create(kube, "vault")[0] == 0:
        assert time.monotonic() < deadline, "the policy was never enforced"
        time.sleep(0.25)


@pytest.mark.parametrize(
    ("slug", "collides"),
    [
        pytest.param("vault", "ws-vault", id="workload-namespace-is-a-secret-namespace"),
        pytest.param("platform", RELEASE_NAMESPACE, id="workload-namespace-is-the-operators"),
        pytest.param("ops", "tenant-ops", id="operator-kubernetes-auth-role"),
        pytest.param("ops-policy", "tenant-ops-policy", id="operator-openbao-policy"),
    ],
)
def test_a_slug_the_install_reserves_is_refused(
    kube_api: KubeApi, policy: list[dict[str, Any]], slug: str, collides: str
) -> None:
    wait_enforced(kube_api)

    code, stderr = dry_create(kube_api, slug)

    assert code != 0, f"Tenant {slug} was admitted"
    assert f"tenant slug {slug} is reserved" in stderr
    assert collides in stderr
    assert "choose another name" in stderr


def test_other_slugs_are_admitted(kube_api: KubeApi, policy: list[dict[str, Any]]) -> None:
    wait_enforced(kube_api)

    code, stderr = dry_create(kube_api, f"t-{uuid.uuid4().hex[:8]}")

    assert code == 0, stderr
