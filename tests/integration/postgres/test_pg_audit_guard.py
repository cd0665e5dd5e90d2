"""The DBA-installed audit guard: the owner cannot unprotect or drop the audit log."""

import asyncio

import psycopg
import pytest
from psycopg import sql

from devenv.postgres import PostgresServer
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.migrations import PLATFORM_VERSION, migrate
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tests.support.postgres import make_database

pytestmark = pytest.mark.integration

REFUSED = [
    "ALTER TABLE integraci.audit_log DISABLE TRIGGER audit_log_append_only",
    "ALTER TABLE integraci.audit_log DISABLE TRIGGER ALL",
    "ALTER TABLE integraci.audit_log ENABLE REPLICA TRIGGER audit_log_append_only",
    "DROP TRIGGER audit_log_append_only ON integraci.audit_log",
    "DROP TRIGGER audit_log_no_truncate ON integraci.audit_log",
    "ALTER TRIGGER audit_log_append_only ON integraci.audit_log RENAME TO x",
    # the owner may grant itself TRIGGER back (GRANT is not guarded), still refused
    "GRANT TRIGGER ON integraci.audit_log TO CURRENT_USER;"
    " CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE INSERT ON integraci.audit_log"
    " FOR EACH ROW EXECUTE FUNCTION integraci.audit_log_append_only()",
    "GRANT TRIGGER ON integraci.audit_log TO CURRENT_USER;"
    " CREATE TRIGGER a_first BEFORE UPDATE ON integraci.audit_log"
    " FOR EACH ROW EXECUTE FUNCTION integraci.audit_log_append_only()",
    "CREATE RULE no_update AS ON UPDATE TO integraci.audit_log DO INSTEAD NOTHING",
    "ALTER TABLE integraci.audit_log ADD COLUMN forged text",
    "ALTER TABLE integraci.audit_log DROP COLUMN detail",
    "ALTER TABLE integraci.audit_log DROP CONSTRAINT audit_log_pkey",
    "ALTER TABLE integraci.audit_log ALTER COLUMN detail SET DEFAULT '{}'",
    "ALTER TABLE integraci.audit_log RENAME TO audit_log_old",
    "ALTER TABLE integraci.audit_log ENABLE ROW LEVEL SECURITY",
    "CREATE INDEX sneaky ON integraci.audit_log (actor)",
    "CREATE POLICY hide ON integraci.audit_log USING (false)",
    "CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.forged () INHERITS (integraci.audit_log)",
    "DROP TABLE integraci.audit_log",
    "DROP TABLE integraci.audit_log CASCADE",
    "DROP SCHEMA integraci CASCADE",
    "CREATE OR REPLACE FUNCTION integraci.audit_log_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "DROP FUNCTION integraci.audit_log_append_only() CASCADE",
    "ALTER FUNCTION integraci.redact_audit(text) SECURITY INVOKER",
    "ALTER FUNCTION integraci.redact_audit(text) RENAME TO redact_old",
    "DROP FUNCTION integraci.redact_audit(text)",
    "CREATE OR REPLACE FUNCTION integraci.redact_audit(p_chain text) RETURNS bigint"
    " LANGUAGE sql AS $$ SELECT 0::bigint $$",
]


def as_owner(pg, statement: str) -> None:
    """Run ``statement`` as the operator role after SET ROLE to the owner, in a transaction."""
    with psycopg.connect(pg.operator_dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(pg.settings.owner_role)))
        conn.execute(statement)


@pytest.mark.parametrize("statement", REFUSED)
def test_owner_cannot_alter_or_drop_the_audit_objects(pg, statement) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit guard"):
        as_owner(pg, statement)


