"""The DBA-installed RLS guard: only a superuser can disable or weaken a tenant table's RLS.

Every attack runs as the operator's login role, once after ``SET ROLE <owner>`` (as the
operator does) and once directly (it is a member of the owner role), on a ``shared``-tier
table (the platform schema's) and on a ``schema``-tier tenant's table. Each must be refused
with the guard's error, leave RLS, policies, owner, triggers and rules as they were, and the
application role must still see only its own tenant's rows.
"""

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.isolation import verify_isolation
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.template import TEMPLATE_VERSION
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.domain.errors import PermanentError
from tests.support.keys import ring, sealed

pytestmark = pytest.mark.integration

SCHEMA_SLUG, SHARED_A, SHARED_B = "rg-s", "rg-a", "rg-b"
SCHEMA = "t_rg_s"
EXPR = "nullif(current_setting('integraci.tenant_id', true), '')::uuid"

#: Attacks on one table ``{t}`` (``{s}`` its schema); ``{operator}`` the operator's role.
ATTACKS = {
    "disable": "ALTER TABLE {t} DISABLE ROW LEVEL SECURITY",
    "no-force": "ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
    "drop-policy": "DROP POLICY tenant_isolation ON {t}",
    "leak-policy": "CREATE POLICY leak ON {t} USING (true)",
    "restrictive-extra": "CREATE POLICY extra ON {t} AS RESTRICTIVE USING (true)",
    "alter-using": "ALTER POLICY tenant_isolation ON {t} USING (true)",
    "alter-check": "ALTER POLICY tenant_isolation ON {t} WITH CHECK (true)",
    "alter-roles": "ALTER POLICY tenant_isolation ON {t} TO {operator}",
    "rename-policy": "ALTER POLICY tenant_isolation ON {t} RENAME TO tenant_isolation_old",
    "recreate-open": "DROP POLICY tenant_isolation ON {t};"
    " CREATE POLICY tenant_isolation ON {t} USING (true) WITH CHECK (true)",
    "recreate-select-only": "DROP POLICY tenant_isolation ON {t};"
    f" CREATE POLICY tenant_isolation ON {{t}} FOR SELECT USING (tenant_id = {EXPR})",
    # the exact policy text again, but on another column renamed to tenant_id
    "swap-column": "DROP POLICY tenant_isolation ON {t};"
    " ALTER TABLE {t} RENAME COLUMN tenant_id TO was_tenant_id;"
    " ALTER TABLE {t} RENAME COLUMN id TO tenant_id;"
    f" CREATE POLICY tenant_isolation ON {{t}} USING (tenant_id = {EXPR})"
    f" WITH CHECK (tenant_id = {EXPR})",
    "rule-copy": "CREATE SCHEMA stash; CREATE TABLE stash.copy (LIKE {t});"
    " CREATE RULE leak AS ON INSERT TO {t} DO ALSO INSERT INTO stash.copy SELECT NEW.*",
    "trigger-copy": "CREATE SCHEMA stash; CREATE TABLE stash.copy (LIKE {t});"
    " CREATE FUNCTION stash.copy_row() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN INSERT INTO stash.copy SELECT NEW.*; RETURN NEW; END $$;"
    " CREATE TRIGGER leak AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION stash.copy_row()",
    # code of the owner's running on every write, as the writer, like a trigger
    "check-function": "CREATE SCHEMA stash; CREATE FUNCTION stash.ok(text) RETURNS boolean"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;"
    " ALTER TABLE {t} ADD CONSTRAINT leak CHECK (stash.ok(email))",
    "default-function": "CREATE SCHEMA stash; CREATE FUNCTION stash.name() RETURNS text"
    " LANGUAGE sql AS $$ SELECT 'n' $$; ALTER TABLE {t} ALTER COLUMN name SET DEFAULT stash.name()",
    "index-function": "CREATE SCHEMA stash; CREATE FUNCTION stash.ok(text) RETURNS boolean"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT true $$; CREATE INDEX leak ON {t} (stash.ok(email))",
    "domain-column": "CREATE SCHEMA stash; CREATE DOMAIN stash.note AS text CHECK (VALUE <> '');"
    " ALTER TABLE {t} ADD COLUMN note stash.note",
    # PostgreSQL's own volatile functions: switch the writer's tenant context, notify a row
    "check-set-config": "ALTER TABLE {t} ADD CONSTRAINT leak"
    " CHECK (set_config('integraci.tenant_id', tenant_id::text, true) IS NOT NULL) NOT VALID",
    "check-notify": "ALTER TABLE {t} ADD CONSTRAINT leak"
    " CHECK (pg_notify('leak', email)::text = '') NOT VALID",
    "default-set-config": "ALTER TABLE {t} ALTER COLUMN name"
    " SET DEFAULT set_config('integraci.tenant_id', '', true)",
    "rename-then-disable": "ALTER TABLE {t} RENAME TO stolen;"
    " ALTER TABLE {s}.stolen DISABLE ROW LEVEL SECURITY",
    "move-then-no-force": "CREATE SCHEMA stash; ALTER TABLE {t} SET SCHEMA stash;"
    " ALTER TABLE stash.accounts NO FORCE ROW LEVEL SECURITY",
}
#: Only possible without SET ROLE: the owner role is no member of the operator's role.
DIRECT_ONLY = {"owner": "ALTER TABLE {t} OWNER TO {operator}"}

