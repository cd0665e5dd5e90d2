"""The versioned tenant table template: apply it to a schema, upgrade N-1 -> N.

Both tiers use it: :func:`~tenant_operator.adapters.postgres.migrations.migrate` keeps the
platform schema (``shared`` tier) at :data:`TEMPLATE_VERSION`, and the provisioning adapter
builds and upgrades every ``t_<slug>`` schema (``schema`` tier) with the same steps.
"""

import uuid

from tenant_operator.adapters.postgres.session import Conn
from tenant_operator.adapters.postgres.statements.common import Names
from tenant_operator.adapters.postgres.statements.template import template_steps
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings


def names_of(settings: Settings) -> Names:
    return Names(settings.platform_schema, settings.owner_role, settings.app_role)


#: The newest template version (the ``schemaVersion`` a schema-tier tenant converges to).
TEMPLATE_VERSION = max(step.version for step in template_steps(Names("p", "o", "a"), "s"))


def check_version(version: int) -> int:
    if not 1 <= version <= TEMPLATE_VERSION:
        raise PermanentError(
            f"template version {version} does not exist (1..{TEMPLATE_VERSION})",
            reason=Reason.INVALID_TEMPLATE_VERSION,
        )
    return version


async def apply_template(
    conn: Conn,
    settings: Settings,
    schema: str,
    *,
    current: int,
    target: int,
    tenant_id: uuid.UUID | None = None,
) -> tuple[int, ...]:
    """Apply the steps ``current < version <= target`` to ``schema``; return their versions.

    ``tenant_id``: the owner of a ``schema``-tier schema (its tables get a CHECK binding
    them to it); None for the platform schema.

    Runs inside the caller's transaction (DDL is transactional): a failing step leaves the
    schema at ``current``.
    """
    applied = []
    for step in template_steps(names_of(settings), schema, tenant_id):
        if current < step.version <= target:
            for statement in step.statements:
                await conn.execute(statement)
            applied.append(step.version)
    return tuple(applied)
