"""One-time bootstrap of the three roles, run by a DBA (or a superuser in tests).

What a DBA runs in production, once per cluster and database (or calls
:func:`bootstrap_roles` with a superuser/``CREATEROLE`` connection)::

    CREATE ROLE integraci_owner NOLOGIN;                 -- owns every object, RLS still FORCEd
    CREATE ROLE integraci_app LOGIN NOBYPASSRLS;         -- applications; DML on tenant tables
    CREATE ROLE integraci_operator LOGIN NOBYPASSRLS PASSWORD '...';
    GRANT integraci_owner TO integraci_operator;         -- DDL via SET ROLE integraci_owner
    GRANT integraci_app TO integraci_operator;           -- isolation probes via SET ROLE
    GRANT CREATE ON DATABASE integraci TO integraci_owner;   -- platform and t_<slug> schemas

None of the three is a superuser or has BYPASSRLS. The operator then applies the platform
migrations itself at start (:func:`tenant_operator.adapters.postgres.migrations.migrate`).
Role names come from :class:`~tenant_operator.settings.Settings`.
"""

import psycopg
from psycopg import sql

from tenant_operator.adapters.postgres.errors import server_label, translate
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.domain.naming import validate_identifier
from tenant_operator.settings import Settings


async def bootstrap_roles(
    superuser_conninfo: str, settings: Settings, operator_password: str | None = None
) -> tuple[str, ...]:
    """Create the missing roles and grants (idempotent); return what was created."""
    owner = sql.Identifier(validate_identifier(settings.owner_role, what="owner role"))
    app = sql.Identifier(validate_identifier(settings.app_role, what="app role"))
    operator = sql.Identifier(validate_identifier(settings.operator_role, what="operator role"))
    password = (
        sql.SQL("")
        if operator_password is None
        else sql.SQL(" PASSWORD {}").format(sql.Literal(operator_password))
    )
    wanted = (
        (settings.owner_role, sql.SQL("CREATE ROLE {} NOLOGIN NOBYPASSRLS").format(owner)),
        (settings.app_role, sql.SQL("CREATE ROLE {} LOGIN NOBYPASSRLS").format(app)),
        (
            settings.operator_role,
            sql.SQL("CREATE ROLE {} LOGIN NOBYPASSRLS{}").format(operator, password),
        ),
    )
    created: list[str] = []
    try:
        async with (
            await psycopg.AsyncConnection.connect(superuser_conninfo, autocommit=True) as conn,
            conn.transaction(),
        ):
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
    except psycopg.Error as exc:
        raise translate(exc, server_label(superuser_conninfo)) from exc
    return tuple(created)
