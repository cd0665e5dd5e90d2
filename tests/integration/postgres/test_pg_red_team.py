"""Red team: the application role, in tenant A's session, after anything of tenant B.

Side channels of the catalog (tenant ids in constraint definitions, which are the key to
another tenant's context), statistics counters and planner estimates, and misuse of
``tenant_session`` under a pool (exceptions, cancellation, pipeline mode, autocommit, a
failed transaction, LISTEN).
"""

import asyncio
import re
import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from tenant_operator.adapters.postgres.isolation import verify_isolation
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.template import TEMPLATE_VERSION
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.appkit import (
    TenantSessionError,
    insert_account_sync,
    tenant_session,
    tenant_session_sync,
)
from tests.support.keys import ring
from tests.support.postgres import ensure_tenants

pytestmark = pytest.mark.integration

Row = tuple[object, ...]
CONTEXT = "SELECT current_setting('integraci.tenant_id', true)"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SECRET = "acme-merger-secret"


@pytest.fixture(scope="module")
def t(pg) -> dict[str, uuid.UUID]:
    """Schema tenants a and b, shared tenants c and d, each with an owner account."""

    async def provision() -> dict[str, uuid.UUID]:
        async with pg.tenants() as ts:
            ids = await ensure_tenants(
                ts, "rt", {"a": "schema", "b": "schema", "c": "shared", "d": "shared"}
            )
            for key in ids:
                await ts.ensure_owner_account(
                    ids[key],
                    name="Owner",
                    email=f"owner@{key}.test",
                    keys=ring(ids[key]),
                    organisation="Org",
                )
            return ids

    ids = asyncio.run(provision())
    # tenant b (schema tier) and d (shared tier) run a confidential pipeline, many times
    with pg.superuser() as su:
        for schema, key in (("t_rt_b", "b"), (pg.settings.platform_schema, "d")):
            su.execute(
                sql.SQL(
                    "INSERT INTO {} (tenant_id, pipeline, status)"
                    " SELECT %s, %s, 'ok' FROM generate_series(1, 200)"
                ).format(sql.Identifier(schema, "pipeline_runs")),
                [ids[key], SECRET],
            )
        su.execute("ANALYZE")
    return ids


def snapshot(pg, schema: str, table: str) -> list[Row]:
    with pg.superuser() as su:
        query = sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(sql.Identifier(schema, table))
        return su.execute(query).fetchall()


def context(conn: psycopg.Connection[Row]) -> object:
    row = conn.execute(CONTEXT).fetchone()
    assert row is not None
    return row[0]


# --- the catalog: tenant ids are the key to a tenant's context ------------------------------

#: Catalog text the application role can read (world-readable catalogs).
CATALOG_TEXT = (
    "SELECT pg_get_constraintdef(oid) FROM pg_constraint",
    "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef",
    "SELECT coalesce(qual, '') || coalesce(with_check, '') FROM pg_policies",
    "SELECT pg_get_triggerdef(oid) FROM pg_trigger",
    "SELECT prosrc FROM pg_proc",
    "SELECT definition FROM pg_views",
    "SELECT description FROM pg_description",
    "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting",
    "SELECT pg_get_indexdef(indexrelid) FROM pg_index",
)


def test_no_tenant_id_is_readable_from_the_catalog(pg, t) -> None:
    """Whoever knows B's id can set B's context: the id must appear in no catalog text.

    The schema-tier CHECK ``tenant_rows_only`` spelled the tenant's uuid out in
    ``pg_constraint``: A's session read it, set B's context and read all of B's rows.
    """
    found: set[str] = set()
    with psycopg.connect(pg.app_dsn) as conn:
        with tenant_session_sync(conn, t["a"], schema="t_rt_a"):
            for query in CATALOG_TEXT:
                for (text,) in conn.execute(query).fetchall():
                    found.update(UUID_RE.findall(str(text or "")))
        stolen: list[Row] = []
        for candidate in found:
            with tenant_session_sync(conn, uuid.UUID(candidate)):
                stolen += conn.execute("SELECT email FROM t_rt_b.accounts").fetchall()
    leaked = {k for k, v in t.items() if str(v) in found}
    assert not leaked, f"tenant ids of {sorted(leaked)} are readable in the catalog"
    assert stolen == []


