"""Scale: N tenants on one operator replica -- Ready curve, RSS, idle cost, restart, drift.

    .venv/bin/python -m bench.scale [--tenants 10000] [--chunk 1000] [--idle-seconds 300]
        [--drift-period SECONDS] [--chunk-timeout 900] [--restart-timeout SECONDS]
        [--shards N]

Not part of ``make test``. On the local stack of bench.operator (PostgreSQL durable=False,
OpenBao dev, real kube-apiserver + etcd, the operator as a subprocess with default
settings), tenants are created in chunks of ``--chunk`` (plans free/team in the shared
tier, every 100th enterprise in the schema tier; 8 client threads), and each chunk is
waited for until all of it is Ready before the next is created, so every chunk's cost is
its own. Readiness is polled with paged LISTs (``limit``/``continue``) by chunk label.
Printed, each next to its goal for 10,000 tenants (2 cores):

* per chunk: seconds to all Ready, tenants/s, and last/first chunk cost (flat is the goal);
* RSS (VmRSS, VmHWM from /proc) of the operator, PostgreSQL (postmaster + its children) and
  OpenBao after each chunk; the 1k/5k/10k marks in the summary (goal: operator <= 300 MiB);
* idle: operator CPU share of one core over ``--idle-seconds`` (utime+stime deltas;
  goal <= 5 %), and Tenant writes per minute (MODIFIED events of a watch started at the
  window's resourceVersion; goal 0);
* restart: the operator stopped, one tenant's spec changed while it is down, the operator
  started with the same env; seconds until every tenant has resumed (each Tenant named in
  a kopf "Resuming/Updating is processed" log line of the new process; the sum of
  ``tenant_operator_reconciles_total`` is printed beside it), goal <= 60 s; Tenant writes
  and audit rows for the unchanged tenants meanwhile (goal 0), and whether the changed one
  was reconciled (observedGeneration == generation, Ready);
* one full drift scan: seconds and CPU as the operator reports them (its "drift scan done
  in X s (Y s CPU)" log line; ``tenant_operator_drift_scan_seconds`` otherwise).

With ``--shards N`` (N > 1) the tenants are created unlabelled and N operator processes
run, one per shard (``shards=N``, ``shard=k``); the default shard assigns each tenant.
RSS is reported per shard at each chunk, and after the fill each shard's tenants, CPU
seconds spent filling and idle CPU share; restart and drift are not measured then.

Every wait is bounded and says so when it times out. The machine is shared: figures are
noisy. The bench holds no Tenant objects beyond one LIST page.
"""

import argparse
import contextlib
import json
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from bench.stack import (
    GROUP,
    PLURAL,
    VERSION,
    Stack,
    count_ready,
    cpu_seconds,
    is_ready,
    iter_tenants,
    list_resource_version,
    local_stack,
    mem_available_mib,
    openbao_pid,
    postgres_pids,
    pss_mib,
    rss_mib,
    tenant_body,
    verdict,
    wait_for,
)
from devenv.operator import OperatorProcess, operator_for
from devenv.process import free_port
from tenant_operator.domain.sharding import SHARD_LABEL
from tenant_operator.settings import Settings

DB = "bench"
CHUNK_LABEL = "bench.integraci.io/chunk"
CREATE_THREADS = 8
MIN_AVAILABLE_MIB = 3072  # stop filling below this: the machine is shared
GOALS = {"idle_cpu_pct": 5.0, "rss_mib": 300.0, "resumed_s": 60.0, "writes": 0}
DRIFT_DONE = re.compile(r"drift scan done in ([\d.]+) s \(([\d.]+) s CPU\)")
PROCESSED = ("Resuming is processed", "Updating is processed", "Creation is processed")


def shard_operators(first: OperatorProcess, shards: int) -> dict[str, OperatorProcess]:
    """Shard 0 is ``first``; each other shard the same settings, its own shard and ports."""
    found = {"0": first}
    for k in range(1, shards):
        env = {**first.env, "TENANT_OPERATOR_SHARD": str(k)}
        for port in ("METRICS_PORT", "LIVENESS_PORT"):
            env[f"TENANT_OPERATOR_{port}"] = str(free_port())
        found[str(k)] = OperatorProcess(env, first.log_path.with_name(f"shard-{k}.log"))
    return found


