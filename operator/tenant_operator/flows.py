"""What the kopf handlers delegate to: parse once, decide, reconcile, build the status.

Nothing here imports kopf: functions return a :class:`Result` and the handler maps its
error (RetryableError / PermanentError) onto kopf's own errors.
"""

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tenant_operator.api.subprocessor import SubProcessor
from tenant_operator.api.tenant import PAUSED_ANNOTATION, Tenant
from tenant_operator.domain import conditions as cond
from tenant_operator.domain.errors import OperatorError, PermanentError
from tenant_operator.domain.plan import build_plan
from tenant_operator.domain.reserved import refusal
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.reconcile import reconcile_tenant
from tenant_operator.resume import unchanged_since_ready
from tenant_operator.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Result:
    status: dict[str, Any] = field(default_factory=dict)
    error: OperatorError | None = None


#: The aspect a refused spec is about (an invalid manifest is about no single aspect).
PLAN_ERROR_ASPECTS: dict[str, str] = {
    Reason.SECRET_NAMESPACE_FORBIDDEN: cond.CONNECTORS_ROUTED,
    Reason.ISOLATION_IMMUTABLE: cond.DATABASE_READY,
}


def is_true(annotations: Mapping[str, str], key: str) -> bool:
    return annotations.get(key, "").strip().lower() == "true"


def describe(exc: ValidationError) -> str:
    """A one-line, user-facing summary of a pydantic error naming each field."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(object)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_tenant(body: Mapping[str, Any]) -> Tenant:
    try:
        return Tenant.model_validate(dict(body))
    except ValidationError as exc:
        raise PermanentError(
            f"invalid Tenant: {describe(exc)}", reason=Reason.INVALID_SPEC
        ) from None


def _conditions(body: Mapping[str, Any], checks: Iterable[cond.Check], now: datetime) -> Any:
    previous = (body.get("status") or {}).get("conditions") or []
    generation = body.get("metadata", {}).get("generation")
    return cond.merge(previous, list(checks), generation=generation, now=now)


async def tenant_changed(body: Mapping[str, Any], rt: Runtime, *, resuming: bool = False) -> Result:
    """Reconcile a created, updated, resumed or nudged Tenant.

    A resumed tenant (operator start) that is unchanged since it was last Ready is left as
    it is: no I/O, no write (see :mod:`tenant_operator.resume`).
    """
    now = datetime.now(UTC)
    meta = body.get("metadata", {})
    rt.inventory.tenant_seen(str(meta.get("name")), body.get("spec") or {})
    if is_true(meta.get("annotations") or {}, PAUSED_ANNOTATION):
        rt.metrics.reconciles.labels("paused").inc()
        paused = cond.Check(cond.RECONCILING, "False", cond.PAUSED, f"{PAUSED_ANNOTATION} is true")
        return Result(status={"conditions": _conditions(body, [paused], now)})
    started = time.monotonic()
    try:
        tenant = parse_tenant(body)
        refuse_reserved(tenant.slug, rt)
        plan = build_plan(
            tenant,
            allowed_secret_namespaces=rt.settings.allowed_secret_namespaces,
            service_account_names=rt.settings.tenant_service_accounts,
            workload_namespace_prefix=rt.settings.tenant_workload_namespace_prefix,
        )
    except PermanentError as exc:
        aspect = PLAN_ERROR_ASPECTS.get(exc.reason)
        failure = cond.failed(aspect or cond.READY, exc.reason, exc.message, permanent=True)
        checks = [*cond.summarize([failure]), *([failure] if aspect else [])]
        status = {
            "observedGeneration": meta.get("generation"),
            "conditions": _conditions(body, checks, now),
        }
        rt.metrics.reconciles.labels("stalled").inc()
        return Result(status=status, error=exc)
    register = rt.inventory.entries()
    if resuming and unchanged_since_ready(
        body, tenant, plan, register, rt.inventory.secret_versions, rt.inventory.secret_owners, now
    ):
        rt.metrics.reconciles.labels("resumed").inc()
        return Result()
    async with rt.admission:
        outcome = await reconcile_tenant(tenant, plan, register, rt.ports, now)
    label = _outcome_label(outcome.error)
    rt.metrics.reconciles.labels(label).inc()
    rt.metrics.duration.labels(label).observe(time.monotonic() - started)
    status = {
        **outcome.status,
        "observedGeneration": meta.get("generation"),
        "conditions": _conditions(body, outcome.checks, now),
    }
    return Result(status=status, error=outcome.error)


def refuse_reserved(slug: str, rt: Runtime) -> None:
    """Refuse, before any write, a slug whose derived names are not the tenant's.

    The API server refuses such Tenants at creation (CRD rule, chart policy); this catches
    the ones admitted before, or under other settings.
    """
    message = refusal(slug, rt.settings.names)
    if message is not None:
        raise PermanentError(message, reason=Reason.SLUG_RESERVED)


def _outcome_label(error: OperatorError | None) -> str:
    if error is None:
        return "ready"
    return "stalled" if isinstance(error, PermanentError) else "retry"


def deletion_refused(body: Mapping[str, Any], error: OperatorError) -> dict[str, Any]:
    """Status patch saying why the finalizer refuses to let the Tenant go."""
    check = cond.failed(cond.READY, error.reason, error.message, permanent=True)
    stalled = cond.Check(cond.STALLED, "True", error.reason, error.message, "permanent")
    return {"conditions": _conditions(body, [check, stalled], datetime.now(UTC))}


async def subprocessor_changed(
    body: Mapping[str, Any], rt: Runtime, *, fan_out: bool = True
) -> Result:
    """Record a register entry in PostgreSQL and, with ``fan_out``, nudge every tenant.

    At operator start (resume) there is no fan-out: every tenant resumes on its own.
    """
    now = datetime.now(UTC)
    meta = body.get("metadata", {})
    deleting = bool(meta.get("deletionTimestamp"))
    try:
        sub = SubProcessor.model_validate(dict(body))
    except ValidationError as exc:
        error = PermanentError(f"invalid SubProcessor: {describe(exc)}", reason=Reason.INVALID_SPEC)
        check = cond.failed(cond.READY, error.reason, error.message, permanent=True)
        return Result(status={"conditions": _conditions(body, [check], now)}, error=error)
    rt.inventory.subprocessor_changed(body, deleted=deleting)
    try:
        if not deleting:
            await rt.db.ensure_subprocessor(
                sub.metadata.name,
                sub.spec.purpose,
                data_categories=sub.spec.data_categories,
                location=sub.spec.location,
                transfer_mechanism=sub.spec.transfer_mechanism,
                notice_days=sub.spec.notice_days,
            )
        for slug in await rt.kube.names() if fan_out else []:
            await rt.kube.nudge(slug, f"sub-processor {sub.metadata.name}")
    except OperatorError as exc:
        check = cond.failed(cond.READY, exc.reason, exc.message, permanent=False)
        return Result(status={"conditions": _conditions(body, [check], now)}, error=exc)
    if deleting:
        return Result()
    announced = sub.status.announced_at if sub.status and sub.status.announced_at else None
    stamp = announced.isoformat() if announced else meta.get("creationTimestamp")
    ready = cond.ok(cond.READY, "registered; tenants re-evaluated")
    return Result(
        status={
            "observedGeneration": meta.get("generation"),
            "announcedAt": stamp,
            "conditions": _conditions(body, [ready], now),
        }
    )