def test_schema_tier_still_refuses_another_tenants_rows(pg, t) -> None:
    """The hashed CHECK binds the schema to its tenant as the plain one did."""
    before = snapshot(pg, "t_rt_a", "pipeline_runs")
    with (
        psycopg.connect(pg.app_dsn) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="tenant_rows_only"),
        tenant_session_sync(conn, t["b"]),
    ):
        conn.execute(
            "INSERT INTO t_rt_a.pipeline_runs (tenant_id, pipeline, status) VALUES (%s, 'x', 'y')",
            [t["b"]],
        )
    assert snapshot(pg, "t_rt_a", "pipeline_runs") == before
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, t["a"], schema="t_rt_a"):
        conn.execute(
            "INSERT INTO pipeline_runs (tenant_id, pipeline, status) VALUES (%s, 'own', 'ok')",
            [t["a"]],
        )
        assert conn.execute("SELECT count(*) FROM pipeline_runs").fetchone() == (1,)


def test_upgrade_to_v4_hides_the_id_and_drops_statistics_of_a_v3_schema(pg, t) -> None:
    """A v3 schema (plain id in its CHECK, ANALYZEd values) upgrades in place, rows kept."""

    async def ensure(version: int | None) -> tuple[uuid.UUID, int | None]:
        async with pg.pool() as pool:
            state = await PostgresTenants(
                pool, pg.settings, template_version=version
            ).ensure_tenant("rt-old", organisation="O", plan="team", isolation="schema")
            return state.tenant_id, state.schema_version

    async def verify() -> tuple[str, ...]:
        async with pg.pool() as pool:
            return (await verify_isolation(pool, pg.settings, "rt-old")).problems

    old, version = asyncio.run(ensure(3))
    assert version == 3
    with pg.superuser() as su:
        su.execute(
            "INSERT INTO t_rt_old.pipeline_runs (tenant_id, pipeline, status)"
            " SELECT %s, %s, 'ok' FROM generate_series(1, 50)",
            [old, SECRET],
        )
        su.execute("ANALYZE t_rt_old.pipeline_runs")
        defs = su.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tenant_rows_only'"
            " AND connamespace = 't_rt_old'::regnamespace"
        ).fetchall()
    assert len(defs) == 5 and all(str(old) in str(d) for (d,) in defs)
    assert asyncio.run(verify()) == ()
    before = snapshot(pg, "t_rt_old", "pipeline_runs")
    assert asyncio.run(ensure(None)) == (old, TEMPLATE_VERSION)
    with pg.superuser() as su:
        defs = su.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tenant_rows_only'"
            " AND connamespace = 't_rt_old'::regnamespace"
        ).fetchall()
        stats = su.execute(
            "SELECT a.attname FROM pg_statistic s JOIN pg_attribute a"
            " ON a.attrelid = s.starelid AND a.attnum = s.staattnum"
            " WHERE s.starelid = 't_rt_old.pipeline_runs'::regclass"
        ).fetchall()
    assert len(defs) == 5 and not any(str(old) in str(d) for (d,) in defs)
    # tenant_id (in the policy) cannot be re-typed: its old statistics wait for the bootstrap
    assert stats == [("tenant_id",)]
    asyncio.run(bootstrap_roles(pg.superuser_dsn, pg.settings))
    with pg.superuser() as su:
        stats = su.execute(
            "SELECT count(*) FROM pg_statistic WHERE starelid = 't_rt_old.pipeline_runs'::regclass"
        ).fetchall()
    assert stats == [(0,)]
    after = snapshot(pg, "t_rt_old", "pipeline_runs")
    # the same rows; template v5 added triggered_by (NULL: no account named)
    assert [row[:-1] for row in after] == before and all(row[-1] is None for row in after)
    assert asyncio.run(verify()) == ()


