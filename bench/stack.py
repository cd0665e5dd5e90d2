"""Shared bench plumbing: the local stack, Tenant bodies, paged listing, /proc readers.

The stack is the one the e2e tests and ``bench.operator`` use: PostgreSQL (``durable=False``:
fsync and synchronous_commit off), OpenBao (dev), a real kube-apiserver on etcd with the
committed CRDs, and the operator as a subprocess started by ``operator_for``.
"""

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from devenv.kube import KubeApi
from devenv.kubedev import apply_crds
from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.domain.ownership import OWNER_LABEL
from tests.support.kube import is_ready, iter_tenants

GROUP, VERSION, PLURAL = "integraci.io", "v1alpha1", "tenants"
CRD_DIR = Path(__file__).resolve().parents[1] / "crds"
SECRET_NAMESPACE = "tenant-secrets"  # the operator's default allowed Secret namespace
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Stack:
    pg: PostgresServer
    bao: OpenBaoServer
    kube: KubeApi
    api: client.ApiClient

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)


@contextlib.contextmanager
def local_stack(*, durable_bao: bool = False) -> Iterator[Stack]:
    """Start PostgreSQL, OpenBao and the kube-apiserver with the CRDs; tear all down after.

    OpenBao is a dev server (in-memory storage) unless ``durable_bao`` (raft on disk).
    """
    kind = "raft storage" if durable_bao else "dev, in memory"
    print(f"starting PostgreSQL (durable=False), OpenBao ({kind}), kube-apiserver ...", flush=True)
    with (
        PostgresServer(durable=False) as pg,
        OpenBaoServer(durable=durable_bao) as bao,
        KubeApi() as kube,
    ):
        apply_crds(kube, sorted(CRD_DIR.glob("*.yaml")))
        api = config.new_client_from_config(config_file=str(kube.kubeconfig))
        with api:
            yield Stack(pg, bao, kube, api)


def tenant_body(
    slug: str,
    plan: str,
    *,
    labels: dict[str, str] | None = None,
    connector_secret: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "organisation": f"{slug.title()} Ltd",
        "plan": plan,
        "owner": {"name": "Jane Roe", "email": f"jane@{slug}.example"},
    }
    if connector_secret:
        spec["connectors"] = [
            {
                "name": "github",
                "type": "github",
                "config": {"org": slug},
                "secretRef": {"namespace": SECRET_NAMESPACE, "name": connector_secret},
            }
        ]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Tenant",
        "metadata": {"name": slug, **({"labels": labels} if labels else {})},
        "spec": spec,
    }


def create_secret(core: client.CoreV1Api, name: str, owner: str) -> None:
    """A connector Secret of tenant ``owner`` in the allowed namespace (a throwaway token)."""
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels={OWNER_LABEL: owner}),
        string_data={"token": f"ghp_{name}"},
    )
    core.create_namespaced_secret(SECRET_NAMESPACE, body)


def count_ready(custom: client.CustomObjectsApi, *, label_selector: str = "") -> tuple[int, int]:
    """(ready, total) over a paged LIST; an API error counts as nothing seen this round."""
    ready = total = 0
    try:
        for tenant in iter_tenants(custom, label_selector=label_selector):
            total += 1
            ready += is_ready(tenant)
    except ApiException:
        return 0, 0
    return ready, total


def list_resource_version(custom: client.CustomObjectsApi) -> str:
    answer = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1)
    return str(answer["metadata"]["resourceVersion"])


def wait_for(
    check: Callable[[], tuple[bool, str]], *, timeout: float, poll: float, what: str
) -> tuple[bool, float, str]:
    """Poll ``check`` (done, progress) until done or ``timeout``; (done, seconds, progress)."""
    start = time.perf_counter()
    progress = ""
    while True:
        done, progress = check()
        elapsed = time.perf_counter() - start
        if done:
            return True, elapsed, progress
        if elapsed > timeout:
            print(f"TIMEOUT: {what} not done after {timeout:.0f} s ({progress})", flush=True)
            return False, elapsed, progress
        time.sleep(poll)


class KubeRaw:
    """Plain HTTPS calls to the kube-apiserver (client certificate from the kubeconfig)."""

    def __init__(self, kubeconfig: Path) -> None:
        cfg = json.loads(kubeconfig.read_text())
        self.server = cfg["clusters"][0]["cluster"]["server"]
        self.ca = cfg["clusters"][0]["cluster"]["certificate-authority"]
        user = cfg["users"][0]["user"]
        self.cert = (user["client-certificate"], user["client-key"])

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override the cluster's CA
        session.verify = self.ca
        session.cert = self.cert
        return session


# --- /proc readers -------------------------------------------------------------------


def proc_status_kib(pid: int, *fields: str) -> dict[str, int]:
    """Fields such as VmRSS and VmHWM from /proc/<pid>/status, in KiB (0 when gone)."""
    found = dict.fromkeys(fields, 0)
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in found:
            found[key] = int(value.split()[0])
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (not its children) in seconds, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(ppid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
            pids.append(int(entry.name))
    return pids


def postmaster_pid(pg: PostgresServer) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def postgres_pids(pg: PostgresServer) -> list[int]:
    """The postmaster and every process it forked (backends, checkpointer, ...)."""
    main = postmaster_pid(pg)
    return [main, *children(main)]


def openbao_pid(bao: OpenBaoServer) -> int | None:
    proc = getattr(bao, "_proc", None)  # OpenBaoServer exposes no pid; its Popen has one
    return int(proc.pid) if proc is not None else None


def rss_mib(pids: list[int]) -> tuple[float, float]:
    """(sum of VmRSS, sum of VmHWM) over ``pids`` in MiB (shared pages count per process)."""
    rss = hwm = 0
    for pid in pids:
        got = proc_status_kib(pid, "VmRSS", "VmHWM")
        rss += got["VmRSS"]
        hwm += got["VmHWM"]
    return rss / 1024, hwm / 1024


def pss_mib(pids: list[int]) -> float:
    """Sum of Pss (shared pages split between their users) from smaps_rollup, in MiB.

    The honest total for a multi-process server such as PostgreSQL, whose RSS sum counts
    shared_buffers once per backend.
    """
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def verdict(value: float, goal: float, *, lower_is_better: bool = True) -> str:
    """'met' or 'missed' with the factor value/goal."""
    if goal == 0:
        return "met" if value == 0 else f"missed ({value:g} vs 0)"
    factor = value / goal
    met = factor <= 1 if lower_is_better else factor >= 1
    return f"{'met' if met else 'missed'} ({factor:.2f}x goal)"
