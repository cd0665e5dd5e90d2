"""Attacks by the application role on storage and rows outside its tenant's reach.

Large objects and temp tables (no RLS, survive erasure), operator-managed rows (connectors,
sub-processor decisions, the owner flag), schema-tier tables taking another tenant's rows,
and ids drawn from one shared sequence.
"""

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.isolation import verify_isolation
from tenant_operator.adapters.postgres.statements.template import tenant_check_digest
from tenant_operator.adapters.postgres.template import TEMPLATE_VERSION
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.appkit import (
    hash_password,
    insert_account_sync,
    open_account,
    tenant_session_sync,
)
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.records import ConnectorRecord, SubProcessorEntry, SubProcessorRecord
from tests.support.keys import ring
from tests.support.postgres import ensure_tenants

pytestmark = pytest.mark.integration

Row = tuple[object, ...]
DENIED = pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied")


@pytest.fixture(scope="module")
def t(pg) -> dict[str, uuid.UUID]:
    """Schema tenants a and c, shared tenants b and d; a and b with a connector, a record."""

    async def provision() -> dict[str, uuid.UUID]:
        async with pg.tenants() as ts:
            ids = await ensure_tenants(
                ts, "bnd", {"a": "schema", "b": "shared", "c": "schema", "d": "shared"}
            )
            await ts.ensure_subprocessor(
                SubProcessorEntry("mailer", "email delivery", notice_days=30)
            )
            for key in ("a", "b"):
                await ts.ensure_owner_account(
                    ids[key],
                    name="Owner",
                    email=f"owner@{key}.test",
                    keys=ring(ids[key]),
                    organisation="Org",
                )
                await ts.ensure_connectors(
                    ids[key],
                    [ConnectorRecord("git", "github", {}, f"openbao://bnd-{key}/git", 1)],
                )
                await ts.ensure_subprocessor_records(
                    ids[key],
                    [SubProcessorRecord("mailer", "Objected", objected_at=datetime.now(UTC))],
                )
            return ids

    return asyncio.run(provision())


def schema_of(pg, key: str) -> str:
    return "t_bnd_a" if key == "a" else pg.settings.platform_schema


def snapshot(pg, table: str, schema: str) -> list[Row]:
    with pg.superuser() as su:
        query = sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(sql.Identifier(schema, table))
        return su.execute(query).fetchall()


# --- large objects, temp tables, CREATE anywhere ------------------------------------------


LO_WRITES = (
    "SELECT lo_from_bytea(0, 'stolen'::bytea)",
    "SELECT lo_create(0)",
    "SELECT lo_creat(-1)",
    "SELECT lo_import('/etc/hostname')",
    "SELECT lo_import('/etc/hostname', 4242)",
)


