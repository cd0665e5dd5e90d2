"""A kube-apiserver of each test module's own, for fleets of tenants (tests.support.fleet).

Each test module gets a fresh kube-apiserver (on a fresh etcd), so the hundreds of tenants
made here never reach the session stack's operator, and a test can start the operator
while the API server is still initialising its storage for the CRDs.
"""

from collections.abc import Iterator

import pytest

from devenv.kube import KubeApi
from devenv.kubebin import KubeBinariesMissing, find_kube_binaries


@pytest.fixture(scope="module")
def fresh_kube(request: pytest.FixtureRequest) -> Iterator[KubeApi]:
    try:
        binaries = find_kube_binaries()
    except KubeBinariesMissing as exc:
        pytest.fail(f"scale tests need the real kube-apiserver: {exc}", pytrace=False)
    kube = KubeApi(binaries=binaries)
    kube.start()
    try:
        yield kube
    finally:
        kube.stop(keep_logs=request.session.testsfailed > 0)
