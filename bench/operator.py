"""Benchmark the operator end to end on a throwaway local stack, against the raw floor.

    .venv/bin/python -m bench.operator [--samples 20] [--burst 200] [--burst-timeout 600]

Run it as a module (``-m``), like every script here: run as a path, ``bench/`` would be
first on ``sys.path`` and this file would shadow the stdlib ``operator`` module.

Starts PostgreSQL (``durable=False``: fsync and synchronous_commit off, as in the test
suite), OpenBao (dev), a real kube-apiserver with the committed CRDs, and the operator as a
subprocess (``tenant-operator run --standalone``), wired as the e2e tests wire it. Every
Tenant has one connector whose Secret exists beforehand (so the Secret read and the
OpenBao KV write are part of its cost). Prints:

1. apply-to-Ready latency for one Tenant at a time (plan team), polled every 20 ms until
   Ready=True with observedGeneration == generation: min, p50, p99, max in ms;
2. a burst of Tenants (plan free, every 10th enterprise) created as fast as possible, then
   polled (paged LIST) every 0.5 s until all are Ready: total seconds and tenants/s;
3. the operator's peak RSS (``VmHWM`` from /proc/<pid>/status) in MiB;
4. the raw floor, with the operator stopped: the calls one tenant costs, recorded from one
   real reconcile done in-process (``tenant_changed`` over ``runtime.start``) per
   plan -- every SQL statement, OpenBao request and Kubernetes call the adapters make --
   replayed bare (see bench/floor.py), framed by the minimal calls kopf adds: the Tenant's
   POST (the apply), the finalizer patch and the status patch. One tenant at a time, then
   the burst with the operator's own concurrency: ``max_workers`` tenants in flight sharing
   ``pool_max_size`` PostgreSQL connections. Operator/floor ratios (goals: one tenant
   <= 1.5x, the burst <= 2x).
"""

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes.config import kube_config

from bench.floor import Call, Recording, Replayer, recording, swap
from bench.stack import (
    GROUP,
    PLURAL,
    VERSION,
    KubeRaw,
    Stack,
    count_ready,
    create_secret,
    is_ready,
    local_stack,
    proc_status_kib,
    tenant_body,
    verdict,
)
from devenv.operator import OperatorProcess, operator_for
from tenant_operator import runtime
from tenant_operator.controller.status import wire
from tenant_operator.controller.tenant import tenant_changed
from tenant_operator.settings import Settings

DB = "bench"
POLL_ONE = 0.02
POLL_BURST = 0.5
ONE_TIMEOUT = 120.0
FINALIZER = f"{GROUP}/tenant-operator"
RECORDED = "floorrec"  # + plan; no dashes, so the schema name is t_<slug> verbatim


def secret_name(slug: str) -> str:
    return f"{slug}-github"


def body(slug: str, plan: str, label: str) -> dict[str, Any]:
    return tenant_body(
        slug, plan, labels={"bench.integraci.io/run": label}, connector_secret=secret_name(slug)
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(times: list[float]) -> str:
    return (
        f"min {min(times):.0f} ms  p50 {percentile(times, 0.50):.0f} ms  "
        f"p99 {percentile(times, 0.99):.0f} ms  max {max(times):.0f} ms  "
        f"mean {statistics.fmean(times):.0f} ms"
    )


def latency(stack: Stack, samples: int) -> list[float]:
    custom = stack.custom
    times: list[float] = []
    for _ in range(samples):
        slug = f"lat{uuid.uuid4().hex[:8]}"
        create_secret(stack.core, secret_name(slug), slug)
        start = time.perf_counter()
        custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body(slug, "team", "lat"))
        while True:
            tenant = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, slug)
            if is_ready(tenant):
                break
            if time.perf_counter() - start > ONE_TIMEOUT:
                raise SystemExit(f"tenant {slug} not Ready after {ONE_TIMEOUT:.0f} s")
            time.sleep(POLL_ONE)
        times.append((time.perf_counter() - start) * 1000)
    print(
        f"operator apply-to-Ready (plan team, n={samples}, poll {POLL_ONE * 1000:.0f} ms): "
        f"{summary(times)}",
        flush=True,
    )
    return times