def test_app_role_cannot_store_large_objects(pg, t) -> None:
    with pg.superuser() as su:
        before = su.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
        su.execute("SELECT lo_from_bytea(777001, 'existing'::bytea)")
        owner = sql.Identifier(pg.settings.app_role)
        su.execute(sql.SQL("ALTER LARGE OBJECT 777001 OWNER TO {}").format(owner))
    try:
        with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
            for statement in LO_WRITES:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            # even a large object it owns (left from before the fix) cannot be written to
            for statement in (
                "SELECT lo_put(777001, 0, 'x'::bytea)",
                "SELECT lowrite(lo_open(777001, 131072), 'x'::bytea)",
                "SELECT lo_truncate(lo_open(777001, 131072), 0)",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(statement)
        with pg.superuser() as su:
            assert su.execute("SELECT lo_get(777001)").fetchone() == (b"existing",)
    finally:
        with pg.superuser() as su:
            su.execute("SELECT lo_unlink(777001)")
            after = su.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    assert after == before


def test_app_role_can_create_nothing_anywhere(pg, t) -> None:
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(oid, 'CREATE')"
        ).fetchall()
        assert schemas == []
        row = conn.execute(
            "SELECT has_database_privilege(current_database(), 'CREATE'),"
            " has_database_privilege(current_database(), 'TEMP')"
        ).fetchone()
        assert row == (False, False)
        for statement in (
            "CREATE TABLE public.stash (tenant_id uuid, data text)",
            "CREATE TEMP TABLE stash (data text)",
            "CREATE SCHEMA stash",
            sql.SQL("CREATE TABLE {}.stash (data text)").format(
                sql.Identifier(pg.settings.platform_schema)
            ),
            "CREATE TABLE t_bnd_a.stash (data text)",
            "CREATE SEQUENCE public.stash",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


# --- operator-managed rows ---------------------------------------------------------------


@pytest.mark.parametrize("key", ["a", "b"])
def test_app_role_cannot_repoint_or_add_connectors(pg, t, key) -> None:
    schema = schema_of(pg, key)
    table = sql.Identifier(schema, "connectors")
    before = snapshot(pg, "connectors", schema)
    other = "openbao://bnd-c/git" if key == "a" else "openbao://bnd-d/git"
    with psycopg.connect(pg.app_dsn) as conn:
        for statement, params in (
            (sql.SQL("UPDATE {} SET ref = %s").format(table), [other]),
            (sql.SQL("UPDATE {} SET version = version + 1, config = '{{}}'").format(table), []),
            (
                sql.SQL(
                    "INSERT INTO {} (tenant_id, name, type, config, ref, version)"
                    " VALUES (%s, 'evil', 'github', '{{}}', %s, 0)"
                ).format(table),
                [t[key], other],
            ),
            (sql.SQL("DELETE FROM {}").format(table), []),
        ):
            with DENIED, tenant_session_sync(conn, t[key]):
                conn.execute(statement, params)
        with tenant_session_sync(conn, t[key]):  # reading stays allowed
            rows = conn.execute(sql.SQL("SELECT name, ref FROM {}").format(table)).fetchall()
        assert rows == [("git", f"openbao://bnd-{key}/git")]
    assert snapshot(pg, "connectors", schema) == before


@pytest.mark.parametrize("key", ["a", "b"])
def test_app_role_cannot_flip_subprocessor_decisions(pg, t, key) -> None:
    p = pg.settings.platform_schema
    table = sql.Identifier(p, "subprocessor_records")
    before = snapshot(pg, "subprocessor_records", p)
    with psycopg.connect(pg.app_dsn) as conn:
        for statement in (
            sql.SQL("UPDATE {} SET state = 'Active', objected_at = NULL").format(table),
            sql.SQL("DELETE FROM {}").format(table),
            sql.SQL(
                "INSERT INTO {} (tenant_id, name, state) VALUES (%s, 'mailer', 'Active')"
            ).format(table),
        ):
            params = [t[key]] if "INSERT" in statement.as_string(None) else []
            with DENIED, tenant_session_sync(conn, t[key]):
                conn.execute(statement, params)
        with tenant_session_sync(conn, t[key]):
            states = conn.execute(sql.SQL("SELECT state FROM {}").format(table)).fetchall()
        assert states == [("Objected",)]
    assert snapshot(pg, "subprocessor_records", p) == before


@pytest.mark.parametrize("key", ["a", "b"])
def test_app_role_cannot_touch_the_owner_flag(pg, t, key) -> None:
    schema = schema_of(pg, key)
    table = sql.Identifier(schema, "accounts")
    member = f"member@{key}.test"
    with psycopg.connect(pg.app_dsn) as conn:
        # what the application may do: manage non-owner accounts, passwords and logins
        keys = ring(t[key])
        with tenant_session_sync(conn, t[key]):
            insert_account_sync(
                conn,
                keys,
                schema=schema,
                email=member,
                name="M",
                password_hash=hash_password("member pw"),
            )
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET password_hash = %s, last_login_at = now(),"
                    " invite_token_sha256 = NULL, updated_at = now()"
                ).format(table),
                [hash_password("new pw")],
            )
        before = snapshot(pg, "accounts", schema)
        for statement, params in (
            (
                sql.SQL("UPDATE {} SET is_owner = true WHERE email_bidx = %s").format(table),
                [keys.blind_index(member)],
            ),
            (sql.SQL("UPDATE {} SET is_owner = false WHERE is_owner").format(table), []),
            (
                sql.SQL(
                    "INSERT INTO {} (tenant_id, email_enc, name_enc, email_bidx, is_owner)"
                    " VALUES (%s, %s, %s, %s, true)"
                ).format(table),
                [t[key], b"x" * 48, b"x" * 48, keys.blind_index(f"x@{key}.test")],
            ),
            (sql.SQL("DELETE FROM {} WHERE is_owner").format(table), []),
        ):
            with DENIED, tenant_session_sync(conn, t[key]):
                conn.execute(statement, params)
        assert snapshot(pg, "accounts", schema) == before
        with tenant_session_sync(conn, t[key]):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE email_bidx = %s").format(table),
                [keys.blind_index(member)],
            )
            owners = conn.execute(
                sql.SQL(
                    "SELECT id, email_enc, name_enc, is_owner, password_hash FROM {} WHERE is_owner"
                ).format(table)
            ).fetchall()
        assert [open_account(keys, row).email for row in owners] == [f"owner@{key}.test"]
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn, DENIED:
        conn.execute(
            sql.SQL("UPDATE {}.tenants SET slug = 'x'").format(
                sql.Identifier(pg.settings.platform_schema)
            )
        )


