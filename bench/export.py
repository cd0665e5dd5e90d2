"""Benchmark the export of a tenant with 1,000,000 rows to a directory destination.

    .venv/bin/python -m bench.export [--rows 1000000] [--accounts 10000]

Starts its own PostgreSQL (``durable=False``) and OpenBao, loads one shared-tier tenant by
COPY (``--accounts`` sealed accounts, mostly pipeline_runs, some deploy_events and
usage_metrics; ``--rows`` in all), exports it through the real adapters and the export use
case (server-side cursors, temp files hashed as written, the USTAR tar, the transit
signature, the destination), and prints rows/s and RSS: sampled every 20 ms during the run,
at 100,000 rows and at each further 200,000, and the peak (goal >= 50,000 rows/s, RSS
flat). Then the raw floor: the same SELECTs in one snapshot read by a bare psycopg script
writing the same JSON Lines and CSV bytes (no hashing, no tar), and the ratio.
"""

import argparse
import asyncio
import io
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import psycopg
from psycopg import sql

from bench.audit import operator_bao
from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.export.bundle import BundleWriter
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.export import BATCH, PostgresExport
from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.adapters.postgres.statements import export as x
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.adapters.storage import FileDestination
from tenant_operator.controller.export import export
from tenant_operator.domain import bundle, envelope
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.export import RowSink
from tenant_operator.domain.vocabulary import Isolation
from tenant_operator.settings import Settings
from tests.support.keys import random_ring
from tests.support.postgres import create_platform