# --- statistics: counters, pg_stats, planner estimates --------------------------------------


STAT_READS = (
    "SELECT n_live_tup, n_tup_ins FROM pg_stat_user_tables WHERE relid = %s::regclass",
    "SELECT pg_stat_get_live_tuples(%s::regclass)",
    "SELECT pg_stat_get_tuples_inserted(%s::regclass)",
    "SELECT heap_blks_read + heap_blks_hit FROM pg_statio_user_tables WHERE relid = %s::regclass",
)


@pytest.mark.parametrize("table", ["t_rt_b.pipeline_runs", "shared.pipeline_runs"])
def test_statistics_counters_do_not_count_other_tenants_rows(pg, t, table) -> None:
    """pg_stat_user_tables counted B's rows (schema tier: exactly) for A's session."""
    if table.startswith("shared."):
        table = f"{pg.settings.platform_schema}.pipeline_runs"
    seen: list[object] = []
    with psycopg.connect(pg.app_dsn) as conn:
        for query in STAT_READS:
            try:
                with tenant_session_sync(conn, t["a"], schema="t_rt_a"):
                    seen.append(conn.execute(query, [table]).fetchone())
            except psycopg.errors.InsufficientPrivilege as exc:
                assert "permission denied for function pg_stat_get_" in str(exc)
    assert seen == [], f"A's session reads counters of {table}: {seen}"
    with pg.superuser() as su:  # monitoring keeps them (pg_read_all_stats)
        row = su.execute(
            "SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = %s::regclass", [table]
        ).fetchone()
        assert row is not None and int(str(row[0])) >= 200
        assert su.execute(
            "SELECT has_function_privilege('pg_read_all_stats',"
            " 'pg_stat_get_live_tuples(oid)', 'EXECUTE')"
        ).fetchone() == (True,)


def test_verifier_reports_statistics_counters_open_to_the_app_role(pg, t) -> None:
    async def problems() -> tuple[str, ...]:
        async with pg.pool() as pool:
            return (await verify_isolation(pool, pg.settings, "rt-c")).problems

    assert asyncio.run(problems()) == ()
    with pg.superuser() as su:
        su.execute("GRANT EXECUTE ON FUNCTION pg_stat_get_live_tuples(oid) TO PUBLIC")
    try:
        assert asyncio.run(problems()) == (
            f"application role {pg.settings.app_role} can execute"
            " pg_stat_get_live_tuples(oid) (statistics of every tenant's rows or sessions):"
            " re-run bootstrap-roles",
        )
    finally:
        with pg.superuser() as su:
            su.execute("REVOKE EXECUTE ON FUNCTION pg_stat_get_live_tuples(oid) FROM PUBLIC")


def test_other_sessions_query_texts_are_not_readable(pg, t) -> None:
    """All tenants share the app role, and pg_stat_activity shows a role its own sessions."""
    secret = "owner-secret@b.test"
    with psycopg.connect(pg.app_dsn) as b, psycopg.connect(pg.app_dsn) as a:

        def run_b() -> None:
            with tenant_session_sync(b, t["b"]):
                b.execute(sql.SQL("SELECT pg_sleep(1.5), {}").format(sql.Literal(secret)))

        worker = threading.Thread(target=run_b)
        worker.start()
        time.sleep(0.5)
        seen: list[object] = []
        for query in (
            "SELECT query FROM pg_stat_activity WHERE pid = %s",
            "SELECT pg_stat_get_backend_activity(s) FROM pg_stat_get_backend_idset() s"
            " WHERE pg_stat_get_backend_pid(s) = %s",
        ):
            try:
                with tenant_session_sync(a, t["a"], schema="t_rt_a"):
                    seen += [r[0] for r in a.execute(query, [b.info.backend_pid]).fetchall()]
            except psycopg.errors.InsufficientPrivilege as exc:
                assert "permission denied for function pg_stat_get_" in str(exc)
        worker.join()
    assert not [q for q in seen if secret in str(q)], f"A's session reads B's query: {seen}"


