"""Benchmark the PostgreSQL adapter on a throwaway local server.

    .venv/bin/python -m bench.postgres [--tenants 20] [--rows 1000000] [--appends 4000]

Starts its own PostgresServer with ``durable=False`` (fsync and synchronous_commit off, as
in the test suite), bootstraps the roles, migrates, then prints:

1. provision time per tenant for each tier (``ensure_tenant`` + owner account) against the
   raw floor: the same SQL, recorded from one adapter provision and replayed with a bare
   psycopg connection (bench/floor.py), and the ratio;
2. the RLS overhead on ``pipeline_runs`` (>= 1M rows, index on (tenant_id, started_at)):
   the same query run as the application role with the tenant context already set, with
   RLS enabled vs. disabled (the "RLS only" query gets the explicit tenant filter when RLS
   is off, so both return the same rows); best of 9 interleaved rounds of 300 queries
   (target: ratio <= 1.10);
3. audit appends per second with 8 concurrent writers on distinct tenants (target >= 3000/s).
"""

import argparse
import asyncio
import statistics
import time
import uuid

import psycopg

from bench.floor import Replayer, recording
from devenv.postgres import PostgresServer
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.adapters.postgres.tenants import ISOLATIONS, PostgresTenants
from tenant_operator.appkit import tenant_session_sync
from tenant_operator.domain.vocabulary import Isolation
from tenant_operator.settings import Settings
from tests.support.keys import ring
from tests.support.postgres import create_platform

DB = "bench"
WRITERS = 8
RECENT = (
    "SELECT id, status FROM integraci.pipeline_runs WHERE tenant_id = %s"
    " ORDER BY started_at DESC LIMIT 20"
)
RECENT_RLS_ONLY = "SELECT id, status FROM integraci.pipeline_runs ORDER BY started_at DESC LIMIT 20"
COUNT_DAY = (
    "SELECT count(*) FROM integraci.pipeline_runs WHERE tenant_id = %s"
    " AND started_at > %s::timestamptz - interval '30 days'"
)


async def provision(server: PostgresServer, settings: Settings, n: int) -> None:
    """Adapter ms per provision vs. the same SQL replayed bare (bench/floor.py), per tier."""
    dsn = server.dsn(DB, settings.operator_role)
    async with make_pool(dsn, settings) as pool:
        tenants = PostgresTenants(pool, settings)

        async def one(slug: str, isolation: Isolation) -> None:
            state = await tenants.ensure_tenant(
                slug, organisation="B", plan="team", isolation=isolation
            )
            await tenants.ensure_owner_account(
                state.tenant_id,
                name="O",
                email="o@b.example",
                keys=ring(state.tenant_id),
                organisation="Org",
            )

        for isolation in ISOLATIONS:
            recorded_slug = f"benchrec{isolation}"
            with recording() as rec:
                await one(recorded_slug, isolation)
            times = []
            for i in range(n):
                start = time.perf_counter()
                await one(f"benchad{isolation}{i}", isolation)
                times.append(time.perf_counter() - start)
            replayer = Replayer(dsn=dsn)
            raw = []
            try:
                for i in range(n):
                    start = time.perf_counter()
                    replayer.replay(rec.calls, recorded_slug, f"benchraw{isolation}{i}")
                    raw.append(time.perf_counter() - start)
            finally:
                replayer.close()
            adapter, floor = statistics.median(times), statistics.median(raw)
            print(
                f"provision {isolation:6s}: adapter median {adapter * 1000:6.1f} ms/tenant"
                f" (p90 {sorted(times)[int(n * 0.9) - 1] * 1000:6.1f} ms), replayed SQL"
                f" {floor * 1000:6.1f} ms -> ratio {adapter / floor:.2f}"
                f"  (n={n}; {rec.counts()})"
            )