STATE = """
SELECT c.relrowsecurity, c.relforcerowsecurity, c.relowner::regrole::text,
  (SELECT array_agg(row(p.policyname, p.permissive, p.roles::text, p.cmd, p.qual, p.with_check)
                    ::text ORDER BY p.policyname)
   FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname),
  (SELECT array_agg(t.tgname::text ORDER BY t.tgname) FROM pg_trigger t
   WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
  (SELECT array_agg(r.rulename::text ORDER BY r.rulename) FROM pg_rewrite r
   WHERE r.ev_class = c.oid),
  (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT count(*) FROM pg_namespace WHERE nspname = 'stash')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = 'accounts'
"""


@pytest.fixture(scope="module")
def tenants(pg) -> dict[str, uuid.UUID]:
    """Two shared tenants and one schema tenant, each with an account row (the schema
    tenant's CHECK tenant_rows_only refuses rows of another tenant in its tables)."""

    async def provision() -> dict[str, uuid.UUID]:
        async with pg.pool() as pool:
            t = PostgresTenants(pool, pg.settings)
            out = {}
            for slug, isolation in ((SHARED_A, "shared"), (SHARED_B, "shared")):
                state = await t.ensure_tenant(
                    slug, organisation="O", plan="team", isolation=isolation
                )
                out[slug] = state.tenant_id
            state = await t.ensure_tenant(
                SCHEMA_SLUG, organisation="O", plan="team", isolation="schema"
            )
            out[SCHEMA_SLUG] = state.tenant_id
            return out

    ids = asyncio.run(provision())
    with pg.superuser() as su:
        for slug, schema in (
            (SHARED_A, "integraci"),
            (SHARED_B, "integraci"),
            (SCHEMA_SLUG, SCHEMA),
        ):
            su.execute(
                sql.SQL(
                    "INSERT INTO {} (tenant_id, email_enc, name_enc, email_bidx)"
                    " VALUES (%s, %s, %s, %s)"
                ).format(sql.Identifier(schema, "accounts")),
                [ids[slug], *sealed(ring(ids[slug]), f"{slug}@example.test", "n")],
            )
    return ids


def run_as_operator(pg, statement: str, *, set_role: bool) -> None:
    """``statement`` in one transaction as the operator's login role (after SET ROLE owner)."""
    with psycopg.connect(pg.operator_dsn, autocommit=True) as conn, conn.transaction():
        if set_role:
            conn.execute(
                sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(pg.settings.owner_role))
            )
        conn.execute(statement)


def state(pg, schema: str) -> tuple[object, ...]:
    with pg.superuser() as su:
        row = su.execute(STATE, [schema]).fetchone()
    assert row is not None
    return tuple(row)


def visible(pg, schema: str, tenant: uuid.UUID | None) -> set[tuple[str, str]]:
    """(tenant_id, email) of the accounts the application role sees in ``tenant``'s context."""
    with psycopg.connect(pg.app_dsn) as conn:
        conn.execute("SELECT set_config('integraci.tenant_id', %s, false)", [str(tenant or "")])
        rows = conn.execute(
            sql.SQL("SELECT tenant_id::text, email FROM {}").format(
                sql.Identifier(schema, "accounts")
            )
        ).fetchall()
    return {(str(a), str(b)) for a, b in rows}


