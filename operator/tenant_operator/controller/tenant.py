"""What the kopf handlers delegate to: parse once, decide, reconcile, build the status.

A Tenant's status is built as a :class:`TenantStatus` (see
:mod:`tenant_operator.controller.status`); the handler dumps it once, where it patches.

Nothing here imports kopf: functions return a :class:`Result` and the handler maps its
error (RetryableError / PermanentError) onto kopf's own errors.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tenant_operator.api.common import Condition
from tenant_operator.api.subprocessor import SubProcessor, SubProcessorStatusModel
from tenant_operator.api.tenant import PAUSED_ANNOTATION, Tenant, TenantStatus
from tenant_operator.controller.reconcile import reconcile_tenant
from tenant_operator.controller.resume import unchanged_since_ready
from tenant_operator.controller.status import (
    amended,
    merge_conditions,
    parse_status,
    read_status,
    wire,
)
from tenant_operator.domain import conditions as cond
from tenant_operator.domain.errors import OperatorError, PermanentError
from tenant_operator.domain.plan import build_plan
from tenant_operator.domain.reserved import refusal
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Result:
    """A Tenant's new status (the fields set are the ones to write) and the error to map."""

    status: TenantStatus = field(default_factory=TenantStatus)
    error: OperatorError | None = None


@dataclass
class RegisterResult:
    """A SubProcessor's status patch (already in wire form) and the error to map."""

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


def _conditions(
    previous: Sequence[Condition],
    body: Mapping[str, Any],
    checks: Sequence[cond.Check],
    now: datetime,
) -> list[Condition]:
    return merge_conditions(previous, checks, generation=_generation(body), now=now)


def _generation(body: Mapping[str, Any]) -> Any:
    return body.get("metadata", {}).get("generation")


async def tenant_changed(body: Mapping[str, Any], rt: Runtime, *, resuming: bool = False) -> Result:
    """Reconcile a created, updated, resumed or nudged Tenant.

    A resumed tenant (operator start) that is unchanged since it was last Ready is left as
    it is: no I/O, no write (see :mod:`tenant_operator.controller.resume`).
    """
    now = datetime.now(UTC)
    meta = body.get("metadata", {})
    rt.inventory.tenant_seen(str(meta.get("name")), body.get("spec") or {})
    if is_true(meta.get("annotations") or {}, PAUSED_ANNOTATION):
        rt.metrics.reconciles.labels("paused").inc()
        paused = cond.Check(cond.RECONCILING, "False", cond.PAUSED, f"{PAUSED_ANNOTATION} is true")
        previous = read_status(body).conditions
        return Result(status=TenantStatus(conditions=_conditions(previous, body, [paused], now)))
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
        previous = read_status(body).conditions
        stalled = TenantStatus(
            observed_generation=_generation(body),
            conditions=_conditions(previous, body, checks, now),
        )
        rt.metrics.reconciles.labels("stalled").inc()
        return Result(status=stalled, error=exc)
    register = rt.inventory.entries()
    if resuming and unchanged_since_ready(
        tenant, plan, register, rt.inventory.secret_versions, rt.inventory.secret_owners, now
    ):
        rt.metrics.reconciles.labels("resumed").inc()
        return Result()
    async with rt.admission:
        outcome = await reconcile_tenant(tenant, plan, register, rt.ports, now)
    label = _outcome_label(outcome.error)
    rt.metrics.reconciles.labels(label).inc()
    rt.metrics.duration.labels(label).observe(time.monotonic() - started)
    previous = tenant.status.conditions if tenant.status else []
    status = amended(
        outcome.status,
        observed_generation=_generation(body),
        conditions=_conditions(previous, body, outcome.checks, now),
    )
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


def deletion_refused(body: Mapping[str, Any], error: OperatorError) -> TenantStatus:
    """The status saying why the finalizer refuses to let the Tenant go."""
    check = cond.failed(cond.READY, error.reason, error.message, permanent=True)
    stalled = cond.Check(cond.STALLED, "True", error.reason, error.message, "permanent")
    previous = read_status(body).conditions
    checks = [check, stalled]
    return TenantStatus(conditions=_conditions(previous, body, checks, datetime.now(UTC)))


async def subprocessor_changed(
    body: Mapping[str, Any], rt: Runtime, *, fan_out: bool = True
) -> RegisterResult:
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
        return RegisterResult({"conditions": _register_conditions(body, [check], now)}, error)
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
        return RegisterResult({"conditions": _register_conditions(body, [check], now)}, exc)
    if deleting:
        return RegisterResult()
    announced = sub.status.announced_at if sub.status and sub.status.announced_at else None
    stamp = announced.isoformat() if announced else meta.get("creationTimestamp")
    ready = cond.ok(cond.READY, "registered; tenants re-evaluated")
    return RegisterResult(
        status={
            "observedGeneration": meta.get("generation"),
            "announcedAt": stamp,
            "conditions": _register_conditions(body, [ready], now),
        }
    )


def _register_conditions(
    body: Mapping[str, Any], checks: Sequence[cond.Check], now: datetime
) -> list[dict[str, Any]]:
    """A SubProcessor's conditions in wire form (its status stays a dict: its announcedAt
    is written as it was read, which a dump of the model would reformat)."""
    previous = parse_status(SubProcessorStatusModel, body).conditions
    return [wire(c) for c in _conditions(previous, body, checks, now)]