def load_rows(server: PostgresServer, rows: int, tenants: int) -> uuid.UUID:
    with psycopg.connect(server.dsn(DB), autocommit=True) as su:
        su.execute(
            "INSERT INTO integraci.tenants (slug, plan, isolation)"  # organisation: sealed only
            " SELECT 'load-' || g, 'team', 'shared' FROM generate_series(1, %s) g",
            [tenants],
        )
        su.execute(
            "INSERT INTO integraci.pipeline_runs (tenant_id, pipeline, status, started_at)"
            " SELECT t.id, 'build', 'ok', '2026-01-01'::timestamptz + g * interval '1 minute'"
            " FROM (SELECT id, row_number() OVER () AS n FROM integraci.tenants"
            "       WHERE slug LIKE 'load-%%') t"
            " JOIN generate_series(1, %s) g ON true",
            [rows // tenants],
        )
        su.execute("VACUUM ANALYZE integraci.pipeline_runs")
        total = su.execute("SELECT count(*) FROM integraci.pipeline_runs").fetchone()
        row = su.execute("SELECT id FROM integraci.tenants WHERE slug = 'load-500'").fetchone()
    assert total is not None and row is not None
    print(f"loaded {total[0]:,} rows into integraci.pipeline_runs ({tenants} tenants)")
    return uuid.UUID(str(row[0]))


def time_query(
    conn: psycopg.Connection[tuple[object, ...]],
    tenant: uuid.UUID,
    query: str,
    params: list[object],
    n: int,
) -> float:
    with tenant_session_sync(conn, tenant):
        for _ in range(20):  # warm up, get the statement prepared
            conn.execute(query, params).fetchall()
        start = time.perf_counter()
        for _ in range(n):
            conn.execute(query, params).fetchall()
        return (time.perf_counter() - start) / n


def rls_ratio(server: PostgresServer, settings: Settings, tenant: uuid.UUID) -> None:
    cases = {
        "recent runs, explicit tenant filter": (RECENT, [tenant]),
        "recent runs, filter by RLS only": (RECENT_RLS_ONLY, []),
        "30-day count": (COUNT_DAY, [tenant, "2026-01-02"]),
    }
    su = psycopg.connect(server.dsn(DB), autocommit=True)
    app = psycopg.connect(server.dsn(DB, settings.app_role))
    try:
        for name, (query, params) in cases.items():
            with_rls, without = [], []
            for _ in range(9):  # interleave rounds to cancel drift
                with_rls.append(time_query(app, tenant, query, params, 300))
                su.execute("ALTER TABLE integraci.pipeline_runs DISABLE ROW LEVEL SECURITY")
                no_rls_query = RECENT if query == RECENT_RLS_ONLY else query
                no_rls_params = [tenant] if query == RECENT_RLS_ONLY else params
                without.append(time_query(app, tenant, no_rls_query, no_rls_params, 300))
                su.execute("ALTER TABLE integraci.pipeline_runs ENABLE ROW LEVEL SECURITY")
            # the best round of each side: least disturbed by other load on the machine
            a, b = min(with_rls), min(without)
            median = statistics.median(with_rls) / statistics.median(without)
            print(
                f"RLS {name:36s}: {a * 1e6:6.1f} us with RLS, {b * 1e6:6.1f} us without"
                f" -> ratio {a / b:.3f} (median-based {median:.3f}; target <= 1.10)"
            )
    finally:
        su.execute("ALTER TABLE integraci.pipeline_runs ENABLE ROW LEVEL SECURITY")
        su.close()
        app.close()


async def audit_rate(server: PostgresServer, settings: Settings, appends: int) -> None:
    dsn = server.dsn(DB, settings.operator_role)
    async with make_pool(dsn, settings, max_size=WRITERS) as pool:
        await pool.wait()
        log = AuditLog(pool, settings)

        async def writer(slug: str, n: int) -> None:
            for i in range(n):
                await log.append(slug, actor="bench", action="append", target="t", detail={"i": i})

        per_writer = appends // WRITERS
        start = time.perf_counter()
        await asyncio.gather(*(writer(f"audit-{w}", per_writer) for w in range(WRITERS)))
        elapsed = time.perf_counter() - start
        ok = all([(await log.verify(f"audit-{w}")).ok for w in range(WRITERS)])
    total = per_writer * WRITERS
    print(
        f"audit appends: {total / elapsed:,.0f}/s with {WRITERS} concurrent writers on distinct"
        f" tenants ({total} appends in {elapsed:.2f} s; chains verify: {ok}; target >= 3000/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=4000)
    args = parser.parse_args()
    settings = Settings(pool_min_size=1, pool_max_size=WRITERS)
    with PostgresServer(durable=False) as server:
        print(f"PostgreSQL {server.bin_dir} on 127.0.0.1:{server.port}, durable=False")
        create_platform(server, DB, settings)
        asyncio.run(provision(server, settings, args.tenants))
        tenant = load_rows(server, args.rows, 1000)
        rls_ratio(server, settings, tenant)
        asyncio.run(audit_rate(server, settings, args.appends))


if __name__ == "__main__":
    main()
