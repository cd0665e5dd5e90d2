"""Cross-tenant attacks as the application role fail closed, in both isolation tiers."""

import asyncio
import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.isolation import verify_isolation
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.appkit import tenant_session_sync

pytestmark = pytest.mark.integration

INSERT_RUN = "INSERT INTO {} (tenant_id, pipeline, status) VALUES (%s, 'build', 'ok')"


@dataclass(frozen=True)
class Tier:
    schema: str
    mine: uuid.UUID
    other: uuid.UUID

    def table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, "pipeline_runs")


@pytest.fixture(scope="module")
def tiers(pg) -> dict[str, Tier]:
    """Two tenants per tier, each with one pipeline run written through tenant_session."""

    async def provision() -> dict[str, tuple[str, uuid.UUID, uuid.UUID]]:
        async with pg.pool() as pool:
            t = PostgresTenants(pool, pg.settings)
            out = {}
            for tier, isolation in (("shared", "shared"), ("schema", "schema")):
                a = await t.ensure_tenant(
                    f"{tier}-a", organisation="A", plan="team", isolation=isolation
                )
                b = await t.ensure_tenant(
                    f"{tier}-b", organisation="B", plan="team", isolation=isolation
                )
                out[tier] = (a.schema or pg.settings.platform_schema, a.tenant_id, b.tenant_id)
            return out

    result = {}
    for tier, (schema, mine, other) in asyncio.run(provision()).items():
        result[tier] = Tier(schema, mine, other)
    # each tenant writes one run into its own table; in the schema tier tenant b's attempt
    # to plant a row in tenant a's table is refused by the schema's CHECK (template v3)
    with psycopg.connect(pg.app_dsn) as conn:
        for tier in result.values():
            other_schema = "t_schema_b" if tier.schema == "t_schema_a" else tier.schema
            for tenant, schema in ((tier.mine, tier.schema), (tier.other, other_schema)):
                with tenant_session_sync(conn, tenant):
                    table = sql.Identifier(schema, "pipeline_runs")
                    conn.execute(sql.SQL(INSERT_RUN).format(table), [tenant])
        t = result["schema"]
        with (
            pytest.raises(psycopg.errors.CheckViolation, match="tenant_rows_only"),
            tenant_session_sync(conn, t.other),
        ):
            conn.execute(sql.SQL(INSERT_RUN).format(t.table()), [t.other])
    return result


def count(conn: psycopg.Connection[tuple[object, ...]], tier: Tier) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(tier.table())).fetchone()
    assert row is not None
    return int(str(row[0]))


TIERS = ["shared", "schema"]


@pytest.mark.parametrize("tier_name", TIERS)
def test_own_context_sees_only_own_rows(pg, tiers, tier_name) -> None:
    tier = tiers[tier_name]
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, tier.mine):
        rows = conn.execute(sql.SQL("SELECT tenant_id FROM {}").format(tier.table())).fetchall()
        assert rows == [(tier.mine,)]


@pytest.mark.parametrize("tier_name", TIERS)
def test_no_context_sees_nothing(pg, tiers, tier_name) -> None:
    with psycopg.connect(pg.app_dsn) as conn:
        assert count(conn, tiers[tier_name]) == 0


@pytest.mark.parametrize("tier_name", TIERS)
def test_empty_context_sees_nothing(pg, tiers, tier_name) -> None:
    with psycopg.connect(pg.app_dsn) as conn, conn.transaction():
        conn.execute("SELECT set_config('integraci.tenant_id', '', true)")
        assert count(conn, tiers[tier_name]) == 0


@pytest.mark.parametrize("tier_name", TIERS)
def test_other_tenants_context_sees_none_of_mine(pg, tiers, tier_name) -> None:
    tier = tiers[tier_name]
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, tier.other):
        mine = sql.SQL("SELECT count(*) FROM {} WHERE tenant_id = %s").format(tier.table())
        assert conn.execute(mine, [tier.mine]).fetchone() == (0,)


