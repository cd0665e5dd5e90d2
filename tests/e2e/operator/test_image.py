"""The built image, run with podman exactly as the chart's pod spec says.

``helm template`` renders the chart; the operator container's args, env, security context
and volume mounts are taken from the rendered Deployment and turned into ``podman run``
flags (read-only root, uid 65532, no capabilities, no privilege escalation, the emptyDirs
as tmpfs). The container gets in-cluster configuration as a kubelet gives it: a
TokenRequest token of the chart's ServiceAccount, the API server's CA and the namespace
under /var/run/secrets/kubernetes.io/serviceaccount, and KUBERNETES_SERVICE_HOST/PORT
pointing at the local kube-apiserver, so the chart's RBAC is all it has. Both replicas
run as the chart runs them (``run``, with peering). With ``--network host`` the two
containers take other liveness/metrics ports through the chart's own env vars.

Needs root and podman (``make system-deps``); the image is built
(``make image``) from this checkout. Without them the tests fail, saying why.
"""

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from devenv.kube import KubeApi
from devenv.process import free_port
from tests.e2e.operator.conftest import GROUP, VERSION, Stack, unique
from tests.e2e.operator.test_chart_rbac import (
    chart_values,
    install_rbac,
    service_account_token,
)
from tests.support.chart import (
    RELEASE,
    RELEASE_NAMESPACE,
    REPO_ROOT,
    container_env,
    documents,
    only,
    secret_volumes,
)

pytestmark = pytest.mark.e2e

PODMAN = REPO_ROOT / "tools" / "image" / "podman.sh"
BUILD = REPO_ROOT / "tools" / "image" / "build.sh"
IMAGE = os.environ.get("TENANT_OPERATOR_IMAGE", "localhost/tenant-operator:dev")
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
EXAMPLES = REPO_ROOT / "examples"
RESUMING, PAUSING = "Resuming operations after the pause", "Pausing operations in favour of"
UID = 65532


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(PODMAN), *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {done.stderr.strip()}")
    return done


@pytest.fixture(scope="module")
def image() -> str:
    """The image of this checkout: built here (``make image``; its layers are cached)
    unless ``TENANT_OPERATOR_IMAGE_BUILT=1`` says it just was. Loud without podman."""
    if shutil.which("podman") is None:
        pytest.fail(
            "the image tests need podman, buildah, runc and mmdebstrap: run `make system-deps` "
            "as root (or `apt-get install podman buildah runc mmdebstrap uidmap`)",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail("the image tests run podman as root (rootless podman is refused here)")
    if os.environ.get("TENANT_OPERATOR_IMAGE_BUILT") != "1":
        built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, check=False)
        if built.returncode != 0:
            pytest.fail(f"`make image` failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}")
    return IMAGE


class Replica:
    """One operator container, as a pod of the chart's Deployment would run it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.env['TENANT_OPERATOR_LIVENESS_PORT']}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['TENANT_OPERATOR_METRICS_PORT']}/metrics"

    def start(self) -> None:
        podman("rm", "--force", "--ignore", self.name)
        podman(*self.argv)

    def stop(self) -> None:
        podman("stop", "--time", "30", self.name, check=False)

    def remove(self) -> None:
        podman("rm", "--force", "--ignore", self.name, check=False)

    def log(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def running(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def exec(self, *command: str) -> str:
        return podman("exec", self.name, *command).stdout


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except OSError as exc:
        return 0, str(exc)


def service_account_dir(stack: Stack, kube: KubeApi, path: Path) -> Path:
    """What a kubelet projects for the chart's ServiceAccount: token, ca.crt, namespace."""
    token = service_account_token(stack)
    cluster = json.loads(kube.kubeconfig.read_text())["clusters"][0]["cluster"]
    path.mkdir(parents=True)
    (path / "token").write_text(token)
    shutil.copy(cluster["certificate-authority"], path / "ca.crt")
    (path / "namespace").write_text(RELEASE_NAMESPACE)
    for file in path.iterdir():
        file.chmod(0o644)  # the kubelet's default mode; readable by uid 65532
    path.chmod(0o755)
    return path


def tmpfs_size(volume: dict[str, Any]) -> str:
    """An emptyDir's sizeLimit as a tmpfs size (64Mi -> 64m)."""
    limit = str(volume["emptyDir"].get("sizeLimit", "256Mi"))
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    return next((limit[: -len(u)] + s for u, s in units.items() if limit.endswith(u)), limit)