def attack_cases() -> Iterator[object]:
    for tier, schema in (("shared", "integraci"), ("schema", SCHEMA)):
        for mode, set_role in (("set-role", True), ("direct", False)):
            cases = dict(ATTACKS) if set_role else {**ATTACKS, **DIRECT_ONLY}
            for name, text in cases.items():
                yield pytest.param(schema, text, set_role, id=f"{tier}-{mode}-{name}")


@pytest.mark.parametrize(("schema", "attack", "set_role"), list(attack_cases()))
def test_operator_cannot_disable_or_weaken_rls(pg, tenants, schema, attack, set_role) -> None:
    mine = tenants[SCHEMA_SLUG] if schema == SCHEMA else tenants[SHARED_A]
    before = state(pg, schema)
    seen_before = visible(pg, schema, mine)
    statement = attack.format(t=f"{schema}.accounts", s=schema, operator=pg.settings.operator_role)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="RLS guard"):
        run_as_operator(pg, statement, set_role=set_role)
    assert state(pg, schema) == before
    assert visible(pg, schema, mine) == seen_before
    assert {tenant for tenant, _ in seen_before} == {str(mine)}
    assert visible(pg, schema, None) == set()
    assert visible(pg, schema, uuid.uuid4()) == set()


def test_a_new_table_without_rls_in_a_tenant_schema_is_refused(pg, tenants) -> None:
    for set_role in (True, False):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="RLS guard"):
            run_as_operator(
                pg,
                "CREATE TABLE t_rg_s.side (tenant_id uuid, note text);"
                " GRANT SELECT ON t_rg_s.side TO PUBLIC",
                set_role=set_role,
            )
    with pg.superuser() as su:
        assert su.execute("SELECT to_regclass('t_rg_s.side')").fetchone() == (None,)


def test_the_refusal_holds_in_autocommit_too(pg, tenants) -> None:
    before = state(pg, SCHEMA)
    with (
        psycopg.connect(pg.operator_dsn, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="RLS guard"),
    ):
        conn.execute("ALTER TABLE t_rg_s.accounts DISABLE ROW LEVEL SECURITY")
    assert state(pg, SCHEMA) == before


def test_a_superuser_may_still_weaken_rls(pg, tenants) -> None:
    """The one role allowed; afterwards the operator's drift repair restores it."""
    before = state(pg, SCHEMA)
    with pg.superuser() as su, su.transaction():
        su.execute("ALTER TABLE t_rg_s.accounts DISABLE ROW LEVEL SECURITY")
        su.execute("ALTER TABLE t_rg_s.accounts NO FORCE ROW LEVEL SECURITY")
        su.execute("CREATE POLICY leak ON t_rg_s.accounts USING (true)")
        su.execute("ALTER POLICY tenant_isolation ON t_rg_s.accounts USING (true)")
    assert state(pg, SCHEMA)[:2] == (False, False)

    async def repair() -> tuple[tuple[str, ...], bool]:
        async with pg.pool() as pool:
            repaired = await PostgresTenants(pool, pg.settings).repair_isolation(SCHEMA_SLUG)
            return repaired, (await verify_isolation(pool, pg.settings, SCHEMA_SLUG)).ok

    repaired, ok = asyncio.run(repair())
    assert "dropped policy leak on t_rg_s.accounts" in repaired
    assert ok
    assert state(pg, SCHEMA) == before


def test_a_repair_only_a_superuser_can_make_says_so(pg, tenants) -> None:
    """A superuser's trigger on a tenant table: the operator's repair is refused, clearly."""
    with pg.superuser() as su:
        su.execute(
            "CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RETURN NEW; END $$"
        )
        su.execute(
            "CREATE TRIGGER dba_noop AFTER INSERT ON t_rg_s.accounts"
            " FOR EACH ROW EXECUTE FUNCTION public.noop()"
        )
        su.execute("ALTER TABLE t_rg_s.accounts NO FORCE ROW LEVEL SECURITY")

    async def verify() -> tuple[str, ...]:
        async with pg.pool() as pool:
            return (await verify_isolation(pool, pg.settings, SCHEMA_SLUG)).problems

    async def repair() -> None:
        async with pg.pool() as pool:
            await PostgresTenants(pool, pg.settings).repair_isolation(SCHEMA_SLUG)

    try:
        assert asyncio.run(verify()) == ("t_rg_s.accounts: row level security is not forced",)
        with pg.superuser() as su:
            su.execute("ALTER TABLE t_rg_s.accounts FORCE ROW LEVEL SECURITY")
        # the drift report names what the operator cannot repair, and says so
        assert asyncio.run(verify()) == (
            "t_rg_s.accounts: it has the trigger(s) dba_noop (the RLS guard refuses the"
            " operator's repair: only a superuser (a DBA) can undo this)",
        )
        with pytest.raises(PermanentError) as caught:
            asyncio.run(repair())
        assert caught.value.reason == "RepairNeedsSuperuser"
        assert "only a superuser (a DBA) can repair it" in caught.value.message
        assert "RLS guard: refused" in caught.value.message
        assert "it has the trigger(s) dba_noop" in caught.value.message
    finally:
        with pg.superuser() as su:
            su.execute("DROP TRIGGER dba_noop ON t_rg_s.accounts")
            su.execute("DROP FUNCTION public.noop()")
            su.execute("ALTER TABLE t_rg_s.accounts FORCE ROW LEVEL SECURITY")