@pytest.mark.parametrize("tier_name", TIERS)
def test_malformed_context_is_a_clear_error_and_no_rows(pg, tiers, tier_name) -> None:
    with psycopg.connect(pg.app_dsn) as conn:
        conn.execute("SELECT set_config('integraci.tenant_id', 'x'' OR 1=1 --', false)")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="uuid"):
            count(conn, tiers[tier_name])


@pytest.mark.parametrize("tier_name", TIERS)
def test_reset_clears_a_session_context(pg, tiers, tier_name) -> None:
    tier = tiers[tier_name]
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('integraci.tenant_id', %s, false)", [str(tier.mine)])
        assert count(conn, tier) == 1
        conn.execute("RESET integraci.tenant_id")
        assert count(conn, tier) == 0


@pytest.mark.parametrize("tier_name", TIERS)
def test_context_does_not_outlive_its_transaction(pg, tiers, tier_name) -> None:
    tier = tiers[tier_name]
    with psycopg.connect(pg.app_dsn) as conn:
        with tenant_session_sync(conn, tier.mine):
            assert count(conn, tier) == 1
        with conn.transaction():
            assert count(conn, tier) == 0


@pytest.mark.parametrize("tier_name", TIERS)
def test_insert_with_another_tenants_id_violates_with_check(pg, tiers, tier_name) -> None:
    tier = tiers[tier_name]
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security")
    with psycopg.connect(pg.app_dsn) as conn:
        with refused, tenant_session_sync(conn, tier.mine):
            conn.execute(sql.SQL(INSERT_RUN).format(tier.table()), [tier.other])
        # no context at all: nothing can be written either
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(sql.SQL(INSERT_RUN).format(tier.table()), [tier.mine])


@pytest.mark.parametrize("tier_name", TIERS)
def test_update_cannot_move_a_row_to_another_tenant(pg, tiers, tier_name) -> None:
    tier = tiers[tier_name]
    move = sql.SQL("UPDATE {} SET tenant_id = %s").format(tier.table())
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security")
    with psycopg.connect(pg.app_dsn) as conn, refused, tenant_session_sync(conn, tier.mine):
        conn.execute(move, [tier.other])


