"""Benchmark the operator end to end on a throwaway local stack.

    .venv/bin/python -m bench.operator [--samples 20] [--burst 200] [--burst-timeout 600]

Run it as a module (``-m``), like every script here: run as a path, ``bench/`` would be
first on ``sys.path`` and this file would shadow the stdlib ``operator`` module.

Starts PostgreSQL (``durable=False``: fsync and synchronous_commit off, as in the test
suite), OpenBao (dev), a real kube-apiserver with the committed CRDs, and the operator as a
subprocess (``tenant-operator run --standalone``), wired as the e2e tests wire it. Prints:

1. apply-to-Ready latency for one Tenant at a time (plan team), polled every 20 ms until
   Ready=True with observedGeneration == generation: min, p50, p99, max in ms;
2. a burst of Tenants (plan free, every 10th enterprise) created as fast as possible, then
   polled every 0.5 s until all are Ready: total seconds and tenants/s;
3. the operator's peak RSS (``VmHWM`` from /proc/<pid>/status) in MiB.

The per-system raw floors are in bench/postgres.py and bench/openbao.py.
"""

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tenant_operator.devenv.kube import KubeApi
from tenant_operator.devenv.kubedev import apply_crds
from tenant_operator.devenv.openbao import OpenBaoServer
from tenant_operator.devenv.operator import operator_for
from tenant_operator.devenv.postgres import PostgresServer

GROUP, VERSION, PLURAL = "integraci.io", "v1alpha1", "tenants"
CRD_DIR = Path(__file__).resolve().parents[1] / "crds"
DB = "bench"
POLL_ONE = 0.02
POLL_BURST = 0.5
ONE_TIMEOUT = 120.0


def body(slug: str, plan: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Tenant",
        "metadata": {"name": slug},
        "spec": {
            "organisation": f"{slug.title()} Ltd",
            "plan": plan,
            "owner": {"name": "Jane Roe", "email": f"jane@{slug}.example"},
        },
    }


def is_ready(tenant: dict[str, Any]) -> bool:
    status = tenant.get("status") or {}
    if status.get("observedGeneration") != tenant["metadata"]["generation"]:
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def latency(custom: client.CustomObjectsApi, samples: int) -> None:
    times: list[float] = []
    for _ in range(samples):
        slug = f"lat-{uuid.uuid4().hex[:8]}"
        start = time.perf_counter()
        custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body(slug, "team"))
        while True:
            tenant = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, slug)
            if is_ready(tenant):
                break
            if time.perf_counter() - start > ONE_TIMEOUT:
                raise SystemExit(f"tenant {slug} not Ready after {ONE_TIMEOUT:.0f} s")
            time.sleep(POLL_ONE)
        times.append((time.perf_counter() - start) * 1000)
    print(
        f"apply-to-Ready (plan team, n={samples}, poll {POLL_ONE * 1000:.0f} ms): "
        f"min {min(times):.0f} ms  p50 {percentile(times, 0.50):.0f} ms  "
        f"p99 {percentile(times, 0.99):.0f} ms  max {max(times):.0f} ms  "
        f"mean {statistics.fmean(times):.0f} ms",
        flush=True,
    )


def burst(custom: client.CustomObjectsApi, count: int, timeout: float) -> None:
    prefix = f"burst-{uuid.uuid4().hex[:4]}"
    slugs = {f"{prefix}-{i:04d}" for i in range(count)}
    start = time.perf_counter()
    for i, slug in enumerate(sorted(slugs)):
        plan = "enterprise" if i % 10 == 9 else "free"
        custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body(slug, plan))
    created = time.perf_counter() - start
    print(f"burst: {count} tenants created in {created:.1f} s", flush=True)
    ready = 0
    while True:
        try:
            items = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        except ApiException:
            items = []
        ready = sum(1 for t in items if t["metadata"]["name"] in slugs and is_ready(t))
        elapsed = time.perf_counter() - start
        if ready == count:
            print(
                f"burst: {count} tenants (free, every 10th enterprise) all Ready in "
                f"{elapsed:.1f} s = {count / elapsed:.1f} tenants/s",
                flush=True,
            )
            return
        if elapsed > timeout:
            print(
                f"burst: timed out after {elapsed:.0f} s with {ready}/{count} Ready "
                f"({ready / elapsed:.1f} tenants/s)",
                flush=True,
            )
            return
        time.sleep(POLL_BURST)


def peak_rss_mib(pid: int | None) -> str:
    if pid is None:
        return "unknown (operator not running)"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return f"{int(line.split()[1]) / 1024:.1f} MiB"
    return "unknown (no VmHWM)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--burst-timeout", type=float, default=600.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    print("starting PostgreSQL (durable=False: fsync off), OpenBao, kube-apiserver ...", flush=True)
    with (
        PostgresServer(durable=False) as pg,
        OpenBaoServer() as bao,
        KubeApi() as kube,
    ):
        apply_crds(kube, sorted(CRD_DIR.glob("*.yaml")))
        api = config.new_client_from_config(config_file=str(kube.kubeconfig))
        with api:
            log_path = workdir / "operator.log"
            running = operator_for(pg, bao, kube, dbname=DB, log_path=log_path)
            with running as operator:
                print(f"operator running (pid {operator.pid}), log {log_path}", flush=True)
                custom = client.CustomObjectsApi(api)
                latency(custom, args.samples)
                burst(custom, args.burst, args.burst_timeout)
                print(f"operator peak RSS (VmHWM): {peak_rss_mib(operator.pid)}", flush=True)
    print(
        "raw floors: not measured here; see bench/postgres.py and bench/openbao.py "
        "for the per-system floors",
        flush=True,
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; stack torn down", flush=True)