def test_provisioning_upgrade_repair_and_erasure_still_work(pg, tenants) -> None:
    async def main() -> tuple[bool, bool, dict[str, int], bool]:
        async with pg.pool() as pool:
            old = PostgresTenants(pool, pg.settings, template_version=1)
            await old.ensure_tenant("rg-new", organisation="O", plan="team", isolation="schema")
            t = PostgresTenants(pool, pg.settings)
            versions = await t.upgrade_schemas()
            await t.repair_isolation("rg-new")
            await t.repair_isolation(SHARED_A)
            ok = (await verify_isolation(pool, pg.settings, "rg-new")).ok
            shared_ok = (await verify_isolation(pool, pg.settings, SHARED_A)).ok
            return ok, shared_ok, versions, await t.drop_tenant("rg-new")

    ok, shared_ok, versions, dropped = asyncio.run(main())
    assert ok and shared_ok and dropped
    assert versions["rg-new"] == TEMPLATE_VERSION
    with pg.superuser() as su:
        assert su.execute("SELECT to_regnamespace('t_rg_new')").fetchone() == (None,)


def test_owner_cannot_touch_the_rls_guard_itself(pg, tenants) -> None:
    before = state(pg, SCHEMA)
    for statement in (
        "ALTER EVENT TRIGGER integraci_rls_guard_ddl DISABLE",
        "DROP EVENT TRIGGER integraci_rls_guard_drop",
        "DELETE FROM integraci_guard.tenant_tables",
        "DELETE FROM integraci_guard.rls_pending",
        "ALTER TABLE integraci_guard.rls_pending DISABLE TRIGGER rls_check",
        "DROP TRIGGER rls_check ON integraci_guard.rls_pending",
        "SET LOCAL session_replication_role = replica",
        "CREATE OR REPLACE FUNCTION integraci_guard.rls_problem(p_relid oid) RETURNS text"
        " LANGUAGE sql AS $$ SELECT NULL::text $$",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run_as_operator(pg, statement, set_role=True)
    # callable by anyone, but it only forgets tables that no longer exist
    run_as_operator(
        pg,
        "SELECT integraci_guard.rls_forget(ARRAY['t_rg_s.accounts'::regclass::oid])",
        set_role=True,
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="RLS guard"):
        run_as_operator(
            pg,
            "SET CONSTRAINTS ALL DEFERRED; ALTER TABLE t_rg_s.accounts DISABLE ROW LEVEL SECURITY",
            set_role=True,
        )
    assert state(pg, SCHEMA) == before


def test_bootstrap_enrols_tenant_tables_that_existed_before_the_guard(pg, tenants) -> None:
    """A guard installed (or re-installed) after provisioning guards the existing tables."""
    with pg.superuser() as su:
        su.execute(
            "DELETE FROM integraci_guard.tenant_tables"
            " WHERE relid IN ('t_rg_s.accounts'::regclass, 'integraci.accounts'::regclass)"
        )
    asyncio.run(bootstrap_roles(pg.superuser_dsn, pg.settings))
    with pg.superuser() as su:
        enrolled = su.execute(
            "SELECT relid::regclass::text, tenant_attnum FROM integraci_guard.tenant_tables"
            " WHERE relid IN ('t_rg_s.accounts'::regclass, 'integraci.accounts'::regclass)"
            " ORDER BY 1"
        ).fetchall()
    assert enrolled == [("integraci.accounts", 1), ("t_rg_s.accounts", 1)]
    for schema in (SCHEMA, "integraci"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="RLS guard"):
            run_as_operator(pg, f"DROP POLICY tenant_isolation ON {schema}.accounts", set_role=True)