DB = "bench_export"
SLUG = "bench-export"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def rss_mib(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(server: PostgresServer, settings: Settings, rows: int, accounts: int) -> KeyRing:
    """The tenant, registered by the adapter, its rows by COPY (accounts sealed)."""

    async def register() -> uuid.UUID:
        pool = make_pool(server.dsn(DB, settings.operator_role), settings, max_size=1)
        await pool.open(wait=True)
        try:
            state = await PostgresTenants(pool, settings).ensure_tenant(
                SLUG, organisation="Bench Ltd", plan="team", isolation=Isolation.SHARED
            )
        finally:
            await pool.close()
        return state.tenant_id

    tenant_id = asyncio.run(register())
    keys = random_ring(tenant_id)
    p = settings.platform_schema
    runs, deploys, usage = rows - accounts - 20_000, 15_000, 5_000
    start = time.perf_counter()
    with psycopg.connect(server.dsn(DB), autocommit=True) as su:
        su.execute(
            sql.SQL(
                "UPDATE {} SET organisation_enc = %s, organisation = NULL WHERE id = %s"
            ).format(sql.Identifier(p, "tenants")),
            [keys.seal("Bench Ltd", envelope.ORGANISATION), tenant_id],
        )
        ids = [uuid.uuid4() for _ in range(accounts)]

        def copy(table: str, columns: Sequence[str], data: object) -> None:
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(p, table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with su.cursor().copy(statement) as cp:
                for row in data:  # type: ignore[attr-defined]
                    cp.write_row(row)

        copy(
            "accounts",
            ("tenant_id", "id", "email_enc", "name_enc", "email_bidx", "key_version"),
            (
                (
                    tenant_id,
                    i,
                    keys.seal(f"user{n}@bench.example", envelope.ACCOUNT_EMAIL),
                    keys.seal(f"User {n}", envelope.ACCOUNT_NAME),
                    keys.blind_index(f"user{n}@bench.example"),
                    1,
                )
                for n, i in enumerate(ids)
            ),
        )
        t0 = NOW - timedelta(days=90)
        copy(
            "pipeline_runs",
            ("tenant_id", "pipeline", "status", "started_at", "finished_at", "triggered_by"),
            (
                (
                    tenant_id,
                    f"pipeline-{n % 97}",
                    "succeeded" if n % 10 else "failed",
                    t0 + timedelta(seconds=n * 7),
                    t0 + timedelta(seconds=n * 7 + 300),
                    ids[n % accounts],
                )
                for n in range(runs)
            ),
        )
        copy(
            "deploy_events",
            ("tenant_id", "environment", "version", "at", "deployed_by"),
            (
                (
                    tenant_id,
                    ("prod", "staging")[n % 2],
                    f"v{n}",
                    t0 + timedelta(minutes=n),
                    ids[n % 50],
                )
                for n in range(deploys)
            ),
        )
        copy(
            "usage_metrics",
            ("tenant_id", "metric", "period_start", "quantity"),
            ((tenant_id, f"metric-{n % 5}", t0 + timedelta(hours=n), n) for n in range(usage)),
        )
        su.execute("VACUUM ANALYZE")
    total = accounts + runs + deploys + usage
    print(
        f"loaded {total:,} rows ({accounts:,} sealed accounts, {runs:,} pipeline_runs, "
        f"{deploys:,} deploy_events, {usage:,} usage_metrics)"
        f" in {time.perf_counter() - start:.1f} s"
    )
    return keys


class Sampler:
    """RSS every 20 ms in a thread, and at row milestones (100,000, then each 200,000)."""

    def __init__(self) -> None:
        self.rows = 0
        self.samples: list[tuple[float, int, float]] = []
        self.milestones: list[tuple[int, float]] = []
        self._next = 100_000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.perf_counter()
        while not self._stop.wait(0.02):
            self.samples.append((time.perf_counter() - start, self.rows, rss_mib()))

    def count(self, n: int) -> None:
        self.rows += n
        if self.rows >= self._next:
            self.milestones.append((self.rows, rss_mib()))
            self._next = 100_000 + 200_000 * len(self.milestones)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class _Counted:
    def __init__(self, sink: RowSink, sampler: Sampler) -> None:
        self.sink, self.sampler = sink, sampler

    def write_rows(self, rows: Sequence[Sequence[object]], /) -> None:
        self.sink.write_rows(rows)
        self.sampler.count(len(rows))

    def write_jsonl(self, lines: Sequence[str], /) -> None:
        self.sink.write_jsonl(lines)
        self.sampler.count(len(lines))

    def write_csv(self, data: bytes, /) -> None:
        self.sink.write_csv(data)


def counting_writer(sampler: Sampler, workdir: Path) -> type[BundleWriter]:
    class Counting(BundleWriter):
        def __init__(self) -> None:
            super().__init__(workdir)

        def table(self, name: str, columns: Sequence[str]) -> RowSink:  # type: ignore[override]
            return _Counted(super().table(name, columns), sampler)

        def jsonl(self, path: str, columns: Sequence[str]) -> RowSink:  # type: ignore[override]
            return _Counted(super().jsonl(path, columns), sampler)

    return Counting


def run_export(
    server: PostgresServer, settings: Settings, bao: OpenBaoTenants, keys: KeyRing, out: Path
) -> tuple[int, float, int]:
    work = out / "work"
    work.mkdir()
    dest = out / "dest"
    dest.mkdir()

    async def body() -> tuple[int, int]:
        await bao.ensure_platform()
        pool = make_pool(server.dsn(DB, settings.operator_role), settings, max_size=2)
        await pool.open(wait=True)
        try:
            with Sampler() as sampler:
                start_rss = rss_mib()
                t = time.perf_counter()
                result = await export(
                    PostgresExport(pool, settings, bao),
                    bao,
                    FileDestination(PurePosixPath(dest)),
                    counting_writer(sampler, work),
                    keys=keys,
                    subject=None,
                    request="bench",
                    uid="1",
                    now=NOW,
                )
                elapsed = time.perf_counter() - t
        finally:
            await pool.close()
        rows = sum(v for k, v in result.rows.items() if k != "audit")
        print(
            f"export: {rows:,} rows in {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s"
            f" (goal >= 50,000); bundle {(dest / 'bench-1.tar').stat().st_size / 2**20:,.0f} MiB"
            f" at {result.location}"
        )
        peak = max(s[2] for s in sampler.samples)
        print(
            f"  RSS: {start_rss:.0f} MiB before; "
            + ", ".join(f"{r:,} rows {m:.0f} MiB" for r, m in sampler.milestones)
            + f"; peak of {len(sampler.samples)} samples {peak:.0f} MiB"
            + f" (VmHWM {rss_mib('VmHWM'):.0f})"
        )
        tables = [f for f in result.files if f.path.startswith("tables/")]
        return rows, sum(f.bytes for f in tables if not f.path.startswith("tables/tenant."))

    t = time.perf_counter()
    rows, table_bytes = asyncio.run(body())
    elapsed = time.perf_counter() - t
    start = time.perf_counter()
    keys_pem = asyncio.run(bao.export_public_keys())
    verified = bundle.verify_path(dest / "bench-1.tar", keys_pem.get)
    print(
        f"  verify-export of it: OK in {time.perf_counter() - start:.2f} s "
        f"({len(verified.members)} members)"
    )
    return rows, elapsed, table_bytes


def floor(
    server: PostgresServer, settings: Settings, keys: KeyRing, out: Path
) -> tuple[int, float, int]:
    """The same SELECTs and COPYs in one snapshot, bare psycopg, the same bytes (accounts
    opened), no hashing, no tar, no signature."""
    p = settings.platform_schema
    start = time.perf_counter()
    rows = written = 0
    with psycopg.connect(server.dsn(DB, settings.operator_role)) as conn:
        conn.execute(x.BEGIN_SNAPSHOT)
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(settings.owner_role)))
        conn.execute(x.SNAPSHOT_SETTINGS)
        conn.execute("SELECT set_config('integraci.tenant_id', %s, true)", [str(keys.tenant_id)])
        params = {"tenant": keys.tenant_id}
        tables = [("accounts", x.ACCOUNT_COLUMNS, x.SELECT_ACCOUNTS), *x.TABLES]
        for table, columns, inner in tables:
            statement = x.render(inner, p, p)
            with (
                (out / f"{table}.jsonl").open("wb") as jf,
                (out / f"{table}.csv").open("wb") as cf,
            ):
                cf.write((",".join(columns) + "\n").encode())
                with conn.cursor(name="floor") as cur:
                    cur.itersize = BATCH
                    cur.execute(x.json_rows(statement), params)
                    while batch := cur.fetchmany(BATCH):
                        rows += len(batch)
                        if table != "accounts":
                            jf.write(("\n".join(r[0] for r in batch) + "\n").encode())
                            continue
                        opened = [open_account(keys, json.loads(r[0])) for r in batch]
                        jf.write("".join(bundle.jsonl_lines(columns, opened)).encode())
                        text = io.StringIO()
                        bundle.csv_writer(text).writerows(bundle.csv_rows(opened))
                        cf.write(text.getvalue().encode())
                if table != "accounts":
                    with conn.cursor().copy(x.csv_copy(statement, columns), params) as copy:
                        for data in copy:
                            cf.write(data)
                written += jf.tell() + cf.tell()
    return rows, time.perf_counter() - start, written