def replica_argv(
    docs: list[dict[str, Any]],
    name: str,
    env_file: Path,
    sa_dir: Path,
    image: str,
    secrets: dict[str, Path],
) -> list[str]:
    """``podman run`` flags for the rendered Deployment's operator container."""
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = {**pod["securityContext"], **container["securityContext"]}
    assert security["runAsNonRoot"] and security["runAsUser"] == UID
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"  # podman's default profile
    argv = [
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--read-only-tmpfs=false",  # only the pod's volumes are writable
        "--user",
        f"{security['runAsUser']}:{security['runAsGroup']}",
        "--cap-drop=all",
        "--security-opt",
        "no-new-privileges",
        "--env-file",
        str(env_file),
        "--volume",
        f"{sa_dir}:{SA_DIR}:ro",
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume:  # projected by the test as a kubelet would (the CAs)
            assert mount.get("readOnly") is True
            argv += ["--volume", f"{secrets[mount['name']]}:{mount['mountPath']}:ro"]
            continue
        assert "emptyDir" in volume, f"the test maps only emptyDirs and Secrets, not {volume}"
        # U: owned by the container's user, as fsGroup makes an emptyDir its group's.
        argv += ["--tmpfs", f"{mount['mountPath']}:rw,nosuid,nodev,size={tmpfs_size(volume)},U"]
    assert container["image"].split(":")[0].endswith("/tenant-operator")
    return [*argv, image, *container.get("command", []), *container["args"]]


@pytest.fixture
def replicas(
    stack: Stack, kube_api: KubeApi, image: str, tmp_path: Path
) -> Iterator[Callable[[str], Replica]]:
    """Make replicas of the chart's Deployment (containers); the stack's operator stops."""
    docs = documents(chart_values(stack))
    install_rbac(stack, kube_api, docs)
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    api = urlsplit(kube_api.url)
    made: list[Replica] = []

    def make(name: str) -> Replica:
        env = container_env(stack.core, container, name)
        env["KUBERNETES_SERVICE_HOST"] = str(api.hostname)
        env["KUBERNETES_SERVICE_PORT"] = str(api.port)
        # --network host: every replica on its own loopback ports, set as the chart does.
        env["TENANT_OPERATOR_LIVENESS_PORT"] = str(free_port())
        env["TENANT_OPERATOR_METRICS_PORT"] = str(free_port())
        env_file = tmp_path / f"{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        sa_dir = service_account_dir(stack, kube_api, tmp_path / f"{name}-sa")
        secrets = secret_volumes(stack.core, pod, tmp_path / f"{name}-volumes")
        argv = replica_argv(docs, name, env_file, sa_dir, image, secrets)
        replica = Replica(name, argv, env)
        made.append(replica)
        return replica

    stack.operator.stop()
    try:
        yield make
    finally:
        for replica in made:
            (tmp_path / f"{replica.name}.log").write_text(replica.log())
            replica.remove()
        stack.operator.start()


def wait_alive(stack: Stack, replica: Replica) -> None:
    stack.wait(
        f"{replica.name} to answer /healthz",
        lambda: get(replica.liveness_url)[0] == 200 or not replica.running(),
        timeout=120,
    )
    assert replica.running(), f"{replica.name} exited:\n{replica.log()[-4000:]}"


def ready(stack: Stack, plural: str, name: str) -> bool:
    obj = stack.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def apply_examples(kube: KubeApi) -> list[tuple[str, str]]:
    """``kubectl apply -f examples/``; the (plural, name) of the objects that get Ready."""
    done = kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(EXAMPLES))
    assert done.returncode == 0, done.stderr
    plurals = {"Tenant": "tenants", "SubProcessor": "subprocessors"}
    return [
        (plurals[doc["kind"]], doc["metadata"]["name"])
        for file in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(file.read_text())
        if doc and doc["kind"] in plurals
    ]


def working(log: str) -> bool:
    """kopf's last word on peering in this log: resumed (working), not paused since."""
    return log.rfind(RESUMING) > max(log.rfind(PAUSING), log.rfind("Pausing all operators"))


