"""Trigger: a SubProcessor register entry was created, changed, resumed or deleted.

The entry is recorded in PostgreSQL and, on a change, every tenant is nudged so it
re-decides its notice periods. Its status is built as a :class:`SubProcessorStatusModel`
and dumped once, like a Tenant's.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tenant_operator.api.subprocessor import SubProcessor, SubProcessorStatusModel
from tenant_operator.controller.context import Context
from tenant_operator.controller.planning import describe, subprocessor_entry
from tenant_operator.controller.status import generation_of, merged_over, parse_status
from tenant_operator.domain import conditions as cond
from tenant_operator.domain.errors import OperatorError, PermanentError
from tenant_operator.domain.vocabulary import Reason


@dataclass
class RegisterResult:
    """A SubProcessor's new status (the fields set are the ones to write), the error to map."""

    status: SubProcessorStatusModel = field(default_factory=SubProcessorStatusModel)
    error: OperatorError | None = None


async def subprocessor_changed(
    body: Mapping[str, Any], ctx: Context, *, fan_out: bool = True
) -> RegisterResult:
    """Record a register entry in PostgreSQL and, with ``fan_out``, nudge every tenant.

    At operator start (resume) there is no fan-out: every tenant resumes on its own.
    """
    now = datetime.now(UTC)
    meta = body.get("metadata", {})
    deleting = bool(meta.get("deletionTimestamp"))
    previous = parse_status(SubProcessorStatusModel, body)
    try:
        sub = SubProcessor.model_validate(dict(body))
    except ValidationError as exc:
        error = PermanentError(f"invalid SubProcessor: {describe(exc)}", reason=Reason.INVALID_SPEC)
        check = cond.failed(cond.READY, error.reason, error.message, permanent=True)
        conditions = merged_over(body, previous.conditions, [check], now)
        return RegisterResult(SubProcessorStatusModel(conditions=conditions), error)
    ctx.inventory.subprocessor_changed(body, deleted=deleting)
    try:
        if not deleting:
            await ctx.ports.db.ensure_subprocessor(subprocessor_entry(sub))
        for slug in await ctx.ports.tenants.names() if fan_out else []:
            await ctx.ports.tenants.nudge(slug, f"sub-processor {sub.metadata.name}")
    except OperatorError as exc:
        check = cond.failed(cond.READY, exc.reason, exc.message, permanent=False)
        conditions = merged_over(body, previous.conditions, [check], now)
        return RegisterResult(SubProcessorStatusModel(conditions=conditions), exc)
    if deleting:
        return RegisterResult()
    created = meta.get("creationTimestamp")
    announced = previous.announced_at or (datetime.fromisoformat(created) if created else None)
    ready = cond.ok(cond.READY, "registered; tenants re-evaluated")
    return RegisterResult(
        SubProcessorStatusModel(
            observed_generation=generation_of(body),
            announced_at=announced,
            conditions=merged_over(body, previous.conditions, [ready], now),
        )
    )