def test_renaming_the_platform_schema_does_not_open_a_way_around(pg) -> None:
    statement = (
        "ALTER SCHEMA integraci RENAME TO renamed;"
        " DROP TRIGGER audit_log_append_only ON renamed.audit_log"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit guard"):
        as_owner(pg, statement)


def test_the_audit_log_still_works_after_the_refusals(pg) -> None:
    async def main() -> bool:
        async with pg.pool() as pool:
            log = AuditLog(pool, pg.settings)
            await log.append("guarded", actor="op", action="a", target="t", detail={"k": 1})
            await log.redact("guarded")
            return (await log.verify("guarded")).ok

    assert asyncio.run(main())
    with pg.superuser() as su:
        triggers = su.execute(
            "SELECT tgname, tgenabled FROM pg_trigger"
            " WHERE tgrelid = 'integraci.audit_log'::regclass ORDER BY 1"
        ).fetchall()
    assert triggers == [("audit_log_append_only", "O"), ("audit_log_no_truncate", "O")]
    # and the append-only trigger still refuses
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        as_owner(pg, "UPDATE integraci.audit_log SET detail = '{}'")


def test_other_ddl_of_the_owner_is_untouched(pg) -> None:
    async def main() -> None:
        async with pg.pool() as pool:
            t = PostgresTenants(pool, pg.settings)
            await t.ensure_tenant("guard-s", organisation="O", plan="team", isolation="schema")
            await t.repair_isolation("guard-s")
            assert await t.drop_tenant("guard-s")

    asyncio.run(main())
    # a table of the owner's own, created, altered and dropped across transactions
    as_owner(pg, "CREATE TABLE integraci.scratch (x int)")
    as_owner(pg, "ALTER TABLE integraci.scratch ADD COLUMN y int")
    as_owner(pg, "DROP TABLE integraci.scratch")


def test_migrations_run_idempotently_twice_under_the_guard(pg) -> None:
    async def main() -> list[int]:
        async with pg.pool(2) as pool:
            return [await migrate(pool, pg.settings), await migrate(pool, pg.settings)]

    assert asyncio.run(main()) == [PLATFORM_VERSION] * 2


def test_fresh_migrations_create_and_seal_the_audit_objects(
    postgres_server: PostgresServer,
) -> None:
    """The migrations create the audit objects under the guard, which then seals them.

    In a database of its own: the second platform's event triggers would otherwise stay
    and refuse the module's later tenant DDL (a test that had to run last).
    """
    pg = make_database(postgres_server, "audit_guard_fresh")
    other = pg.settings.model_copy(update={"platform_schema": "fresh"})
    assert asyncio.run(bootstrap_roles(pg.superuser_dsn, other)) == (
        "created event trigger fresh_audit_guard_ddl (audit guard)",
        "created event trigger fresh_audit_guard_drop (audit guard)",
        "created event trigger fresh_rls_guard_ddl (RLS guard)",
        "created event trigger fresh_rls_guard_drop (RLS guard)",
    )

    async def main() -> list[int]:
        async with pg.pool(2) as pool:
            return [await migrate(pool, other), await migrate(pool, other)]

    assert asyncio.run(main()) == [PLATFORM_VERSION] * 2
    with pg.superuser() as su:
        sealed = su.execute(
            "SELECT s.classid::regclass::text, coalesce(c.relname, f.proname)"
            " FROM fresh_guard.sealed s LEFT JOIN pg_class c ON c.oid = s.objid"
            " AND s.classid = 'pg_class'::regclass LEFT JOIN pg_proc f ON f.oid = s.objid"
            " AND s.classid = 'pg_proc'::regclass ORDER BY 2"
        ).fetchall()
    assert sealed == [
        ("pg_class", "audit_log"),
        ("pg_proc", "audit_log_append_only"),
        ("pg_proc", "guard_owner_account"),
        ("pg_proc", "redact_audit"),
    ]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit guard"):
        as_owner(pg, "ALTER TABLE fresh.audit_log DISABLE TRIGGER audit_log_append_only")
    # the one trigger function tenant tables may run: its body cannot be replaced
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit guard"):
        as_owner(
            pg,
            "CREATE OR REPLACE FUNCTION fresh.guard_owner_account() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit guard"):
        as_owner(pg, "DROP SCHEMA fresh CASCADE")


def test_owner_cannot_touch_the_guard_itself(pg) -> None:
    for statement in (
        "ALTER EVENT TRIGGER integraci_audit_guard_ddl DISABLE",
        "DROP EVENT TRIGGER integraci_audit_guard_drop",
        "DELETE FROM integraci_guard.sealed",
        "DROP SCHEMA integraci_guard CASCADE",
        "CREATE OR REPLACE FUNCTION integraci_guard.guard_ddl() RETURNS event_trigger"
        " LANGUAGE plpgsql AS $$ BEGIN END $$",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_owner(pg, statement)
    # callable by anyone, but it only forgets seals of objects that no longer exist
    as_owner(
        pg,
        "SELECT integraci_guard.unseal_dropped("
        "'pg_class'::regclass, 'integraci.audit_log'::regclass)",
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit guard"):
        as_owner(pg, "DROP TABLE integraci.audit_log")


def test_a_superuser_may_still_change_the_audit_objects(pg) -> None:
    with pg.superuser() as su, su.transaction():
        su.execute("COMMENT ON TABLE integraci.audit_log IS 'append-only, hash-chained'")