def plan_for(i: int) -> str:
    return "enterprise" if i % 100 == 99 else ("free", "team")[i % 2]


def slug_for(i: int) -> str:
    return f"t{i:05d}"


# --- observers -------------------------------------------------------------------------


@dataclass
class Marks:
    """RSS after each chunk; the summary reports the 1k/5k/10k (and last) marks."""

    rows: dict[int, dict[str, tuple[float, float, float]]] = field(default_factory=dict)
    after_restart: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    #: --shards: one operator per shard, reported each on its own ("shard k")
    shards: dict[str, OperatorProcess] = field(default_factory=dict)

    def take(
        self, tenants: int, op: OperatorProcess, stack: Stack, *, restart: bool = False
    ) -> str:
        bao = openbao_pid(stack.bao)
        operators = {f"shard {k}": o for k, o in self.shards.items()} or {"operator": op}
        groups = {
            **{name: [o.pid] if o.pid else [] for name, o in operators.items()},
            "postgres": postgres_pids(stack.pg),
            "openbao": [bao] if bao else [],
        }
        got = {k: (*rss_mib(pids), pss_mib(pids)) for k, pids in groups.items()}
        if restart:
            self.after_restart = got
        else:
            self.rows[tenants] = got
        return render(got)


def render(row: dict[str, tuple[float, float, float]]) -> str:
    """RSS and VmHWM (sums over processes) and, for PostgreSQL's many processes, PSS."""
    parts = []
    for name, (rss, hwm, pss) in row.items():
        extra = f", PSS {pss:.0f}" if name == "postgres" else ""
        parts.append(f"{name} RSS {rss:.0f} MiB (HWM {hwm:.0f}{extra})")
    return "  ".join(parts)


def memory_left(marks: Marks, done: int, n: int) -> str | None:
    """Why to stop the fill before the machine (shared with others) runs out of memory."""
    available = mem_available_mib()
    if available < MIN_AVAILABLE_MIB:
        return f"only {available:.0f} MiB of memory left on the machine"
    first, last = min(marks.rows), max(marks.rows)
    if last > first:
        grow = sum(r[0] for r in marks.rows[last].values()) - sum(
            r[0] for r in marks.rows[first].values()
        )
        needed = grow / (last - first) * (n - done)
        if needed > available:
            print(
                f"WARNING: at the current growth ({grow / (last - first) * 1000:.0f} MiB per "
                f"1,000 tenants over all services) the remaining {n - done} tenants need "
                f"~{needed:.0f} MiB, {available:.0f} MiB are available",
                flush=True,
            )
    return None


class LogTail:
    """Reads the operator's log from an offset on; nothing but the new lines is held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        cut = data.rfind(b"\n") + 1  # keep a partial last line for next time
        self.offset += cut
        return data[:cut].decode(errors="replace").splitlines()


def object_name(line: str) -> str | None:
    """The Tenant a kopf JSON log line is about (its ``object`` reference), if any."""
    try:
        record = json.loads(line)
    except ValueError:
        match = re.search(r"\[/?([a-z0-9-]+)\]", line)  # text format: [name]
        return match.group(1) if match else None
    ref = record.get("object") if isinstance(record, dict) else None
    return str(ref.get("name")) if isinstance(ref, dict) and ref.get("name") else None


class WriteCounter:
    """Counts MODIFIED Tenant events from a resourceVersion on, in a daemon thread."""

    def __init__(self, kubeconfig: Path, rv: str, seconds: float, *, exclude: str = "") -> None:
        self.started = time.monotonic()
        self.count = 0  # MODIFIED events for tenants other than ``exclude``
        self.excluded = 0
        self.per_minute: dict[int, int] = {}
        self.error = ""
        self._args = (kubeconfig, rv, seconds, exclude)
        self._thread = threading.Thread(target=self._run, daemon=True, name="write-counter")
        self._thread.start()

    def _run(self) -> None:
        kubeconfig, rv, seconds, exclude = self._args
        api = config.new_client_from_config(config_file=str(kubeconfig))
        custom = client.CustomObjectsApi(api)
        try:
            stream = watch.Watch().stream(
                custom.list_cluster_custom_object,
                GROUP,
                VERSION,
                PLURAL,
                resource_version=rv,
                timeout_seconds=int(seconds),
                allow_watch_bookmarks=False,
            )
            for event in stream:
                if event["type"] == "ERROR":
                    self.error = str(event["object"])[:200]
                    return
                if event["type"] != "MODIFIED":
                    continue
                if event["object"]["metadata"]["name"] == exclude:
                    self.excluded += 1
                    continue
                self.count += 1
                minute = int((time.monotonic() - self.started) // 60)
                self.per_minute[minute] = self.per_minute.get(minute, 0) + 1
        except (ApiException, OSError, ValueError, urllib3.exceptions.HTTPError) as exc:
            self.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            api.close()


def metric_sum(url: str, prefix: str) -> float | None:
    """The sum of every sample whose name starts with ``prefix`` (None: not exposed)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix) and not line.startswith("#")
    ]
    return sum(values) if values else None