def test_pg_stats_shows_no_tenant_table(pg, t) -> None:
    """PostgreSQL hides pg_stats rows of tables whose RLS applies to the reader."""
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, t["a"], schema="t_rt_a"):
        rows = conn.execute(
            "SELECT schemaname, tablename, attname FROM pg_stats"
            " WHERE schemaname = %s OR schemaname LIKE 't\\_%%'",
            [pg.settings.platform_schema],
        ).fetchall()
        ext = conn.execute("SELECT count(*) FROM pg_stats_ext").fetchone()
        stat = None
        try:
            with conn.transaction():
                stat = conn.execute("SELECT count(*) FROM pg_statistic").fetchone()
        except psycopg.errors.InsufficientPrivilege:
            pass
    assert rows == [] and ext == (0,) and stat is None


def estimate(conn: psycopg.Connection[Row], query: sql.Composable, params: list[object]) -> int:
    plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query), params).fetchone()
    assert plan is not None
    return int(plan[0][0]["Plan"]["Plan Rows"])  # type: ignore[index]


@pytest.mark.parametrize("attacker", ["a", "c"])
def test_planner_estimates_do_not_reveal_other_tenants_values(pg, t, attacker) -> None:
    """EXPLAIN estimated 100 rows for B's pipeline name and 1 for an unknown one.

    texteq is leakproof, so under RLS the planner still uses the column's statistics (MCV
    lists of every tenant's values); the estimate multiplies by the frequency of the
    session's own tenant_id, which a shared-tier attacker raises by inserting rows of its
    own. From template v4 no tenant value column has statistics (SET STATISTICS 0).
    """
    schema = "t_rt_b" if attacker == "a" else pg.settings.platform_schema
    table = sql.Identifier(schema, "pipeline_runs")
    query = sql.SQL("SELECT * FROM {} WHERE pipeline = %s").format(table)
    with psycopg.connect(pg.app_dsn) as conn:
        if attacker == "c":  # make its own tenant_id frequent in the shared table
            with tenant_session_sync(conn, t["c"]):
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (tenant_id, pipeline, status)"
                        " SELECT %s, 'mine', 'ok' FROM generate_series(1, 200)"
                    ).format(table),
                    [t["c"]],
                )
            with pg.superuser() as su:  # stands in for autovacuum's ANALYZE
                su.execute(sql.SQL("ANALYZE {}").format(table))
        try:
            with tenant_session_sync(conn, t[attacker]):
                secret = estimate(conn, query, [SECRET])
                unknown = estimate(conn, query, ["no-such-pipeline-" + uuid.uuid4().hex])
                own = conn.execute(query, [SECRET]).fetchall()
        finally:
            with tenant_session_sync(conn, t[attacker]):
                conn.execute(sql.SQL("DELETE FROM {} WHERE pipeline = 'mine'").format(table))
    assert own == []
    assert secret == unknown, f"EXPLAIN estimates {secret} rows for {SECRET!r}, {unknown} else"


