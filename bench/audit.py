"""Audit-chain verification: reconcile cost against history, and verify-audit throughput.

    .venv/bin/python -m bench.audit [--entries 500000] [--history 100000] [--rounds 200]

Starts its own PostgresServer (``durable=False``) and OpenBao dev server, bootstraps the
roles, migrates, and gives the operator an OpenBao token holding only the shipped policy.
Then prints:

1. reconcile path: :func:`tenant_operator.controller.chain.check_chain` (the function
   the reconcile and the drift scan call), with the real AuditLog and the real OpenBao mirror, for a
   10-entry chain and a ``--history``-entry chain, both already mirrored; best and median
   of ``--rounds`` interleaved rounds, idle (nothing new) and after one append (append,
   check, mirror: what a reconcile that changed something adds), and their ratio
   (goal: within 10 %);
2. ``tenant-operator verify-audit`` (the command's own function) on ``--entries`` entries
   (goal >= 500,000 entries/s), twice, with the process's peak RSS before and after;
3. the raw floor, to read (2) against: the verifier's three chunk queries issued by a
   minimal psycopg script over the same two connections (no pool, no roles, no judging);
   the old way (every row read into Python and verified by domain.verify_chain) on
   ``--history`` entries; and hashing alone: hashlib.sha256 over as many canonical bodies.

Bulk load: appending through ``append_audit`` costs a round trip per entry (bench.postgres
measures about 3,000/s), so the bench computes each chain in Python with the domain's own
``entry_hash`` and COPYs it in as the superuser. That is legitimate for a bench: the table
refuses only UPDATE, DELETE and TRUNCATE, and the chain loaded this way is exactly what the
append function would have stored (the first verify-audit run proves it verifies).
"""

import argparse
import asyncio
import hashlib
import io
import json
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hvac
import psycopg
from psycopg import sql

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.openbao.policies import POLICY_FILES
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.audit_verify import CHUNK
from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.verify_command import WORKERS, verify_audit_command
from tenant_operator.controller.chain import check_chain
from tenant_operator.domain.audit import GENESIS, ChainRow, detail_digest, entry_hash, verify_chain
from tenant_operator.domain.errors import OperatorError
from tenant_operator.settings import Settings
from tests.support.postgres import create_platform

DB = "bench"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: What the reconcile appends, in proportion: ensured aspects, routed versions, invites.
DETAILS: list[dict[str, Any]] = [
    {"changed": ["schema", "grants"]},
    {"changed": ["policy"]},
    {"changed": ["owner account"]},
    {},
]
COLUMNS = [
    "chain",
    "seq",
    "at",
    "actor",
    "action",
    "target",
    "detail",
    "detail_digest",
    "prev_hash",
    "hash",
]
COPY = sql.SQL("COPY {}.audit_log ({}) FROM STDIN")