def audit_counts(stack: Stack, changed: str) -> tuple[int, int]:
    """(audit rows of every other chain, rows of ``changed``'s chain)."""
    with psycopg.connect(stack.pg.dsn(DB), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE chain <> %s), count(*) FILTER (WHERE chain = %s)"
            " FROM integraci.audit_log",
            [changed, changed],
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# --- phases ----------------------------------------------------------------------------


def create_chunk(custom: client.CustomObjectsApi, first: int, count: int, chunk: int) -> None:
    def create(i: int) -> None:
        body = tenant_body(slug_for(i), plan_for(i), labels={CHUNK_LABEL: str(chunk)})
        for attempt in range(5):  # a 429/5xx under load is retried, briefly
            try:
                custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
                return
            except ApiException as exc:
                if exc.status == 409:
                    return
                if attempt == 4 or exc.status not in (429, 500, 503, 504):
                    raise
                time.sleep(1 + attempt)

    with ThreadPoolExecutor(max_workers=CREATE_THREADS) as pool:
        list(pool.map(create, range(first, first + count)))


def fill(stack: Stack, op: OperatorProcess, args: argparse.Namespace, marks: Marks) -> bool:
    custom = stack.custom
    costs: list[float] = []
    spent = 0.0
    done = 0
    for chunk, first in enumerate(range(0, args.tenants, args.chunk)):
        count = min(args.chunk, args.tenants - first)
        start = time.perf_counter()
        create_chunk(custom, first, count, chunk)
        created = time.perf_counter() - start
        selector = f"{CHUNK_LABEL}={chunk}"

        def check(selector: str = selector, count: int = count) -> tuple[bool, str]:
            ready, total = count_ready(custom, label_selector=selector)
            return ready == count, f"{ready}/{count} Ready of {total} listed"

        ok, _, progress = wait_for(
            check, timeout=args.chunk_timeout, poll=1.0, what=f"chunk {chunk + 1}"
        )
        elapsed = time.perf_counter() - start
        done += count
        spent += elapsed
        costs.append(elapsed / count)
        print(
            f"tenants {first + 1:>6}-{done:<6} created in {created:5.1f} s, "
            f"{'all Ready in' if ok else 'TIMED OUT after'} {elapsed:6.1f} s = "
            f"{count / elapsed:6.1f} tenants/s  | {marks.take(done, op, stack)}",
            flush=True,
        )
        if not ok:
            print(f"stopping the fill: {progress}", flush=True)
            return False
        short = memory_left(marks, done, args.tenants)
        if short:
            print(f"stopping the fill at {done} tenants: {short}", flush=True)
            return False
    print(
        f"all {args.tenants} Ready in {spent:.0f} s; cost per tenant of the "
        f"last chunk / first chunk = {costs[-1] / costs[0]:.2f} (flat = 1.0"
        f"{'; one chunk only, so no curve' if len(costs) == 1 else ''})",
        flush=True,
    )
    return True


