"""Trigger: a Secret in an allowed namespace was listed, changed or deleted.

The inventory keeps every Secret's resourceVersion and owner label; a change nudges only
the tenants owning the Secret, before or now (a tenant naming a Secret it does not own
learns nothing from it, not even that it changed).
"""

from collections.abc import Mapping
from typing import Any

from tenant_operator.controller.context import Context
from tenant_operator.domain.ownership import owner_of


async def secret_changed(
    event: str | None, namespace: str, name: str, body: Mapping[str, Any], ctx: Context
) -> list[str]:
    """Record the Secret's version and owner; nudge its owners; return the nudged slugs.

    ``event`` is the watch event type (``None`` for the initial listing, when tenants
    compare on resume and nothing is nudged; ``"DELETED"`` when the Secret is gone).
    """
    meta = body.get("metadata", {})
    version = None if event == "DELETED" else meta.get("resourceVersion")
    nudged = ctx.inventory.secret_seen(namespace, name, version, owner_of(meta.get("labels")))
    if event is None:
        return []
    for slug in nudged:
        await ctx.ports.tenants.nudge(slug, f"secret {namespace}/{name} changed")
    return nudged
