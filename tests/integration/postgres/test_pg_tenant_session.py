"""Attacks on ``tenant_session`` under pooling: savepoints, nesting, temp-table shadowing."""

import asyncio
import uuid

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.appkit import TenantSessionError, tenant_session, tenant_session_sync

pytestmark = pytest.mark.integration

CONTEXT = "SELECT current_setting('integraci.tenant_id', true)"


@pytest.fixture(scope="module")
def tenants(pg) -> dict[str, uuid.UUID]:
    async def provision() -> dict[str, uuid.UUID]:
        async with pg.pool() as pool:
            t = PostgresTenants(pool, pg.settings)
            a = await t.ensure_tenant("sess-a", organisation="A", plan="team", isolation="schema")
            b = await t.ensure_tenant("sess-b", organisation="B", plan="team", isolation="shared")
            return {"a": a.tenant_id, "b": b.tenant_id}

    return asyncio.run(provision())


def context(conn: psycopg.Connection[tuple[object, ...]]) -> object:
    row = conn.execute(CONTEXT).fetchone()
    assert row is not None
    return row[0]


def test_session_inside_an_open_transaction_is_refused_and_sets_nothing(pg, tenants) -> None:
    """psycopg turns conn.transaction() into a savepoint: the context would outlive the block."""
    with psycopg.connect(pg.app_dsn) as conn:
        conn.execute("SELECT 1")  # the caller's transaction is open now
        raised: Exception | None = None
        try:
            with tenant_session_sync(conn, tenants["a"]):
                pass
        except RuntimeError as exc:
            raised = exc
        assert context(conn) in (None, ""), "the tenant context leaked past the block"
        assert isinstance(raised, TenantSessionError)
        assert "already in a transaction" in str(raised)
        assert "commit or roll back" in str(raised)


def test_nested_session_for_another_tenant_is_refused_and_keeps_the_outer_context(
    pg, tenants
) -> None:
    a, b = str(tenants["a"]), str(tenants["b"])
    with psycopg.connect(pg.app_dsn) as conn:
        with tenant_session_sync(conn, tenants["a"], schema="t_sess_a"):
            raised: Exception | None = None
            try:
                with tenant_session_sync(conn, tenants["b"]):
                    pass
            except RuntimeError as exc:
                raised = exc
            assert context(conn) == a, f"A's block now runs as {b!r}"
            assert isinstance(raised, TenantSessionError)
            assert "already inside tenant_session" in str(raised)
        with conn.transaction():
            assert context(conn) in (None, "")


def test_async_twin_refuses_open_transactions_and_nesting(pg, tenants) -> None:
    async def main() -> tuple[object, object, str, str]:
        async with await psycopg.AsyncConnection.connect(pg.app_dsn) as conn:
            await conn.execute("SELECT 1")
            with pytest.raises(TenantSessionError, match="already in a transaction") as first:
                async with tenant_session(conn, tenants["a"]):
                    pass
            leaked = (await (await conn.execute(CONTEXT)).fetchone() or [None])[0]
            await conn.rollback()
            async with tenant_session(conn, tenants["a"]):
                with pytest.raises(TenantSessionError, match="already inside") as second:
                    async with tenant_session(conn, tenants["b"]):
                        pass
                inner = (await (await conn.execute(CONTEXT)).fetchone() or [None])[0]
            return leaked, inner, str(first.value), str(second.value)

    leaked, inner, _, _ = asyncio.run(main())
    assert leaked in (None, "")
    assert inner == str(tenants["a"])


def test_a_session_level_context_on_a_pooled_connection_is_refused(pg, tenants) -> None:
    """set_config(..., false) left by earlier code would come back after the block."""
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('integraci.tenant_id', %s, false)", [str(tenants["b"])])
        with (
            pytest.raises(TenantSessionError, match="session-level tenant context"),
            tenant_session_sync(conn, tenants["a"]),
        ):
            pass
        conn.execute("RESET integraci.tenant_id")
        with tenant_session_sync(conn, tenants["a"]):
            assert context(conn) == str(tenants["a"])


def test_a_temp_table_on_the_connection_cannot_shadow_the_tenant_table(pg, tenants) -> None:
    """search_path = <schema>, pg_catalog, pg_temp: the tenant's table wins over pg_temp."""
    # The application role cannot create temp tables (engine side); a superuser connection
    # stands in for a pooled connection that a privileged client left a temp table on.
    with psycopg.connect(pg.superuser_dsn) as su:
        su.execute("CREATE TEMP TABLE pipeline_runs (tenant_id uuid, id uuid, status text)")
        su.commit()
        with tenant_session_sync(su, tenants["a"], schema="t_sess_a"):
            resolved = su.execute(
                "SELECT relnamespace::regnamespace::text FROM pg_class"
                " WHERE oid = to_regclass('pipeline_runs')"
            ).fetchone()
            path = su.execute("SHOW search_path").fetchone()
        assert resolved == ("t_sess_a",), "a temp table shadows the tenant's table"
        assert path == ("t_sess_a, pg_catalog, pg_temp",)
        with tenant_session_sync(su, tenants["b"]):
            assert su.execute("SHOW search_path").fetchone() == ("pg_catalog, pg_temp",)


def test_the_application_role_cannot_create_temp_tables(pg, tenants) -> None:
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        for statement in (
            "CREATE TEMP TABLE pipeline_runs (tenant_id uuid)",
            "CREATE TEMPORARY VIEW accounts AS SELECT 1 AS tenant_id",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary"):
                conn.execute(statement)
        row = conn.execute("SELECT has_database_privilege(current_database(), 'TEMP')").fetchone()
        assert row == (False,)
    with pg.superuser() as su:
        cur = su.execute(
            sql.SQL("SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner")
            + sql.SQL(" WHERE c.relpersistence = 't' AND r.rolname = %s"),
            [pg.settings.app_role],
        )
        assert cur.fetchone() == (0,)


def test_misuse_errors_are_typed_runtime_errors() -> None:
    assert issubclass(TenantSessionError, RuntimeError)


def test_a_with_hold_cursor_cannot_carry_rows_to_the_next_session(pg, tenants) -> None:
    """A WITH HOLD cursor outlives the commit: the next borrower could FETCH A's rows."""
    a = tenants["a"]
    with psycopg.connect(pg.app_dsn) as conn:
        with tenant_session_sync(conn, a, schema="t_sess_a"):
            conn.execute(
                "INSERT INTO pipeline_runs (tenant_id, pipeline, status) VALUES (%s, 'p', 's')", [a]
            )
        raised: Exception | None = None
        try:
            with tenant_session_sync(conn, a, schema="t_sess_a"):
                conn.execute("DECLARE stash CURSOR WITH HOLD FOR SELECT * FROM pipeline_runs")
        except RuntimeError as exc:
            raised = exc
        with tenant_session_sync(conn, tenants["b"]) if raised else conn.transaction():
            held = conn.execute("SELECT count(*) FROM pg_cursors WHERE is_holdable").fetchone()
        assert held == (0,), "tenant a's rows are held on the connection for the next user"
        assert isinstance(raised, TenantSessionError)
        assert "WITH HOLD" in str(raised)
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        conn.execute("DECLARE left_over CURSOR WITH HOLD FOR SELECT 1")
        with (
            pytest.raises(TenantSessionError, match="WITH HOLD cursor"),
            tenant_session_sync(conn, a),
        ):
            pass
        conn.execute("CLOSE left_over")