def detail_of(seq: int) -> dict[str, Any]:
    if seq % 5 == 0:
        return {"version": seq // 5 % 1000}  # 1,000 distinct connector versions
    return DETAILS[seq % len(DETAILS)]


def chain_rows(chain: str, n: int) -> Iterator[tuple[object, ...]]:
    """A valid chain of ``n`` entries, hashed by the domain (streamed: memory stays flat)."""
    prev, digests = GENESIS, {}
    for seq in range(1, n + 1):
        detail = detail_of(seq)
        text = json.dumps(detail)
        digest = digests.get(text) or digests.setdefault(text, detail_digest(detail))
        at = T0 + timedelta(microseconds=seq * 1237)
        target = f"postgres:tenant/{chain}"
        hashed = entry_hash(
            prev,
            seq=seq,
            at=at,
            actor="tenant-operator",
            action="tenant.ensured",
            target=target,
            digest=digest,
        )
        yield (
            chain,
            seq,
            at,
            "tenant-operator",
            "tenant.ensured",
            target,
            text,
            digest,
            prev,
            hashed,
        )
        prev = hashed


def load(server: PostgresServer, platform: str, chain: str, n: int) -> None:
    start = time.perf_counter()
    with psycopg.connect(server.dsn(DB), autocommit=True) as su:
        columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        statement = COPY.format(sql.Identifier(platform), columns)
        with su.cursor().copy(statement) as copy:
            for row in chain_rows(chain, n):
                copy.write_row(row)
        su.execute("VACUUM ANALYZE integraci.audit_log")
    print(f"loaded chain {chain!r}: {n:,} entries in {time.perf_counter() - start:.1f} s (COPY)")


def operator_bao(server: OpenBaoServer) -> OpenBaoTenants:
    settings = Settings(
        bao_addr=server.addr, bao_cacert=str(server.ca_cert), secrets_layout="namespace"
    )
    root = hvac.Client(url=server.addr, verify=str(server.ca_cert), token=server.root_token)
    root.sys.create_or_update_acl_policy("tenant-operator", POLICY_FILES["namespace"].read_text())
    token = root.auth.token.create(policies=["tenant-operator"], ttl="2h")["auth"]["client_token"]
    return OpenBaoTenants(settings, token=token)


async def platform_ready(bao: OpenBaoTenants) -> None:
    """Make the platform mounts, then wait out KV v2's upgrade of the new audit mount (it
    answers "Upgrading from non-versioned to versioned data" for a moment)."""
    await bao.ensure_platform()
    for _ in range(100):
        try:
            await bao.read_audit_head("hist-small")
            return
        except OperatorError:
            await asyncio.sleep(0.1)
    raise SystemExit("the OpenBao audit mount did not become ready")


class Ports:
    """The two ports check_chain uses, as the runtime wires them: real adapters."""

    def __init__(self, audit: AuditLog, bao: OpenBaoTenants) -> None:
        self.audit, self.bao = audit, bao


async def reconcile_path(
    server: PostgresServer, settings: Settings, bao: OpenBaoTenants, history: int, rounds: int
) -> None:
    chains = {"10 entries": "hist-small", f"{history:,} entries": "hist-big"}
    async with make_pool(server.dsn(DB, settings.operator_role), settings, max_size=2) as pool:
        await pool.wait()
        ports = Ports(AuditLog(pool, settings), bao)

        async def check(slug: str, *, append: bool) -> float:
            start = time.perf_counter()
            if append:
                await ports.audit.append(
                    slug, actor="bench", action="tenant.ensured", target="t", detail={}
                )
            result = await check_chain(ports, slug)  # type: ignore[arg-type]
            assert result.problem is None and result.head is not None, result.problem
            if result.mirrored != result.head:
                await bao.mirror_audit_head(slug, result.head.seq, result.head.hash)
            return time.perf_counter() - start

        for label, slug in chains.items():  # the first check after the upgrade: from genesis
            print(
                f"first check of {label:>16s} (no mirror yet, from genesis):"
                f" {await check(slug, append=False) * 1000:8.1f} ms"
            )
        for append in (False, True):
            times: dict[str, list[float]] = {label: [] for label in chains}
            for _ in range(rounds):
                for label, slug in chains.items():  # interleaved: drift hits both alike
                    times[label].append(await check(slug, append=append))
            what = "after one append (append + check + mirror)" if append else "idle (check)"
            best = {label: min(t) for label, t in times.items()}
            median = {label: statistics.median(t) for label, t in times.items()}
            for label in chains:
                print(
                    f"reconcile path, {what}, {label:>16s}: best {best[label] * 1000:6.2f} ms,"
                    f" median {median[label] * 1000:6.2f} ms"
                )
            small, big = chains
            print(
                f"  ratio {big} / {small}: best {best[big] / best[small]:.3f},"
                f" median {median[big] / median[small]:.3f} (goal <= 1.10)"
            )


def reset_peak_rss() -> None:
    """Start a fresh peak (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def verify_audit(server: PostgresServer, settings: Settings, chain: str, n: int) -> None:
    for run in (1, 2):
        out = io.StringIO()
        reset_peak_rss()
        before = rss_mib("VmRSS")
        start = time.perf_counter()
        code = asyncio.run(
            verify_audit_command(server.dsn(DB, settings.operator_role), settings, chain, out=out)
        )
        elapsed = time.perf_counter() - start
        print(
            f"verify-audit run {run}: {n / elapsed:,.0f} entries/s ({n:,} in {elapsed:.2f} s,"
            f" exit {code}; RSS {before:.0f} MiB before, peak {rss_mib('VmHWM'):.0f} MiB during;"
            " goal >= 500,000/s)"
        )
        print(f"  {out.getvalue().strip()}")


def floor_queries(server: PostgresServer, settings: Settings, chain: str, n: int) -> None:
    """The verifier's chunk queries from plain psycopg, over WORKERS threads."""
    platform = settings.platform_schema
    tasks: list[tuple[Any, Any]] = []
    for lo in range(1, n + 1, CHUNK):
        hi = min(lo + CHUNK - 1, n)
        tasks += [
            (q.audit_chunk_hashes(platform), [chain, lo, hi]),
            (
                q.audit_chunk_links(platform),
                {"chain": chain, "lo": lo, "before": lo - 1, "hi": hi, "genesis": GENESIS},
            ),
            (q.audit_chunk_details(platform), [chain, lo, hi]),
        ]
    lock = threading.Lock()

    def worker() -> None:
        with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
            conn.execute("SET jit = off")
            while True:
                with lock:
                    if not tasks:
                        return
                    query, params = tasks.pop(0)
                conn.execute(query, params).fetchall()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    print(
        f"floor, the same chunk queries from a minimal psycopg script ({WORKERS} connections):"
        f" {n / elapsed:,.0f} entries/s ({elapsed:.2f} s)"
    )


def floor_old_way(server: PostgresServer, settings: Settings, chain: str, n: int) -> None:
    start = time.perf_counter()
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        rows = [
            ChainRow(*r)
            for r in conn.execute(
                q.audit_rows(settings.platform_schema), [chain, 1, q.LAST_SEQ]
            ).fetchall()
        ]
    read = time.perf_counter() - start
    result = verify_chain(rows)
    elapsed = time.perf_counter() - start
    print(
        f"the old way, every row into Python + domain.verify_chain, one core: {n / elapsed:,.0f}"
        f" entries/s ({n:,}: read {read:.2f} s, verify {elapsed - read:.2f} s, ok {result.ok})"
    )


def floor_hashing(n: int) -> None:
    body = (
        b'{"action":"tenant.ensured","actor":"tenant-operator","at":"2026-01-01T00:00:00.001237Z",'
        b'"detail_digest":"' + b"a" * 64 + b'","seq":123456,"target":"postgres:tenant/full"}'
    )
    data, sha = GENESIS.encode() + body, hashlib.sha256
    start = time.perf_counter()
    for _ in range(n):
        sha(data).hexdigest()
    elapsed = time.perf_counter() - start
    print(
        f"floor, hashing alone in Python (hashlib.sha256 of a {len(data)}-byte entry, one core):"
        f" {n / elapsed:,.0f} entries/s ({elapsed:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    settings = Settings(pool_min_size=1, pool_max_size=2)
    with PostgresServer(durable=False) as server, OpenBaoServer() as bao_server:
        print(f"PostgreSQL {server.bin_dir} durable=False; OpenBao {bao_server.addr}")
        create_platform(server, DB, settings)
        platform = settings.platform_schema
        load(server, platform, "hist-small", 10)
        load(server, platform, "hist-big", args.history)
        load(server, platform, "full", args.entries)
        bao = operator_bao(bao_server)
        asyncio.run(platform_ready(bao))
        try:
            asyncio.run(reconcile_path(server, settings, bao, args.history, args.rounds))
        finally:
            bao.close()
        verify_audit(server, settings, "full", args.entries)
        floor_queries(server, settings, "full", args.entries)
        floor_old_way(server, settings, "hist-big", args.history)
        floor_hashing(args.entries)


if __name__ == "__main__":
    main()