def idle(stack: Stack, op: OperatorProcess, seconds: float) -> dict[str, float]:
    assert op.pid is not None
    rv = list_resource_version(stack.custom)
    counter = WriteCounter(stack.kube.kubeconfig, rv, seconds + 5)
    cpu0, wall0 = cpu_seconds(op.pid), time.monotonic()
    time.sleep(seconds)
    cpu, wall = cpu_seconds(op.pid) - cpu0, time.monotonic() - wall0
    share = 100 * cpu / wall
    per_minute = counter.count / (wall / 60)
    print(
        f"idle {wall:.0f} s: operator CPU {cpu:.1f} s = {share:.2f} % of one core; "
        f"Tenant writes {counter.count} = {per_minute:.1f}/min "
        f"(per minute: {[counter.per_minute.get(m, 0) for m in range(int(wall // 60) + 1)]})"
        + (f"; watch error: {counter.error}" if counter.error else ""),
        flush=True,
    )
    return {"idle_cpu_pct": share, "idle_writes": counter.count}


def restart(
    stack: Stack, op: OperatorProcess, n: int, timeout: float, marks: Marks
) -> dict[str, float]:
    custom = stack.custom
    changed = slug_for(0)
    audit_before = audit_counts(stack, changed)
    op.stop()
    print(f"restart: operator stopped; changing {changed}'s spec while it is down", flush=True)
    custom.patch_cluster_custom_object(
        GROUP, VERSION, PLURAL, changed, {"spec": {"organisation": "Changed While Down Ltd"}}
    )
    rv = list_resource_version(custom)
    counter = WriteCounter(stack.kube.kubeconfig, rv, timeout + 60, exclude=changed)
    tail = LogTail(op.log_path)
    seen: set[str] = set()
    start = time.perf_counter()
    op.start()
    started = time.perf_counter() - start

    def reconciled() -> bool:
        tenant = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, changed)
        return is_ready(tenant)

    def check() -> tuple[bool, str]:
        for line in tail.lines():
            if any(p in line for p in PROCESSED):
                name = object_name(line)
                if name:
                    seen.add(name)
        reconciles = metric_sum(op.metrics_url, "tenant_operator_reconciles_total")
        done = len(seen) >= n
        return done, f"{len(seen)}/{n} resumed per log, reconciles_total {reconciles}"

    ok, elapsed, progress = wait_for(check, timeout=timeout, poll=1.0, what="restart resume")
    print(
        f"restart: process up in {started:.1f} s; "
        f"{'every tenant resumed in' if ok else 'NOT all resumed after'} {elapsed:.1f} s "
        f"({progress})",
        flush=True,
    )
    ok_changed, changed_s, _ = wait_for(
        lambda: (reconciled(), ""),
        timeout=max(30.0, timeout - elapsed),
        poll=0.5,
        what=f"{changed} reconciled after restart",
    )
    time.sleep(5)  # let trailing writes land before counting
    audit_after = audit_counts(stack, changed)
    unchanged_audit = audit_after[0] - audit_before[0]
    print(
        f"restart: Tenant writes for the {n - 1} unchanged tenants: {counter.count}; audit rows "
        f"for them: {unchanged_audit}; changed tenant {changed}: "
        f"{'reconciled (Ready at its new generation)' if ok_changed else 'NOT reconciled'}"
        f" with {counter.excluded} writes and {audit_after[1] - audit_before[1]} audit rows"
        + (f"; watch error: {counter.error}" if counter.error else ""),
        flush=True,
    )
    print(f"restart: after resume {marks.take(n, op, stack, restart=True)}", flush=True)
    return {
        "resumed_s": elapsed if ok else float("inf"),
        "restart_writes": counter.count,
        "restart_audit": unchanged_audit,
        "changed_reconciled": float(ok_changed),
        "changed_s": changed_s,
    }