# --- schema-tier tables take only their tenant's rows --------------------------------------


@pytest.mark.parametrize("other", ["b", "c"])
def test_schema_tier_table_refuses_another_tenants_rows(pg, t, other) -> None:
    """With B's context set, B's row passes RLS in t_bnd_a; the schema's CHECK refuses it."""
    before = snapshot(pg, "pipeline_runs", "t_bnd_a")
    with (
        psycopg.connect(pg.app_dsn) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="tenant_rows_only"),
        tenant_session_sync(conn, t[other]),
    ):
        conn.execute(
            "INSERT INTO t_bnd_a.pipeline_runs (tenant_id, pipeline, status)"
            " VALUES (%s, 'smuggled', 'ok')",
            [t[other]],
        )
    assert snapshot(pg, "pipeline_runs", "t_bnd_a") == before
    with pg.superuser() as su:
        checks = su.execute(
            "SELECT n.nspname, c.relname FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE k.conname = 'tenant_rows_only' AND k.convalidated ORDER BY 1, 2"
        ).fetchall()
    tables = ["accounts", "connectors", "deploy_events", "pipeline_runs", "usage_metrics"]
    assert [c for c in checks if c[0] == "t_bnd_a"] == [("t_bnd_a", x) for x in tables]
    assert not [c for c in checks if c[0] == pg.settings.platform_schema]


# --- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["pipeline_runs", "deploy_events"])
def test_ids_reveal_nothing_about_other_tenants_inserts(pg, t, table) -> None:
    p = pg.settings.platform_schema
    target = sql.Identifier(p, table)
    columns = ("pipeline", "status") if table == "pipeline_runs" else ("environment", "version")
    insert = sql.SQL("INSERT INTO {} (tenant_id, {}) VALUES (%s, 'x', 'y') RETURNING id").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    ids: dict[str, list[object]] = {"b": [], "d": []}
    with psycopg.connect(pg.app_dsn) as conn:
        for _ in range(3):
            for key in ("b", "d"):
                with tenant_session_sync(conn, t[key]):
                    row = conn.execute(insert, [t[key]]).fetchone()
                    assert row is not None
                    ids[key].append(row[0])
        sequences = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind = 'S'"
            " AND (has_sequence_privilege(c.oid, 'USAGE') OR has_sequence_privilege(c.oid,"
            " 'SELECT') OR has_sequence_privilege(c.oid, 'UPDATE'))"
        ).fetchall()
    assert all(isinstance(i, uuid.UUID) for i in ids["b"] + ids["d"]), ids
    assert len({*ids["b"], *ids["d"]}) == 6
    assert sequences == []
    with pg.superuser() as su:
        owned = su.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'S' AND (n.nspname = %s OR n.nspname LIKE 't\\_%%')",
            [p],
        ).fetchall()
    assert owned == []


