"""A real Kubernetes API for tests and ``make dev``: etcd + kube-apiserver.

Like controller-runtime's envtest: the upstream kube-apiserver (RBAC on, client-cert
authentication, service-account tokens) on a real etcd, both on free loopback ports.
There are no nodes and no controller-manager, so nothing garbage-collects owned objects,
namespaces stay ``Terminating`` (never finalized), and no ``default`` service accounts
appear: whoever needs an object creates it.

    with KubeApi() as kube:
        subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "get", "ns"])
"""

import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from devenv.certs import KubePki, write_kube_pki
from devenv.kubebin import KubeBinaries, find_kube_binaries
from devenv.kubeconfig import CLUSTER_NAME, build_kubeconfig, write_kubeconfig
from devenv.process import ServiceError, spawn, stop, wait_until

log = logging.getLogger(__name__)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
_PORT_ATTEMPTS = 3
# Audit what service accounts do (tests run the operator as one to prove its RBAC):
# the request's user, verb, resource and the answer's code; nothing for other users.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
"""

_T = TypeVar("_T")


class KubeApi:
    """etcd and kube-apiserver on loopback; a context manager that tears both down.

    ``workdir`` defaults to a fresh temporary directory that :meth:`stop` removes (except
    ``logs/`` when ``keep_logs=True``). A caller-supplied ``workdir`` is kept, etcd data
    included, so a dev cluster survives restarts; certificates are regenerated each start.
    """

    def __init__(
        self,
        *,
        binaries: KubeBinaries | None = None,
        workdir: Path | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.binaries = binaries if binaries is not None else find_kube_binaries()
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="tenant-operator-kube-")) if workdir is None else workdir
        )
        self.startup_timeout = startup_timeout
        self.log_dir = self.workdir / "logs"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.url = ""
        self._pki: KubePki | None = None
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None

    @property
    def etcd_log(self) -> Path:
        return self.log_dir / "etcd.log"

    @property
    def apiserver_log(self) -> Path:
        return self.log_dir / "kube-apiserver.log"

    @property
    def audit_log(self) -> Path:
        """JSON lines: every request a service account made, with the answer's code."""
        return self.log_dir / "audit.log"

    @property
    def kubectl_cache_dir(self) -> Path:
        return self.workdir / "kubectl-cache"

    def forget_kubectl_cache(self) -> None:
        """Drop what :meth:`kubectl` cached (discovery, OpenAPI) after the API changed.

        kubectl revalidates its cached OpenAPI index with If-Modified-Since, and the
        server's Last-Modified has one-second granularity: an index cached in the same
        second as a CRD was published stays stale (``kubectl explain`` cannot find it).
        """
        shutil.rmtree(self.kubectl_cache_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(keep_logs=exc is not None)

    def start(self) -> None:
        """Start etcd, then kube-apiserver; return once ``/readyz`` answers ``ok``."""
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        try:
            self._pki = write_kube_pki(self.workdir / "pki")
            etcd_url = _retry_on_port_clash(self._start_etcd)
            pki = self._pki
            _retry_on_port_clash(lambda: self._start_apiserver(etcd_url, pki))
            write_kubeconfig(self.kubeconfig, build_kubeconfig(self.url, self._pki))
        except BaseException:
            self.stop(keep_logs=True)
            raise
        log.info("kube-apiserver ready at %s (kubeconfig %s)", self.url, self.kubeconfig)

    def stop(self, *, keep_logs: bool = False) -> None:
        """Stop both servers. A temporary workdir is removed, all but ``logs/`` if asked."""
        stop(self._apiserver)
        stop(self._etcd)
        self._apiserver = self._etcd = None
        if not self._own_workdir or not self.workdir.exists():
            return
        if not keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)
            return
        for child in self.workdir.iterdir():
            if child != self.log_dir:
                _remove(child)
        log.warning("kube-apiserver and etcd logs kept in %s", self.log_dir)

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this server; never raises on a non-zero exit."""
        return subprocess.run(
            [
                str(self.binaries.kubectl),
                f"--kubeconfig={self.kubeconfig}",
                # A cache per server: ports are reused, and a stale cached discovery or
                # OpenAPI document from an earlier server would be served as this one's.
                f"--cache-dir={self.kubectl_cache_dir}",
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def _start_etcd(self) -> str:
        client_port, peer_port = _free_ports(2)
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        data_dir = self.workdir / "etcd-data"
        data_dir.mkdir(mode=0o700, exist_ok=True)
        argv = [
            str(self.binaries.etcd),
            f"--name={CLUSTER_NAME}",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={CLUSTER_NAME}={peer_url}",
            "--unsafe-no-fsync",  # throwaway data: durability buys nothing, fsync costs seconds
        ]
        stop(self._etcd)
        self._etcd = spawn(argv, None, log_path=self.etcd_log, env=_child_env())
        wait_until(
            lambda: _http_ok(f"{client_url}/health", None),
            what="etcd",
            proc=self._etcd,
            log_path=self.etcd_log,
            timeout=self.startup_timeout,
        )
        return client_url

    def _start_apiserver(self, etcd_url: str, pki: KubePki) -> None:
        stop(self._apiserver)
        (port,) = _free_ports(1)
        self.url = f"https://127.0.0.1:{port}"
        argv = [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-issuer={self.url}",
            f"--service-account-key-file={pki.sa_public_key}",
            f"--service-account-signing-key-file={pki.sa_private_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC",
            # No controller-manager creates default service accounts, so pods would be
            # refused by this plugin; envtest disables it for the same reason.
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            "--profiling=false",
            f"--audit-policy-file={self._write_audit_policy()}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
        ]
        self._apiserver = spawn(argv, None, log_path=self.apiserver_log, env=_child_env())
        context = _client_tls(pki)
        wait_until(
            lambda: _http_ok(f"{self.url}/readyz", context),
            what="kube-apiserver",
            proc=self._apiserver,
            log_path=self.apiserver_log,
            timeout=self.startup_timeout,
        )

    def _write_audit_policy(self) -> Path:
        path = self.workdir / "audit-policy.yaml"
        path.write_text(AUDIT_POLICY)
        return path


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open while choosing)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _retry_on_port_clash(start: Callable[[], _T]) -> _T:
    """Run ``start`` again when another process took a chosen port in the meantime."""
    for attempt in range(1, _PORT_ATTEMPTS):
        try:
            return start()
        except ServiceError as exc:
            if "address already in use" not in str(exc):
                raise
            log.warning("a chosen port was taken meanwhile; retrying (%d)", attempt)
    return start()


def _client_tls(pki: KubePki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def _http_ok(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    return env


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["KubeApi", "ServiceError"]