def drift_scan(op: OperatorProcess, tail: LogTail, timeout: float) -> dict[str, float]:
    """The next "drift scan done" figure the operator reports (bounded wait)."""
    found: list[tuple[float, float]] = []

    def check() -> tuple[bool, str]:
        for line in tail.lines():
            match = DRIFT_DONE.search(line)
            if match:
                found.append((float(match.group(1)), float(match.group(2))))
        return bool(found), f"{len(found)} scans reported"

    ok, _, _ = wait_for(check, timeout=timeout, poll=2.0, what="a drift scan report")
    if ok:
        seconds, cpu = found[0]
        print(f"drift scan (operator's own figure): {seconds:.1f} s, {cpu:.1f} s CPU", flush=True)
        return {"drift_s": seconds, "drift_cpu_s": cpu}
    total = metric_sum(op.metrics_url, "tenant_operator_drift_scan_seconds_sum")
    scans = metric_sum(op.metrics_url, "tenant_operator_drift_scan_seconds_count")
    if total is not None and scans:
        print(f"drift scan (metric): {total / scans:.1f} s mean over {scans:.0f} scans (no CPU)")
        return {"drift_s": total / scans}
    print("drift scan: the operator reported none (no log line, no metric)", flush=True)
    return {}


def summary(n: int, marks: Marks, got: dict[str, float]) -> None:
    print(f"\n== summary for {n} tenants (goals are for 10,000 on 2 cores) ==")
    for at in sorted({1000, 5000, 10000, n}):
        if at in marks.rows:
            row = marks.rows[at]
            print(f"RSS at {at:>6}: " + render(row))
    if marks.after_restart:
        print(f"after restart at {n:>6}: " + render(marks.after_restart))
    if marks.rows:
        rows = [*marks.rows.values(), *([marks.after_restart] if marks.after_restart else [])]
        for name in [k for k in rows[0] if k == "operator" or k.startswith("shard ")]:
            hwm = max(row[name][1] for row in rows)
            print(f"{name} peak RSS {hwm:.0f} MiB       goal <= 300 MiB: {verdict(hwm, 300)}")
    lines: list[tuple[str, str, Callable[[float], str]]] = [
        ("idle_cpu_pct", "idle CPU {:.2f} % of a core", lambda v: verdict(v, 5.0)),
        *[
            (key, f"shard {key.rsplit('_', 1)[1]} idle CPU {{:.2f}} % of a core", _idle_goal)
            for key in got
            if key.startswith("idle_cpu_pct_shard_")
        ],
        ("idle_writes", "idle Tenant writes {:.0f}", lambda v: verdict(v, 0)),
        ("resumed_s", "restart resumed in {:.1f} s", lambda v: verdict(v, 60.0)),
        ("restart_writes", "restart writes (unchanged) {:.0f}", lambda v: verdict(v, 0)),
        ("restart_audit", "restart audit rows (unchanged) {:.0f}", lambda v: verdict(v, 0)),
    ]
    goals = {"idle_cpu_pct": "<= 5 %", "resumed_s": "<= 60 s"}
    for key, text, judge in lines:
        if key in got:
            goal = goals.get(key.split("_shard_")[0], "0")
            print(f"{text.format(got[key]):38s} goal {goal}: {judge(got[key])}")
    if "drift_s" in got:
        cpu = f", {got['drift_cpu_s']:.1f} s CPU" if "drift_cpu_s" in got else ""
        print(f"one full drift scan {got['drift_s']:.1f} s{cpu} (no goal)")


def _idle_goal(value: float) -> str:
    return verdict(value, 5.0)