def test_planner_estimates_do_not_reveal_other_tenants_ids(pg, t) -> None:
    """Binary search on EXPLAIN estimates of ``tenant_id < X`` recovered D's id exactly.

    uuid_lt is leakproof, so the planner used tenant_id's histogram and MCV list (the ids
    present in the shared table): the estimate steps at each of them. About 128 EXPLAINs
    gave D's id, and with it D's context and every row of D. From template v4 tenant_id
    has no statistics either.
    """
    p = sql.Identifier(pg.settings.platform_schema, "pipeline_runs")
    query = sql.SQL("SELECT * FROM {} WHERE tenant_id < %s").format(p)
    mine = t["c"].int
    with psycopg.connect(pg.app_dsn) as conn:
        with tenant_session_sync(conn, t["c"]):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (tenant_id, pipeline, status)"
                    " SELECT %s, 'mine', 'ok' FROM generate_series(1, 200)"
                ).format(p),
                [t["c"]],
            )
        with pg.superuser() as su:  # stands in for autovacuum's ANALYZE
            su.execute(sql.SQL("ANALYZE {}").format(p))
        try:
            with tenant_session_sync(conn, t["c"]):

                def rows_below(x: int) -> int:
                    return estimate(conn, query, [uuid.UUID(int=x)])

                # a step above or below the attacker's own id is another tenant's id
                lo, hi = (mine + 1, 2**128 - 1)
                if rows_below(lo) == rows_below(hi):
                    lo, hi = 0, mine
                found = None
                if rows_below(lo) != rows_below(hi):
                    low = rows_below(lo)
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        lo, hi = (mid, hi) if rows_below(mid) == low else (lo, mid)
                    found = uuid.UUID(int=lo)
            stolen: list[Row] = []
            if found is not None:
                with tenant_session_sync(conn, found):
                    stolen = conn.execute(sql.SQL("SELECT pipeline FROM {}").format(p)).fetchall()
        finally:
            with tenant_session_sync(conn, t["c"]):
                conn.execute(sql.SQL("DELETE FROM {} WHERE pipeline = 'mine'").format(p))
    assert found not in set(t.values()), f"EXPLAIN estimates gave away tenant id {found}"
    assert stolen == []


# --- keys: no existence oracle across tenants ----------------------------------------------


def test_every_unique_key_and_foreign_key_leads_with_tenant_id(pg, t) -> None:
    """A unique violation on (tenant_id, email) can only be about the session's own tenant."""
    with pg.superuser() as su:
        rows = su.execute(
            "SELECT n.nspname, c.relname, i.indexrelid::regclass::text,"
            " (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid"
            "  AND a.attnum = i.indkey[0])"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE i.indisunique AND (n.nspname = %s OR n.nspname LIKE 't\\_%%')"
            " AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
            "  AND a.attname = 'tenant_id')",
            [pg.settings.platform_schema],
        ).fetchall()
        fks = su.execute(
            "SELECT k.conrelid::regclass::text, k.confrelid::regclass::text, k.conkey"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE k.contype = 'f' AND (n.nspname = %s OR n.nspname LIKE 't\\_%%')"
            # the sub-processor register is the same for every tenant (public by the DPA)
            " AND k.confrelid <> %s::regclass",
            [pg.settings.platform_schema, f"{pg.settings.platform_schema}.subprocessors"],
        ).fetchall()
    assert rows and all(r[3] == "tenant_id" for r in rows), [r for r in rows if r[3] != "tenant_id"]
    assert fks
    for child, _parent, conkey in fks:
        with pg.superuser() as su:
            first = su.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = %s",
                [child, conkey[0]],  # type: ignore[index]
            ).fetchone()
        assert first == ("tenant_id",), (child, conkey)
    # the same email in two tenants is no conflict: nothing tells A that B has it (and the
    # blind indexes differ: each is keyed by its tenant's data key)
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, t["c"]):
        p = sql.Identifier(pg.settings.platform_schema, "accounts")
        added = insert_account_sync(
            conn, ring(t["c"]), schema=pg.settings.platform_schema, email="owner@d.test", name="x"
        )
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(p)).fetchone() == (2,)
        # leave nothing behind
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(p), [added])


# --- tenant_session under a pool ------------------------------------------------------------