def logs_on_failure(*replicas: Replica) -> str:
    return "\n".join(f"--- {r.name}:\n" + "\n".join(r.log().splitlines()[-30:]) for r in replicas)


def test_image_runs_the_examples_under_the_charts_pod_spec_and_a_standby_takes_over(
    stack: Stack, kube_api: KubeApi, replicas: Callable[[str], Replica]
) -> None:
    first, second = replicas(f"{RELEASE}-0"), replicas(f"{RELEASE}-1")
    for replica in (first, second):
        replica.start()
    for replica in (first, second):
        wait_alive(stack, replica)

    def active() -> list[Replica]:
        return [r for r in (first, second) if working(r.log())]

    try:
        # Started alike, as the Deployment starts them: one works, the other pauses.
        stack.wait("one replica to work, the other to stand by", lambda: len(active()) == 1, 90)
        (leader,) = active()
        standby = second if leader is first else first

        # The examples, from the image, as the chart's ServiceAccount.
        for plural, name in apply_examples(kube_api):
            stack.wait(f"{plural} {name} Ready", partial(ready, stack, plural, name), 120)

        assert "OpenBao tenant " not in standby.log(), "the standby worked too"

        # Liveness and metrics answer on the ports the chart's env vars set, on both.
        for replica in (first, second):
            assert get(replica.liveness_url)[0] == 200
            status, text = get(replica.metrics_url)
            assert status == 200 and "tenant_operator_" in text, text[:500]

        # The active one stops; the standby takes over: a tenant made after it gets Ready.
        leader.stop()
        slug = unique("takeover")
        stack.apply_tenant(slug)
        stack.wait_ready(slug, timeout=150)
        assert f"OpenBao tenant {slug}:" in standby.log(), "the standby did not provision it"
        stack.delete_tenant(slug)
        stack.wait_gone(slug, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{logs_on_failure(first, second)}") from None


def test_container_runs_read_only_as_65532_without_capabilities_and_only_the_charts_rbac(
    stack: Stack, replicas: Callable[[str], Replica]
) -> None:
    replica = replicas(f"{RELEASE}-0")
    replica.start()
    wait_alive(stack, replica)

    (inspected,) = json.loads(podman("inspect", replica.name).stdout)
    host_config = inspected["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert inspected["Config"]["User"] == f"{UID}:{UID}"
    assert "no-new-privileges" in host_config["SecurityOpt"]
    status = dict(
        line.split(":\t", 1) for line in replica.exec("cat", "/proc/1/status").splitlines()
    )
    assert status["Uid"].split()[:2] == [str(UID), str(UID)]
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[caps], 16) == 0, f"{caps} {status[caps]}"
    assert status["NoNewPrivs"].strip() == "1"
    write = podman("exec", replica.name, "touch", "/opt/venv/x", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write
    replica.exec("touch", "/tmp/x")  # the tmp emptyDir is writable

    # pip's CA bundle was mounted into the build, not baked: at most the empty mount point
    # is left, and no pip setting reaches the image's environment.
    assert replica.exec("sh", "-c", "cat /run/pip-ca/* 2>/dev/null || true") == ""
    assert not [e for e in inspected["Config"]["Env"] if e.startswith("PIP_")]

    # The in-cluster credentials are the chart's ServiceAccount's: allowed what its RBAC
    # allows (tenants), refused the rest.
    probe = (
        "from kubernetes import client, config\n"
        "from kubernetes.client.exceptions import ApiException\n"
        "config.load_incluster_config()\n"
        "def code(call):\n"
        "    try:\n"
        "        call()\n"
        "        return 200\n"
        "    except ApiException as exc:\n"
        "        return exc.status\n"
        "core, rbac = client.CoreV1Api(), client.RbacAuthorizationV1Api()\n"
        "custom = client.CustomObjectsApi()\n"
        f"print(code(lambda: custom.list_cluster_custom_object('{GROUP}', '{VERSION}', "
        "'tenants')))\n"
        "print(code(lambda: core.list_namespaced_secret('kube-system')))\n"
        "body = {'metadata': {'name': 'escalate'}, 'rules': [{'apiGroups': ['*'], "
        "'resources': ['*'], 'verbs': ['*']}]}\n"
        "print(code(lambda: rbac.create_cluster_role(body)))\n"
    )
    codes = replica.exec("python3", "-c", probe).split()
    assert codes == ["200", "403", "403"], codes
