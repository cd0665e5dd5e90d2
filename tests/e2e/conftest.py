"""A real kube-apiserver (on a real etcd) for end-to-end tests; see devenv.kube.

No controller-manager runs: deleted namespaces are never finalized, owned objects are never
garbage-collected and no ``default`` service account appears. Tests create what they need.
When the binaries are missing the session fails with the command that builds them.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from devenv.kube import KubeApi
from devenv.kubebin import KubeBinariesMissing, find_kube_binaries
from devenv.kubedev import apply_crds
from tests.support.kube import CRD_DIR

LOG_TAIL_LINES = 40


@pytest.fixture(scope="session")
def kube_api(request: pytest.FixtureRequest) -> Iterator[KubeApi]:
    problem = ""
    try:
        binaries = find_kube_binaries()
    except KubeBinariesMissing as exc:
        problem = str(exc)
    if problem:
        pytest.fail(f"e2e tests need the real kube-apiserver: {problem}", pytrace=False)
    kube = KubeApi(binaries=binaries)
    kube.start()
    try:
        yield kube
    finally:
        # Keep the server logs when anything failed, so they can be read afterwards.
        failed = request.session.testsfailed > 0
        kube.stop(keep_logs=failed)
        if failed:
            print(f"\nkube-apiserver and etcd logs: {kube.log_dir}")


@pytest.fixture(scope="session")
def api_client(kube_api: KubeApi) -> Iterator[Any]:
    api = config.new_client_from_config(config_file=str(kube_api.kubeconfig))
    with api:
        yield api


@pytest.fixture(scope="session")
def crds(kube_api: KubeApi) -> list[Path]:
    """Apply the committed CRDs and wait until the apiserver serves them."""
    files = sorted(CRD_DIR.glob("*.yaml"))
    if not files:
        pytest.fail(f"no CRDs in {CRD_DIR}; generate them (`tenant-operator crds`)", pytrace=False)
    apply_crds(kube_api, files)
    return files


@pytest.fixture
def namespace(api_client: Any) -> Iterator[str]:
    """A fresh namespace; deleted afterwards (it stays Terminating: nothing finalizes it)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the kube-apiserver log tail to a failed test that used the server."""
    report = yield
    kube = getattr(item, "funcargs", {}).get("kube_api")
    if report.failed and isinstance(kube, KubeApi) and kube.apiserver_log.exists():
        lines = kube.apiserver_log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        report.sections.append(("kube-apiserver log (tail)", "\n".join(lines)))
    return report