def sharded(stack: Stack, marks: Marks, idle_seconds: float) -> dict[str, float]:
    """--shards: each shard's tenants, fill CPU and idle CPU share (one core)."""
    shard_of: dict[str, int] = {}
    for tenant in iter_tenants(stack.custom):
        label = (tenant["metadata"].get("labels") or {}).get(SHARD_LABEL, "unlabelled")
        shard_of[label] = shard_of.get(label, 0) + 1
    pids = {k: o.pid for k, o in marks.shards.items() if o.pid}
    before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    for k in pids:
        print(f"shard {k}: {shard_of.get(k, 0)} tenants; fill CPU {before[k]:.1f} s", flush=True)
    if shard_of.get("unlabelled"):
        print(f"unlabelled tenants left: {shard_of['unlabelled']}", flush=True)
    start = time.monotonic()
    time.sleep(idle_seconds)
    wall = time.monotonic() - start
    got = {}
    for k, pid in pids.items():
        share = 100 * (cpu_seconds(pid) - before[k]) / wall
        print(f"idle {wall:.0f} s: shard {k} CPU {share:.2f} % of one core", flush=True)
        got[f"idle_cpu_pct_shard_{k}"] = share
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=300.0)
    parser.add_argument(
        "--drift-period",
        type=float,
        default=None,
        help="operator's drift period (default: its own)",
    )
    parser.add_argument(
        "--drift-pace",
        type=float,
        default=None,
        help="operator's drift_tenants_per_second (default: its own)",
    )
    parser.add_argument("--chunk-timeout", type=float, default=900.0)
    parser.add_argument(
        "--restart-timeout", type=float, default=None, help="default max(120, N/20) s"
    )
    parser.add_argument(
        "--bao-durable",
        action="store_true",
        help="OpenBao on raft storage instead of the in-memory dev server (its RSS grows "
        "~2 MiB per tenant in memory)",
    )
    parser.add_argument(
        "--drift-measure-pace",
        type=float,
        default=50.0,
        help="measure one full drift scan with the operator restarted at this pace "
        "(tenants/s; 0: wait for a sweep at the operator's own pace)",
    )
    parser.add_argument(
        "--shards", type=int, default=1, help="operator processes, one per shard (default 1)"
    )
    args = parser.parse_args()
    n = args.tenants
    restart_timeout = args.restart_timeout or max(120.0, n / 20)
    extra = {"drift_period_seconds": str(args.drift_period)} if args.drift_period else {}
    if args.drift_pace:
        extra["drift_tenants_per_second"] = str(args.drift_pace)
    defaults = Settings()
    period = args.drift_period or defaults.drift_period_seconds
    pace = args.drift_pace or getattr(defaults, "drift_tenants_per_second", None)
    # a full sweep takes n / pace seconds when the scanner is paced; wait for one, bounded
    drift_timeout = period + (n / pace * 1.25 if pace else n / 10) + 120
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    marks = Marks()
    got: dict[str, float] = {}
    with local_stack(durable_bao=args.bao_durable) as stack:
        log_path = workdir / "operator.log"
        if args.shards > 1:
            extra.update(shards=str(args.shards), shard="0")
        op = operator_for(stack.pg, stack.bao, stack.kube, dbname=DB, log_path=log_path, **extra)
        marks.shards = shard_operators(op, args.shards) if args.shards > 1 else {}
        with op, contextlib.ExitStack() as more:
            for other in list(marks.shards.values())[1:]:
                more.enter_context(other)
            print(
                f"operator running (pid {op.pid}), log {log_path}; {n} tenants in chunks of "
                f"{args.chunk}, each chunk created ({CREATE_THREADS} client threads) and "
                "waited for until Ready before the next",
                flush=True,
            )
            if marks.shards and fill(stack, op, args, marks):
                got.update(sharded(stack, marks, args.idle_seconds))
            elif not marks.shards and fill(stack, op, args, marks):
                got.update(idle(stack, op, args.idle_seconds))
                got.update(restart(stack, op, n, restart_timeout, marks))
                if args.drift_measure_pace:
                    # A full sweep at the default pace takes N / 2 s (83 min for 10,000): its
                    # cost is measured by an operator restarted to sweep at a faster pace.
                    op.stop()
                    op.env["TENANT_OPERATOR_DRIFT_TENANTS_PER_SECOND"] = str(
                        args.drift_measure_pace
                    )
                    op.env["TENANT_OPERATOR_DRIFT_PERIOD_SECONDS"] = "5"
                    pace = args.drift_measure_pace
                    drift_timeout = 5 + n / pace * 1.25 + 120
                    drift_tail = LogTail(log_path)
                    op.start()
                    print(
                        f"operator restarted to sweep at {pace:g} tenants/s; waiting for one "
                        f"full drift scan (at most {drift_timeout:.0f} s)",
                        flush=True,
                    )
                else:
                    drift_tail = LogTail(log_path)
                    print(
                        f"waiting for one full drift scan (at most {drift_timeout:.0f} s)",
                        flush=True,
                    )
                got.update(drift_scan(op, drift_tail, timeout=drift_timeout))
    summary(n, marks, got)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; stack torn down", flush=True)
