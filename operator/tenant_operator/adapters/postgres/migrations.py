"""Versioned platform migrations, applied by the operator at start.

All pending steps run in one transaction under a ``pg_advisory_xact_lock`` (two operators
starting at once serialize; the second finds nothing to do), each recorded in
``<platform>.migrations`` with its component: ``platform`` for the platform's own tables,
``template`` for the tenant table template applied to the platform schema (``shared`` tier).
"""

import logging

from tenant_operator.adapters.postgres import template
from tenant_operator.adapters.postgres.session import Conn, Pool, transaction
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements.common import Names
from tenant_operator.adapters.postgres.statements.platform import (
    bootstrap_statements,
    platform_steps,
)
from tenant_operator.domain.naming import validate_identifier
from tenant_operator.settings import Settings

log = logging.getLogger(__name__)

#: The newest platform migration.
PLATFORM_VERSION = max(step.version for step in platform_steps(Names("p", "o", "a")))


async def _applied(conn: Conn, settings: Settings, component: str) -> set[int]:
    cur = await conn.execute(q.applied_versions(settings.platform_schema), [component])
    return {int(row[0]) for row in await cur.fetchall()}


async def migrate(pool: Pool, settings: Settings) -> int:
    """Bring the platform schema up to date; return the platform version. Idempotent."""
    for value, what in (
        (settings.platform_schema, "platform schema"),
        (settings.owner_role, "owner role"),
        (settings.app_role, "app role"),
    ):
        validate_identifier(value, what=what)
    names = template.names_of(settings)
    async with transaction(pool, settings, lock=(q.LOCK_MIGRATIONS, "migrations")) as conn:
        for statement in bootstrap_statements(names):
            await conn.execute(statement)
        done = await _applied(conn, settings, "platform")
        for step in platform_steps(names):
            if step.version not in done:
                for statement in step.statements:
                    await conn.execute(statement)
                await conn.execute(
                    q.record_migration(settings.platform_schema),
                    ["platform", step.version, step.name],
                )
                log.info("applied platform migration %d: %s", step.version, step.name)
        done_template = await _applied(conn, settings, "template")
        current = max(done_template, default=0)
        applied = await template.apply_template(
            conn,
            settings,
            settings.platform_schema,
            current=current,
            target=template.TEMPLATE_VERSION,
        )
        for version in applied:
            await conn.execute(
                q.record_migration(settings.platform_schema),
                ["template", version, f"tenant table template v{version}"],
            )
            log.info("applied tenant table template v%d to %s", version, settings.platform_schema)
    return PLATFORM_VERSION
