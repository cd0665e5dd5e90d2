"""Platform migrations and role bootstrap against real PostgreSQL."""

import asyncio

import psycopg
import pytest

from tenant_operator.adapters.postgres.migrations import PLATFORM_VERSION, migrate
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.statements.platform import platform_steps
from tenant_operator.adapters.postgres.template import TEMPLATE_VERSION, names_of
from tenant_operator.domain.errors import PermanentError

pytestmark = pytest.mark.integration


def test_migrate_is_idempotent_and_concurrent_runs_serialize(pg) -> None:
    async def main() -> list[int]:
        async with pg.pool(4) as pool:
            return list(await asyncio.gather(*(migrate(pool, pg.settings) for _ in range(4))))

    assert asyncio.run(main()) == [PLATFORM_VERSION] * 4
    with pg.superuser() as su:
        rows = su.execute(
            "SELECT component, version FROM integraci.migrations ORDER BY 1, 2"
        ).fetchall()
    steps = platform_steps(names_of(pg.settings))  # numbers are pre-assigned
    platform = [("platform", step.version) for step in steps]
    template = [("template", v) for v in range(1, TEMPLATE_VERSION + 1)]
    assert rows == platform + template


def test_objects_belong_to_the_owner_and_roles_have_no_bypass(pg) -> None:
    s = pg.settings
    with pg.superuser() as su:
        owners = su.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'integraci'"
        ).fetchall()
        roles = su.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles"
            " WHERE rolname = ANY(%s) ORDER BY rolname",
            [[s.owner_role, s.app_role, s.operator_role]],
        ).fetchall()
    assert owners == [(s.owner_role,)]
    assert sorted(roles) == sorted(
        [
            (s.app_role, True, False, False),
            (s.operator_role, True, False, False),
            (s.owner_role, False, False, False),
        ]
    )


def test_every_shared_tenant_table_is_forced_rls(pg) -> None:
    with pg.superuser() as su:
        rows = su.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
            " WHERE c.relnamespace = 'integraci'::regnamespace AND c.relkind = 'r'"
        ).fetchall()
    assert {r[0] for r in rows} == {
        "accounts",
        "connectors",
        "pipeline_runs",
        "deploy_events",
        "usage_metrics",
        "subprocessor_records",
        "tenant_keys",
    }
    assert all(r[1] and r[2] for r in rows)


def test_app_role_has_only_dml_on_tenant_tables(pg) -> None:
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        for statement in (
            "CREATE TABLE integraci.sneaky (x int)",
            "SELECT * FROM integraci.migrations",
            "SELECT * FROM integraci.subprocessors",
            "CREATE SCHEMA sneaky",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_bootstrap_roles_is_idempotent_and_validates_names(pg) -> None:
    assert asyncio.run(bootstrap_roles(pg.superuser_dsn, pg.settings)) == ()
    hostile = pg.settings.model_copy(update={"owner_role": 'x"; DROP ROLE postgres; --'})
    with pytest.raises(PermanentError, match="not a valid identifier"):
        asyncio.run(bootstrap_roles(pg.superuser_dsn, hostile))