def test_app_role_cannot_reach_registry_audit_log_or_ddl(pg, tiers) -> None:
    p = pg.settings.platform_schema
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        for statement in (
            sql.SQL("SELECT * FROM {}.tenants").format(sql.Identifier(p)),
            sql.SQL("SELECT * FROM {}.audit_log").format(sql.Identifier(p)),
            sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(tiers["shared"].table()),
            sql.SQL("DROP POLICY tenant_isolation ON {}").format(tiers["schema"].table()),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_verifier_passes_then_catches_weakened_tables(pg, tiers) -> None:
    async def verify(slug: str) -> tuple[bool, tuple[str, ...]]:
        async with pg.pool() as pool:
            report = await verify_isolation(pool, pg.settings, slug)
            return report.ok, report.problems

    assert asyncio.run(verify("shared-a")) == (True, ())
    assert asyncio.run(verify("schema-a")) == (True, ())
    table = sql.Identifier("t_schema_b", "connectors")
    with pg.superuser() as su:
        su.execute(sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(table))
        su.execute(sql.SQL("CREATE POLICY open ON {} USING (true)").format(table))
        su.execute("CREATE TABLE t_schema_b.rogue (tenant_id uuid)")
        su.execute("GRANT USAGE ON SCHEMA t_schema_b TO PUBLIC")
        su.execute("GRANT SELECT ON t_schema_b.rogue TO PUBLIC")
        su.execute("INSERT INTO t_schema_b.rogue VALUES (gen_random_uuid()), (gen_random_uuid())")
    ok, problems = asyncio.run(verify("schema-b"))
    assert not ok
    text = "\n".join(problems)
    assert "t_schema_b.connectors: row level security is not forced" in text
    assert "t_schema_b.connectors: expected exactly the fail-closed policy" in text
    assert "t_schema_b.rogue: row level security is not enabled" in text
    assert "t_schema_b.rogue: the application role sees rows with no context" in text
    assert asyncio.run(verify("shared-a")) == (True, ())


def provision_schema_tenant(pg, slug: str) -> None:
    async def main() -> None:
        async with pg.pool() as pool:
            await PostgresTenants(pool, pg.settings).ensure_tenant(
                slug, organisation="C", plan="enterprise", isolation="schema"
            )

    asyncio.run(main())


def verify_problems(pg, slug: str) -> list[str]:
    async def main() -> tuple[str, ...]:
        async with pg.pool() as pool:
            return (await verify_isolation(pool, pg.settings, slug)).problems

    return list(asyncio.run(main()))


def test_canary_catches_an_open_policy_on_an_empty_table(pg) -> None:
    """Without rows, the old probe saw nothing; the canary shows the policy lets rows out."""
    provision_schema_tenant(pg, "canary-open")
    assert verify_problems(pg, "canary-open") == []
    with pg.superuser() as su:  # the canaries were rolled back
        for table in ("accounts", "connectors", "pipeline_runs", "deploy_events"):
            count = su.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("t_canary_open", table))
            ).fetchone()
            assert count == (0,), table
        assert su.execute("SELECT count(*) FROM t_canary_open.deploy_events").fetchone() == (0,)
        su.execute("CREATE POLICY open ON t_canary_open.deploy_events USING (true)")
    problems = verify_problems(pg, "canary-open")
    assert "t_canary_open.deploy_events: the application role sees rows with no context" in (
        problems
    )
    assert (
        "t_canary_open.deploy_events: the application role sees rows with a random tenant's"
        " context (the tenant's canary among them)" in problems
    )


def test_canary_catches_a_leaking_view_the_static_checks_cannot_see(pg) -> None:
    """A superuser-owned view bypasses RLS; every table is empty and statically correct."""
    provision_schema_tenant(pg, "canary-view")
    with pg.superuser() as su:
        su.execute("CREATE VIEW t_canary_view.all_accounts AS SELECT * FROM t_canary_view.accounts")
        su.execute(
            sql.SQL("GRANT SELECT ON t_canary_view.all_accounts TO {}").format(
                sql.Identifier(pg.settings.app_role)
            )
        )
        su.execute("CREATE VIEW t_canary_view.unreadable AS SELECT * FROM t_canary_view.accounts")
    assert verify_problems(pg, "canary-view") == [
        "t_canary_view.all_accounts: the application role sees rows with no context",
        "t_canary_view.all_accounts: the application role sees rows with a random tenant's context",
    ]


def test_canary_catches_an_open_policy_on_the_shared_tables(pg, tiers) -> None:
    with pg.superuser() as su:
        assert su.execute("SELECT count(*) FROM integraci.usage_metrics").fetchone() == (0,)
        su.execute("CREATE POLICY open ON integraci.usage_metrics FOR SELECT USING (true)")
    try:
        problems = verify_problems(pg, "shared-a")
    finally:
        with pg.superuser() as su:
            su.execute("DROP POLICY open ON integraci.usage_metrics")
    assert "integraci.usage_metrics: the application role sees rows with no context" in problems
    assert verify_problems(pg, "shared-a") == []


def test_a_refused_canary_insert_is_reported(pg) -> None:
    provision_schema_tenant(pg, "canary-ro")
    with pg.superuser() as su:
        su.execute(
            sql.SQL("REVOKE INSERT ON t_canary_ro.pipeline_runs FROM {}").format(
                sql.Identifier(pg.settings.app_role)
            )
        )
    (problem,) = verify_problems(pg, "canary-ro")
    assert problem.startswith(
        "t_canary_ro.pipeline_runs: the canary insert failed: permission denied"
    )
