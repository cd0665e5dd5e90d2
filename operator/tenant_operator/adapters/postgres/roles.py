"""One-time bootstrap of the three roles and the audit and RLS guards, run by a DBA.

What a DBA runs in production, once per cluster and database (or calls
:func:`bootstrap_roles` with a superuser/``CREATEROLE`` connection)::

    CREATE ROLE integraci_owner NOLOGIN;                 -- owns every object, RLS still FORCEd
    CREATE ROLE integraci_app LOGIN NOBYPASSRLS;         -- applications; DML on tenant tables
    CREATE ROLE integraci_operator LOGIN NOBYPASSRLS PASSWORD '...';
    GRANT integraci_owner TO integraci_operator;         -- DDL via SET ROLE integraci_owner
    GRANT integraci_app TO integraci_operator;           -- isolation probes via SET ROLE
    GRANT CREATE ON DATABASE integraci TO integraci_owner;   -- platform and t_<slug> schemas
    -- no storage outside RLS (statements.storage.revoke_storage): no temp tables, no
    -- large objects, no CREATE in public, for PUBLIC and the application role
    REVOKE TEMPORARY, CREATE ON DATABASE integraci FROM PUBLIC, integraci_app;
    REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea), ... FROM PUBLIC;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC, integraci_app;
    -- no statistics counters (they count every tenant's rows), only for monitoring roles
    REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_live_tuples(oid), ... FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_live_tuples(oid), ... TO pg_read_all_stats;
    -- statistics a template v4 upgrade left (tenant columns have target 0 from v4 on)
    DELETE FROM pg_statistic s USING pg_attribute a WHERE a.attrelid = s.starelid
        AND a.attnum = s.staattnum AND a.attstattarget = 0;
    -- the audit guard, in the schema integraci_guard (owned by the DBA, not by the owner):
    -- the statements of statements.guard.install_guard, then
    SELECT integraci_guard.seal(classid, objid) FROM integraci_guard.audit_objects();
    CREATE EVENT TRIGGER integraci_audit_guard_ddl ON ddl_command_end
        EXECUTE FUNCTION integraci_guard.guard_ddl();
    CREATE EVENT TRIGGER integraci_audit_guard_drop ON sql_drop
        EXECUTE FUNCTION integraci_guard.guard_drop();
    -- the RLS guard, in the same schema: the statements of
    -- statements.rls_guard.install_rls_guard (with the owner role's name), then
    SELECT integraci_guard.rls_touch(array_agg(oid), false) FROM pg_class
        WHERE relkind IN ('r', 'p');                     -- enrol the tenant tables
    CREATE EVENT TRIGGER integraci_rls_guard_ddl ON ddl_command_end
        EXECUTE FUNCTION integraci_guard.rls_guard_ddl();
    CREATE EVENT TRIGGER integraci_rls_guard_drop ON sql_drop
        EXECUTE FUNCTION integraci_guard.rls_guard_drop();

The audit guard refuses, for every non-superuser (the owner role included, so the operator
through ``SET ROLE``), any ALTER, DROP or ``CREATE OR REPLACE`` of the audit log, its
triggers (and rules, policies, indexes, columns) and the functions ``audit_log_append_only``
and ``redact_audit`` once created; the transaction rolls back. Creating them (the platform
migrations, run as the owner) stays allowed: see :mod:`.statements.guard`. Event triggers
need a superuser, so only the DBA can install, disable or drop the guard.

The RLS guard refuses, for every non-superuser, any transaction that leaves a tenant table
(every table of a ``t_<slug>`` schema, the template tables and ``subprocessor_records`` of
the platform schema) without ``ENABLE`` + ``FORCE ROW LEVEL SECURITY`` and exactly the
fail-closed policy, owned by another role than the owner, with a rule or a trigger of its
own, or running code from outside ``pg_catalog`` in its columns, constraints, defaults or
indexes: the commit fails with ``RLS guard: refused ...`` and nothing changes. Provisioning,
template upgrades, the drift repair and erasure (``DROP SCHEMA ... CASCADE``) keep working:
see :mod:`.statements.rls_guard`. Only the DBA can still change a tenant table's RLS.

None of the three is a superuser or has BYPASSRLS. The operator then applies the platform
migrations itself at start (:func:`tenant_operator.adapters.postgres.migrations.migrate`).
Role names come from :class:`~tenant_operator.settings.Settings`.
"""