def test_upgrade_of_an_existing_schema_tenant_to_v3(pg) -> None:
    """A v2 schema keeps its rows: ids become random uuids, the CHECK and grants arrive."""

    async def provision(version: int | None) -> int | None:
        async with pg.pool() as pool:
            ts = PostgresTenants(pool, pg.settings, template_version=version)
            state = await ts.ensure_tenant(
                "bnd-old", organisation="O", plan="team", isolation="schema"
            )
            if version is None:
                return (await ts.upgrade_schemas())["bnd-old"]
            await ts.ensure_connectors(
                state.tenant_id, [ConnectorRecord("git", "github", {}, "openbao://old/git", 1)]
            )
            return state.schema_version

    assert asyncio.run(provision(2)) == 2
    with pg.superuser() as su:
        (tenant_id,) = su.execute(
            sql.SQL("SELECT id FROM {}.tenants WHERE slug = 'bnd-old'").format(
                sql.Identifier(pg.settings.platform_schema)
            )
        ).fetchone() or (None,)
        for _ in range(2):
            su.execute(
                "INSERT INTO t_bnd_old.pipeline_runs (tenant_id, pipeline, status)"
                " VALUES (%s, 'p', 's')",
                [tenant_id],
            )
        old_ids = su.execute("SELECT id FROM t_bnd_old.pipeline_runs").fetchall()
    assert [type(i) for (i,) in old_ids] == [int, int]
    assert asyncio.run(provision(None)) == TEMPLATE_VERSION
    with pg.superuser() as su:
        rows = su.execute("SELECT id, pipeline FROM t_bnd_old.pipeline_runs").fetchall()
        refs = su.execute("SELECT ref FROM t_bnd_old.connectors").fetchall()
    assert len(rows) == 2 and all(isinstance(i, uuid.UUID) for i, _ in rows)
    assert refs == [("openbao://old/git",)]
    with psycopg.connect(pg.app_dsn) as conn, DENIED, tenant_session_sync(conn, tenant_id):
        conn.execute("UPDATE t_bnd_old.connectors SET ref = 'openbao://x/y'")


# --- the verifier reports these properties --------------------------------------------------


def test_verifier_reports_storage_and_write_grants_outside_the_boundary(pg, t) -> None:
    async def problems(slug: str) -> tuple[str, ...]:
        async with pg.pool() as pool:
            return (await verify_isolation(pool, pg.settings, slug)).problems

    assert asyncio.run(problems("bnd-a")) == ()
    assert asyncio.run(problems("bnd-b")) == ()
    app = sql.Identifier(pg.settings.app_role)
    grants = (
        sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(pg.name), app),
        sql.SQL("GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO {}").format(app),
        sql.SQL("GRANT CREATE ON SCHEMA t_bnd_a TO {}").format(app),
        sql.SQL("GRANT UPDATE ON t_bnd_a.connectors TO {}").format(app),
        sql.SQL("GRANT UPDATE (is_owner) ON t_bnd_a.accounts TO {}").format(app),
    )
    with pg.superuser() as su:
        for grant in grants:
            su.execute(grant)
    try:
        found = "\n".join(asyncio.run(problems("bnd-a")))
    finally:
        with pg.superuser() as su:
            for grant in grants:
                revoke = grant.as_string(su).replace("GRANT", "REVOKE", 1)
                su.execute(sql.SQL(revoke.replace(" TO ", " FROM ")))  # type: ignore[arg-type]
    assert "can create temporary tables" in found
    assert "lo_from_bytea(oid,bytea)" in found
    assert "can create objects in schema t_bnd_a" in found
    assert "t_bnd_a.connectors: the application role can UPDATE" in found
    assert "t_bnd_a.accounts.is_owner: the application role can UPDATE" in found
    assert asyncio.run(problems("bnd-a")) == ()