def burst_plan(i: int) -> str:
    return "enterprise" if i % 10 == 9 else "free"


def burst(stack: Stack, count: int, timeout: float) -> float | None:
    custom = stack.custom
    label = f"burst{uuid.uuid4().hex[:4]}"
    slugs = [f"{label}{i:04d}" for i in range(count)]
    for slug in slugs:
        create_secret(stack.core, secret_name(slug), slug)
    start = time.perf_counter()
    for i, slug in enumerate(slugs):
        custom.create_cluster_custom_object(
            GROUP, VERSION, PLURAL, body(slug, burst_plan(i), label)
        )
    print(f"operator burst: {count} tenants created in {time.perf_counter() - start:.1f} s")
    while True:
        ready, _ = count_ready(custom, label_selector=f"bench.integraci.io/run={label}")
        elapsed = time.perf_counter() - start
        if ready == count:
            print(
                f"operator burst: {count} tenants (free, every 10th enterprise) all Ready in "
                f"{elapsed:.1f} s = {count / elapsed:.1f} tenants/s",
                flush=True,
            )
            return elapsed
        if elapsed > timeout:
            print(f"operator burst: TIMEOUT after {elapsed:.0f} s with {ready}/{count} Ready")
            return None
        time.sleep(POLL_BURST)


# --- the raw floor ---------------------------------------------------------------------


def operator_settings(op: OperatorProcess) -> Settings:
    return Settings(
        database_url=op.env["DATABASE_URL"],
        bao_addr=op.env["BAO_ADDR"],
        bao_cacert=op.env["BAO_CACERT"],
        bao_token=op.env["BAO_TOKEN"],
        pool_timeout_seconds=float(op.env["TENANT_OPERATOR_POOL_TIMEOUT_SECONDS"]),
    )


def record_plans(stack: Stack, op: OperatorProcess, plans: list[str]) -> dict[str, Any]:
    """One real reconcile per plan, in-process, recorded: plan -> (calls, status)."""
    # build_api_client loads the default kubeconfig, which kubernetes read from $KUBECONFIG
    # at import time (before this stack existed).
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(stack.kube.kubeconfig)
    settings = operator_settings(op)
    recorded: dict[str, Any] = {}

    async def go() -> None:
        rt = await runtime.start(settings)
        try:
            for plan in plans:
                slug = RECORDED + plan
                create_secret(stack.core, secret_name(slug), slug)
                tenant = body(slug, plan, "recorded")
                uid = str(uuid.uuid4())
                tenant["metadata"].update(
                    uid=uid,
                    generation=1,
                    creationTimestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                )
                with recording() as rec:
                    result = await tenant_changed(tenant, rt.context)
                if result.error is not None:
                    raise SystemExit(f"recorded reconcile failed: {result.error.message}")
                recorded[plan] = (rec, wire(result.status), uid)  # as the handler patches it
                print(f"floor: plan {plan:10s} one reconcile = {rec.counts()}", flush=True)
        finally:
            await runtime.stop(rt)

    quiet = logging.getLogger("tenant_operator")
    level, quiet.level = quiet.level, logging.ERROR  # the adapters' warnings are the operator's
    try:
        asyncio.run(go())
    finally:
        quiet.setLevel(level)
    return recorded