def test_an_exception_inside_the_block_rolls_back_and_leaves_no_context(pg, t) -> None:
    before = snapshot(pg, "t_rt_a", "pipeline_runs")
    with ConnectionPool(pg.app_dsn, min_size=1, max_size=1, open=True) as pool:
        with (
            pytest.raises(ZeroDivisionError),
            pool.connection() as conn,
            tenant_session_sync(conn, t["a"], schema="t_rt_a"),
        ):
            conn.execute(
                "INSERT INTO pipeline_runs (tenant_id, pipeline, status)"
                " VALUES (%s, 'half', 'done')",
                [t["a"]],
            )
            _ = 1 / 0
        with pool.connection() as conn:  # the same connection, for the next borrower
            assert context(conn) in (None, "")
            assert conn.execute("SELECT count(*) FROM t_rt_a.pipeline_runs").fetchone() == (0,)
            conn.rollback()
            with tenant_session_sync(conn, t["b"]):
                assert context(conn) == str(t["b"])
    assert snapshot(pg, "t_rt_a", "pipeline_runs") == before


def test_cancellation_mid_block_leaves_no_context_on_the_pooled_connection(pg, t) -> None:
    """asyncio.CancelledError while a statement runs inside the block."""

    async def main() -> tuple[object, object, object]:
        async with AsyncConnectionPool(pg.app_dsn, min_size=1, max_size=1, open=False) as pool:
            started = asyncio.Event()

            async def victim() -> None:
                async with pool.connection() as conn, tenant_session(conn, t["a"]):
                    await conn.execute(
                        "INSERT INTO t_rt_a.pipeline_runs (tenant_id, pipeline, status)"
                        " VALUES (%s, 'cancelled', 'x')",
                        [t["a"]],
                    )
                    started.set()
                    await conn.execute("SELECT pg_sleep(30)")

            task = asyncio.create_task(victim())
            await started.wait()
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with pool.connection() as conn:
                ctx = (await (await conn.execute(CONTEXT)).fetchone() or [None])[0]
                rows = await (
                    await conn.execute("SELECT count(*) FROM t_rt_a.pipeline_runs")
                ).fetchone()
                await conn.rollback()
                async with tenant_session(conn, t["b"]):
                    other = (await (await conn.execute(CONTEXT)).fetchone() or [None])[0]
            return ctx, rows, other

    ctx, rows, other = asyncio.run(main())
    assert ctx in (None, "")
    assert rows == (0,)
    assert other == str(t["b"])
    with pg.superuser() as su:
        left = su.execute(
            "SELECT count(*) FROM t_rt_a.pipeline_runs WHERE pipeline = 'cancelled'"
        ).fetchone()
    assert left == (0,)


def test_pipeline_mode_autocommit_and_failed_transactions(pg, t) -> None:
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        with conn.pipeline(), tenant_session_sync(conn, t["a"], schema="t_rt_a"):
            cur = conn.execute(CONTEXT)
            conn.execute("SELECT count(*) FROM accounts")
        assert cur.fetchone() == (str(t["a"]),)
        assert context(conn) in (None, "")  # autocommit: the context went with the block
        with (
            pytest.raises(TenantSessionError, match="already in a transaction"),
            conn.pipeline() as pipeline,
        ):
            conn.execute("BEGIN")
            conn.execute("SELECT 1")
            pipeline.sync()
            with tenant_session_sync(conn, t["b"]):
                pass
        conn.execute("ROLLBACK")
    with psycopg.connect(pg.app_dsn) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        with (
            pytest.raises(TenantSessionError, match="INERROR"),
            tenant_session_sync(conn, t["a"]),
        ):
            pass
        conn.rollback()
        with tenant_session_sync(conn, t["a"]):
            assert context(conn) == str(t["a"])


