"""A real Kubernetes API for tests and ``tenant-operator dev``: etcd + kube-apiserver.

Like controller-runtime's envtest: the upstream kube-apiserver (RBAC on, client-cert
authentication, service-account tokens) on a real etcd, both on free loopback ports.
There are no nodes and no controller-manager, so nothing garbage-collects owned objects,
namespaces stay ``Terminating`` (never finalized), and no ``default`` service accounts
appear: whoever needs an object creates it.

    with KubeApi() as kube:
        subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "get", "ns"])
"""

import json
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from tenant_operator.devenv.certs import KubePki, write_kube_pki
from tenant_operator.devenv.kubebin import KubeBinaries, find_kube_binaries
from tenant_operator.devenv.process import ServiceError, free_port, spawn, stop, wait_until

log = logging.getLogger(__name__)

CLUSTER_NAME = "tenant-operator-dev"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


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
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url, self._pki)
            self._write_kubeconfig(self._pki)
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
            [str(self.binaries.kubectl), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def _start_etcd(self) -> str:
        client_port, peer_port = free_port(), free_port()
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
        port = free_port()
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

    def _write_kubeconfig(self, pki: KubePki) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CLUSTER_NAME,
                    "cluster": {"server": self.url, "certificate-authority": str(pki.ca_cert)},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(pki.admin_cert),
                        "client-key": str(pki.admin_key),
                    },
                }
            ],
            "contexts": [
                {"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": "admin"}}
            ],
            "current-context": CLUSTER_NAME,
        }
        # JSON is valid YAML, and every kubeconfig reader accepts it.
        self.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        self.kubeconfig.chmod(0o600)


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