def open_account(keys: KeyRing, row: dict[str, object]) -> tuple[object, ...]:
    for column, sealed in (("email", "email_enc"), ("name", "name_enc")):
        blob = bytes.fromhex(str(row.pop(sealed))[2:])
        row[column] = keys.open(blob, f"accounts.{column}")
    return tuple(row[c] for c in x.ACCOUNT_COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    settings = Settings(pool_min_size=1, pool_max_size=2)
    with (
        PostgresServer(durable=False) as server,
        OpenBaoServer() as bao_server,
        tempfile.TemporaryDirectory(prefix="bench-export-") as tmp,
    ):
        print(f"PostgreSQL {server.bin_dir} durable=False; OpenBao {bao_server.addr}")
        create_platform(server, DB, settings)
        keys = load(server, settings, args.rows, args.accounts)
        bao = operator_bao(bao_server)
        try:
            _rows, elapsed, table_bytes = run_export(server, settings, bao, keys, Path(tmp))
        finally:
            bao.close()
        floor_dir = Path(tmp) / "floor"
        floor_dir.mkdir()
        f_rows, f_elapsed, f_bytes = floor(server, settings, keys, floor_dir)
        print(
            f"floor (bare psycopg, same SELECTs and bytes, no hashing/tar): {f_rows:,} rows in "
            f"{f_elapsed:.2f} s = {f_rows / f_elapsed:,.0f} rows/s; "
            f"{'same' if f_bytes == table_bytes else 'DIFFERENT'} table bytes ({f_bytes:,})"
        )
        print(
            f"ratio export/floor (whole run, incl. tar, signature, copy): {elapsed / f_elapsed:.2f}"
        )


if __name__ == "__main__":
    main()