class Floor:
    """Replays one tenant: POST, finalizer patch, the recorded calls, status patch."""

    def __init__(self, stack: Stack, op: OperatorProcess, recorded: dict[str, Any]) -> None:
        settings = operator_settings(op)
        raw = KubeRaw(stack.kube.kubeconfig)
        self.base = f"{raw.server}/apis/{GROUP}/{VERSION}/{PLURAL}"
        self.recorded = recorded
        # The operator's bound on tenants in flight (max_concurrent_reconciles where the
        # settings have it, else kopf's max_workers).
        bound = getattr(settings, "max_concurrent_reconciles", None) or settings.max_workers
        self.workers = int(bound or 8)
        self.connections = settings.pool_max_size
        self.replayer = Replayer(
            dsn=op.env["DATABASE_URL"],
            connections=settings.pool_max_size,
            bao_token=op.env["BAO_TOKEN"],
            bao_cacert=op.env["BAO_CACERT"],
            kube_session=raw.session(),
        )

    def tenant(self, slug: str, plan: str) -> float:
        rec: Recording
        rec, status, recorded_uid = self.recorded[plan]
        calls: list[Call] = rec.calls
        start = time.perf_counter()
        r = self.replayer
        r.kube("POST", self.base, body(slug, plan, "floor"))
        r.kube(
            "PATCH", f"{self.base}/{slug}", {"metadata": {"finalizers": [FINALIZER]}}, merge=True
        )
        # the registry holds each Tenant's uid once (tenants.k8s_uid is unique)
        r.replay(calls, RECORDED + plan, slug, swaps={recorded_uid: str(uuid.uuid4())})
        patch = {"status": {**status, "observedGeneration": 1}}
        r.kube(
            "PATCH", f"{self.base}/{slug}/status", swap(patch, {RECORDED + plan: slug}), merge=True
        )
        return (time.perf_counter() - start) * 1000


def floor_runs(stack: Stack, floor: Floor, samples: int, count: int) -> tuple[list[float], float]:
    times = []
    for _ in range(samples):
        slug = f"flat{uuid.uuid4().hex[:8]}"
        create_secret(stack.core, secret_name(slug), slug)
        times.append(floor.tenant(slug, "team"))
    print(f"floor apply-to-Ready (plan team, n={samples}): {summary(times)}", flush=True)
    label = f"flb{uuid.uuid4().hex[:4]}"
    slugs = [f"{label}{i:04d}" for i in range(count)]
    for slug in slugs:
        create_secret(stack.core, secret_name(slug), slug)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=floor.workers) as pool:
        list(pool.map(lambda i: floor.tenant(slugs[i], burst_plan(i)), range(count)))
    total = time.perf_counter() - start
    print(
        f"floor burst: {count} tenants with {floor.workers} in flight sharing "
        f"{floor.connections} PostgreSQL connections: {total:.1f} s = "
        f"{count / total:.1f} tenants/s  (OpenBao answers differing from the recording: "
        f"{floor.replayer.mismatches})",
        flush=True,
    )
    return times, total


def peak_rss_mib(pid: int | None) -> str:
    if pid is None:
        return "unknown (operator not running)"
    return f"{proc_status_kib(pid, 'VmHWM')['VmHWM'] / 1024:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--burst-timeout", type=float, default=600.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    with local_stack() as stack:
        log_path = workdir / "operator.log"
        running = operator_for(stack.pg, stack.bao, stack.kube, dbname=DB, log_path=log_path)
        with running as operator:
            print(f"operator running (pid {operator.pid}), log {log_path}", flush=True)
            op_times = latency(stack, args.samples)
            op_burst = burst(stack, args.burst, args.burst_timeout)
            print(f"operator peak RSS (VmHWM): {peak_rss_mib(operator.pid)}", flush=True)
        print("operator stopped; recording one reconcile per plan for the floor", flush=True)
        recorded = record_plans(stack, operator, ["team", "free", "enterprise"])
        floor = Floor(stack, operator, recorded)
        try:
            fl_times, fl_burst = floor_runs(stack, floor, args.samples, args.burst)
        finally:
            floor.replayer.close()
    one = statistics.median(op_times) / statistics.median(fl_times)
    print(f"one tenant (p50): operator/floor = {one:.2f}  goal <= 1.5: {verdict(one, 1.5)}")
    if op_burst is None:
        print("burst: operator timed out; no ratio")
    else:
        ratio = op_burst / fl_burst
        print(
            f"burst of {args.burst}: operator/floor = {ratio:.2f}  goal <= 2: {verdict(ratio, 2)}"
        )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; stack torn down", flush=True)