def test_a_listen_cannot_carry_notifications_to_the_next_session(pg, t) -> None:
    """LISTEN outlives the block: the connection's next borrower would get A's notifications."""
    with psycopg.connect(pg.app_dsn) as conn:
        with tenant_session_sync(conn, t["a"]):
            conn.execute("LISTEN tenant_a_events")
        with conn.transaction():
            channels = conn.execute("SELECT pg_listening_channels()").fetchall()
        assert channels == [], "a channel of tenant a keeps delivering on the pooled connection"
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        conn.execute("LISTEN left_over")
        with (
            pytest.raises(TenantSessionError, match="LISTEN"),
            tenant_session_sync(conn, t["a"]),
        ):
            pass
        conn.execute("UNLISTEN *")
        with tenant_session_sync(conn, t["a"]):
            assert context(conn) == str(t["a"])


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT set_config('integraci.tenant_id', %s, false)",
        "SELECT set_config('integraci.tenant_id', %s, true)",
    ],
)
def test_a_block_that_changes_the_context_is_rolled_back(pg, t, statement) -> None:
    """A session-level context set inside A's block stayed on the connection after it.

    Code on that pooled connection outside tenant_session (an ORM query, a health check)
    then ran as B; a block switching to B at transaction level wrote B's rows under A's name.
    """
    p = sql.Identifier(pg.settings.platform_schema, "pipeline_runs")
    before = snapshot(pg, pg.settings.platform_schema, "pipeline_runs")
    with psycopg.connect(pg.app_dsn) as conn:
        raised: Exception | None = None
        try:
            with tenant_session_sync(conn, t["c"]):
                conn.execute(statement, [str(t["d"])])
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (tenant_id, pipeline, status) VALUES (%s, 'planted', 'x')"
                    ).format(p),
                    [t["d"]],
                )
        except TenantSessionError as exc:
            raised = exc
        leaked = context(conn)
        seen = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(p)).fetchone()
        conn.rollback()
    assert leaked in (None, ""), f"the connection kept tenant d's context: {leaked}"
    assert seen == (0,)
    assert snapshot(pg, pg.settings.platform_schema, "pipeline_runs") == before
    assert isinstance(raised, TenantSessionError) and "changed the tenant context" in str(raised)


def test_copy_shows_only_own_rows_and_cannot_write(pg, t) -> None:
    p = sql.Identifier(pg.settings.platform_schema, "pipeline_runs")
    before = snapshot(pg, pg.settings.platform_schema, "pipeline_runs")
    with psycopg.connect(pg.app_dsn) as conn:
        with (
            tenant_session_sync(conn, t["c"]),
            conn.cursor().copy(sql.SQL("COPY {} (tenant_id) TO STDOUT").format(p)) as out,
        ):
            tenants = {bytes(row).strip() for row in out}
        with (
            pytest.raises(psycopg.errors.FeatureNotSupported, match="row-level security"),
            tenant_session_sync(conn, t["c"]),
            conn.cursor().copy(
                sql.SQL("COPY {} (tenant_id, pipeline, status) FROM STDIN").format(p)
            ) as copy,
        ):
            copy.write_row([t["d"], "copied", "x"])
    assert tenants <= {str(t["c"]).encode()}
    assert snapshot(pg, pg.settings.platform_schema, "pipeline_runs") == before


def test_known_limits_what_the_app_role_still_sees(pg, t) -> None:
    """Documented in SECURITY.md: coarse sizes, schema-tier slugs, global NOTIFY channels.

    None of these gives a row, a value or an id of another tenant; each shows the current
    behaviour so that a change (for better or worse) is noticed.
    """
    p = f"{pg.settings.platform_schema}.pipeline_runs"
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, t["c"]):
        # the shared tables' approximate size (all tenants together), from pg_class
        reltuples, size = conn.execute(
            "SELECT reltuples, pg_relation_size(oid) FROM pg_class WHERE oid = %s::regclass",
            [p],
        ).fetchone() or (None, None)
        # the slugs of the schema-tier tenants, from their schema names
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_rt\\_%%' ORDER BY 1"
        ).fetchall()
        # NOTIFY has no privilege: any session may send on any channel
        conn.execute("NOTIFY tenant_d_events, 'from c'")
    assert reltuples is not None and float(str(reltuples)) >= 200 and int(str(size)) > 0
    assert ("t_rt_a",) in schemas and ("t_rt_b",) in schemas
