"""Trigger: a Tenant was created, changed, resumed or nudged.

Parse once, plan, leave a resumed unchanged tenant alone, reconcile over the ports, and
return the new status as a :class:`TenantStatus` (see :mod:`.status`); the handler dumps
it once, where it patches. Nothing here imports kopf: the error in the :class:`Result`
(RetryableError / PermanentError) is mapped onto kopf's errors by the handler.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenant_operator.api.tenant import PAUSED_ANNOTATION, TenantStatus
from tenant_operator.controller.context import Context
from tenant_operator.controller.planning import build_plan, is_true, parse_tenant, refuse_reserved
from tenant_operator.controller.reconcile import reconcile_tenant
from tenant_operator.controller.resume import unchanged_since_ready
from tenant_operator.controller.status import amended, generation_of, merged_over, read_status
from tenant_operator.domain import conditions as cond
from tenant_operator.domain.errors import OperatorError, PermanentError
from tenant_operator.domain.vocabulary import Reason


@dataclass
class Result:
    """A Tenant's new status (the fields set are the ones to write) and the error to map."""

    status: TenantStatus = field(default_factory=TenantStatus)
    error: OperatorError | None = None


#: The aspect a refused spec is about (an invalid manifest is about no single aspect).
PLAN_ERROR_ASPECTS: dict[str, str] = {
    Reason.SECRET_NAMESPACE_FORBIDDEN: cond.CONNECTORS_ROUTED,
    Reason.ISOLATION_IMMUTABLE: cond.DATABASE_READY,
}


async def tenant_changed(
    body: Mapping[str, Any], ctx: Context, *, resuming: bool = False
) -> Result:
    """Reconcile a created, updated, resumed or nudged Tenant.

    A resumed tenant (operator start) that is unchanged since it was last Ready is left as
    it is: no I/O, no write (see :mod:`.resume`).
    """
    now = datetime.now(UTC)
    meta = body.get("metadata", {})
    ctx.inventory.tenant_seen(str(meta.get("name")), body.get("spec") or {})
    if is_true(meta.get("annotations") or {}, PAUSED_ANNOTATION):
        ctx.metrics.reconciles.labels("paused").inc()
        paused = cond.Check(cond.RECONCILING, "False", cond.PAUSED, f"{PAUSED_ANNOTATION} is true")
        previous = read_status(body).conditions
        return Result(status=TenantStatus(conditions=merged_over(body, previous, [paused], now)))
    started = time.monotonic()
    settings = ctx.settings
    try:
        tenant = parse_tenant(body)
        refuse_reserved(tenant.slug, settings.names)
        plan = build_plan(
            tenant,
            allowed_secret_namespaces=settings.allowed_secret_namespaces,
            service_account_names=settings.tenant_service_accounts,
            workload_namespace_prefix=settings.tenant_workload_namespace_prefix,
        )
    except PermanentError as exc:
        aspect = PLAN_ERROR_ASPECTS.get(exc.reason)
        failure = cond.failed(aspect or cond.READY, exc.reason, exc.message, permanent=True)
        checks = [*cond.summarize([failure]), *([failure] if aspect else [])]
        previous = read_status(body).conditions
        stalled = TenantStatus(
            observed_generation=generation_of(body),
            conditions=merged_over(body, previous, checks, now),
        )
        ctx.metrics.reconciles.labels("stalled").inc()
        return Result(status=stalled, error=exc)
    inventory = ctx.inventory
    register = inventory.entries()
    if resuming and unchanged_since_ready(
        tenant, plan, register, inventory.secret_versions, inventory.secret_owners, now
    ):
        ctx.metrics.reconciles.labels("resumed").inc()
        return Result()
    async with ctx.admission:
        outcome = await reconcile_tenant(tenant, plan, register, ctx.ports, now)
    label = _outcome_label(outcome.error)
    ctx.metrics.reconciles.labels(label).inc()
    ctx.metrics.duration.labels(label).observe(time.monotonic() - started)
    previous = tenant.status.conditions if tenant.status else []
    status = amended(
        outcome.status,
        observed_generation=generation_of(body),
        conditions=merged_over(body, previous, outcome.checks, now),
    )
    return Result(status=status, error=outcome.error)


def _outcome_label(error: OperatorError | None) -> str:
    if error is None:
        return "ready"
    return "stalled" if isinstance(error, PermanentError) else "retry"