def test_upgrade_with_rows_of_other_tenants_is_refused_clearly_and_changes_nothing(pg, t) -> None:
    """Rows planted before v3 block the CHECK: a clear, permanent error; the schema stays."""

    async def ensure(version: int | None) -> int | None:
        async with pg.pool() as pool:
            ts = PostgresTenants(pool, pg.settings, template_version=version)
            state = await ts.ensure_tenant(
                "bnd-planted", organisation="P", plan="team", isolation="schema"
            )
            return state.schema_version

    async def upgrade_all() -> dict[str, int]:
        async with pg.pool() as pool:
            return await PostgresTenants(pool, pg.settings).upgrade_schemas()

    assert asyncio.run(ensure(2)) == 2
    with pg.superuser() as su:  # the attack of test_schema_tier_..., done before the fix
        su.execute(
            "INSERT INTO t_bnd_planted.deploy_events (tenant_id, environment, version)"
            " VALUES (%s, 'prod', 'v1')",
            [t["b"]],
        )
    before = snapshot(pg, "deploy_events", "t_bnd_planted")
    with pytest.raises(PermanentError, match="holds rows of other tenants") as refused:
        asyncio.run(ensure(None))
    assert refused.value.reason == "ForeignRowsInSchema"
    assert "deploy_events" in str(refused.value) and str(t["b"]) not in str(refused.value)
    versions = asyncio.run(upgrade_all())  # the others are upgraded, this one is skipped
    assert (
        "bnd-planted" not in versions
        and versions.get("bnd-old", TEMPLATE_VERSION) == TEMPLATE_VERSION
    )
    assert snapshot(pg, "deploy_events", "t_bnd_planted") == before
    with pg.superuser() as su:
        su.execute("DELETE FROM t_bnd_planted.deploy_events WHERE tenant_id = %s", [t["b"]])
    assert asyncio.run(ensure(None)) == TEMPLATE_VERSION


def test_verifier_checks_v3_properties_only_from_v3_on(pg, t) -> None:
    """A schema staged at v2 has no CHECK and v1 grants yet: not reported until upgraded."""

    async def main() -> tuple[tuple[str, ...], int | None]:
        async with pg.pool() as pool:
            state = await PostgresTenants(pool, pg.settings, template_version=2).ensure_tenant(
                "bnd-staged", organisation="S", plan="team", isolation="schema"
            )
            return (await verify_isolation(pool, pg.settings, "bnd-staged")).problems, (
                state.schema_version
            )

    async def drop_staged() -> None:
        async with pg.pool() as pool:
            await PostgresTenants(pool, pg.settings).drop_tenant("bnd-staged")

    try:
        assert asyncio.run(main()) == ((), 2)
    finally:  # a v2 schema has id sequences: none may outlive this test (see the ids test)
        asyncio.run(drop_staged())
    with pg.superuser() as su:
        su.execute("ALTER TABLE t_bnd_a.usage_metrics DROP CONSTRAINT tenant_rows_only")
    try:

        async def problems() -> tuple[str, ...]:
            async with pg.pool() as pool:
                return (await verify_isolation(pool, pg.settings, "bnd-a")).problems

        assert asyncio.run(problems()) == (
            "t_bnd_a.usage_metrics: no valid CHECK tenant_rows_only binding its rows to the tenant",
        )
    finally:
        with pg.superuser() as su:
            su.execute(
                sql.SQL(
                    "ALTER TABLE t_bnd_a.usage_metrics ADD CONSTRAINT tenant_rows_only"
                    " CHECK (sha256(uuid_send(tenant_id)) = {}::bytea)"
                ).format(sql.Literal("\\x" + tenant_check_digest(t["a"])))
            )


def test_app_role_cannot_plant_a_default_tenant_context(pg, t) -> None:
    """A role or database default for the context would apply to every new connection."""
    before = None
    with pg.superuser() as su:
        before = su.execute("SELECT count(*) FROM pg_db_role_setting").fetchone()
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        for statement in (
            sql.SQL("ALTER ROLE CURRENT_USER SET integraci.tenant_id = {}").format(
                sql.Literal(str(t["b"]))
            ),
            sql.SQL("ALTER DATABASE {} SET integraci.tenant_id = {}").format(
                sql.Identifier(pg.name), sql.Literal(str(t["b"]))
            ),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with pg.superuser() as su:
        assert su.execute("SELECT count(*) FROM pg_db_role_setting").fetchone() == before
