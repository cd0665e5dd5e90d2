"""The isolation verifier behind the ``IsolationVerified`` condition and the drift scanner.

Static checks, on every table holding a ``tenant_id`` in the tenant's schema (``schema``
tier) or the platform schema (``shared`` tier, and the sub-processor records of both):
RLS enabled and forced, exactly one policy, the expected fail-closed one for all commands
and all roles. Probes, inside one transaction ``SET LOCAL ROLE <app>`` that is rolled back:
no context, an empty context and a random tenant's context each see no rows; the tenant's
own context sees only its rows. The application role must not be superuser or BYPASSRLS.
"""

import uuid
from dataclasses import dataclass

import psycopg

from tenant_operator.adapters.postgres.errors import pg_errors
from tenant_operator.adapters.postgres.session import Conn, Pool, label, set_tenant
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements.common import POLICY_EXPRESSION, POLICY_NAME
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import validate_slug
from tenant_operator.settings import Settings


@dataclass(frozen=True)
class IsolationReport:
    ok: bool
    problems: tuple[str, ...]


async def _static_checks(conn: Conn, schema: str) -> list[str]:
    problems: list[str] = []
    tables = await (await conn.execute(q.TENANT_TABLES, [schema])).fetchall()
    for name, enabled, forced in tables:
        where = f"{schema}.{name}"
        if not enabled:
            problems.append(f"{where}: row level security is not enabled")
        if not forced:
            problems.append(f"{where}: row level security is not forced")
        policies = await (await conn.execute(q.POLICIES, [schema, name])).fetchall()
        expected = (
            POLICY_NAME,
            "PERMISSIVE",
            ["public"],
            "ALL",
            POLICY_EXPRESSION,
            POLICY_EXPRESSION,
        )
        if [tuple(p) for p in policies] != [expected]:
            found = ", ".join(str(p[0]) for p in policies) or "none"
            problems.append(
                f"{where}: expected exactly the fail-closed policy {POLICY_NAME} "
                f"(found: {found}, or it differs)"
            )
    return problems


async def _probe(conn: Conn, schema: str, table: str, tenant_id: uuid.UUID) -> list[str]:
    problems: list[str] = []
    where = f"{schema}.{table}"
    contexts: tuple[tuple[str, uuid.UUID | None], ...] = (
        ("no context", None),
        ("a random tenant's context", uuid.uuid4()),
    )
    for what, context in contexts:
        await set_tenant(conn, context)
        row = await (await conn.execute(q.probe_rows(schema, table), [None])).fetchone()
        if row and row[0]:
            problems.append(f"{where}: the application role sees rows with {what}")
    await set_tenant(conn, tenant_id)
    row = await (await conn.execute(q.probe_rows(schema, table), [tenant_id])).fetchone()
    if row and row[0]:
        problems.append(f"{where}: the tenant's context sees another tenant's rows")
    return problems


async def verify_isolation(pool: Pool, settings: Settings, slug: str) -> IsolationReport:
    """Check the tenant's tables statically and by probing as the application role."""
    validate_slug(slug)
    p = settings.platform_schema
    problems: list[str] = []
    async with pg_errors(lambda: label(pool)), pool.connection() as conn:
        try:
            async with conn.transaction(force_rollback=True):
                row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
                if row is None:
                    raise PermanentError(f"tenant {slug} is not registered", reason="NotFound")
                tenant_id, schema = row[0], row[4]
                flags = await (await conn.execute(q.ROLE_FLAGS, [settings.app_role])).fetchone()
                if flags is None or any(flags):
                    problems.append(
                        f"application role {settings.app_role} is missing, superuser or BYPASSRLS"
                    )
                targets = [p] if schema is None else [p, schema]
                for target in targets:
                    problems += await _static_checks(conn, target)
                await conn.execute(q.set_role(settings.app_role))
                for target in targets:
                    tables = await (await conn.execute(q.TENANT_TABLES, [target])).fetchall()
                    for table in tables:
                        problems += await _probe(conn, target, table[0], tenant_id)
        except psycopg.errors.InsufficientPrivilege as exc:
            problems.append(f"probe as {settings.app_role} was refused: {exc}")
    return IsolationReport(ok=not problems, problems=tuple(problems))