import psycopg
from psycopg import sql

from tenant_operator.adapters.postgres.errors import server_label, translate
from tenant_operator.adapters.postgres.statements import guard, rls_guard
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements.storage import (
    DROP_STALE_STATISTICS,
    PUBLIC_SCHEMA_EXISTS,
    revoke_statistics,
    revoke_storage,
)
from tenant_operator.domain.naming import validate_identifier
from tenant_operator.settings import Settings


async def bootstrap_roles(
    superuser_conninfo: str, settings: Settings, operator_password: str | None = None
) -> tuple[str, ...]:
    """Create the missing roles, grants and guards (idempotent); return what was created.

    Needs a superuser (event triggers); re-running it upgrades the guards' functions, seals
    audit objects migrated before the guard existed and enrols the existing tenant tables.
    """
    platform = validate_identifier(settings.platform_schema, what="platform schema")
    validate_identifier(guard.guard_schema(platform), what="audit guard schema")
    owner = sql.Identifier(validate_identifier(settings.owner_role, what="owner role"))
    app = sql.Identifier(validate_identifier(settings.app_role, what="app role"))
    operator = sql.Identifier(validate_identifier(settings.operator_role, what="operator role"))
    created: list[str] = []
    try:
        async with (
            await psycopg.AsyncConnection.connect(superuser_conninfo, autocommit=True) as conn,
            conn.transaction(),
        ):
            password: sql.Composable = sql.SQL("")
            if operator_password is not None:
                # Send a SCRAM verifier, never the password: the statement may be logged.
                verifier = conn.pgconn.encrypt_password(
                    operator_password.encode(), settings.operator_role.encode(), b"scram-sha-256"
                )
                password = sql.SQL(" PASSWORD {}").format(sql.Literal(verifier.decode()))
            wanted = (
                (settings.owner_role, sql.SQL("CREATE ROLE {} NOLOGIN NOBYPASSRLS").format(owner)),
                (settings.app_role, sql.SQL("CREATE ROLE {} LOGIN NOBYPASSRLS").format(app)),
                (
                    settings.operator_role,
                    sql.SQL("CREATE ROLE {} LOGIN NOBYPASSRLS{}").format(operator, password),
                ),
            )
            for name, create in wanted:
                if await (await conn.execute(q.ROLE_EXISTS, [name])).fetchone() is None:
                    await conn.execute(create)
                    created.append(f"created role {name}")
            await conn.execute(sql.SQL("GRANT {} TO {}").format(owner, operator))
            await conn.execute(sql.SQL("GRANT {} TO {}").format(app, operator))
            await conn.execute(
                sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                    sql.Identifier(conn.info.dbname), owner
                )
            )
            public = await (await conn.execute(PUBLIC_SCHEMA_EXISTS)).fetchone() is not None
            for statement in revoke_storage(
                conn.info.dbname, settings.app_role, public_schema=public
            ):
                await conn.execute(statement)
            for statement in revoke_statistics(settings.app_role):
                await conn.execute(statement)
            await conn.execute(DROP_STALE_STATISTICS)
            for statement in guard.install_guard(platform):
                await conn.execute(statement)
            await conn.execute(guard.seal_existing(platform))
            for statement in rls_guard.install_rls_guard(platform, settings.owner_role):
                await conn.execute(statement)
            await conn.execute(rls_guard.enrol_existing(platform))
            triggers = (
                *((t, "audit guard") for t in guard.guard_triggers(platform)),
                *((t, "RLS guard") for t in rls_guard.rls_guard_triggers(platform)),
            )
            for (name, event, function), what in triggers:
                if await (await conn.execute(guard.EVENT_TRIGGER_EXISTS, [name])).fetchone():
                    continue
                await conn.execute(guard.create_event_trigger(name, event, platform, function))
                created.append(f"created event trigger {name} ({what})")
    except psycopg.Error as exc:
        raise translate(exc, server_label(superuser_conninfo)) from exc
    return tuple(created)
