"""Trigger: a Tenant is being deleted (its finalizer): refuse, retain, or erase everything.

Retain (the default) keeps the tenant's data and secrets, marks it retained in the
registry (a new Tenant under its slug must adopt it) and records that in its audit chain.
Delete erases the schema or rows, the OpenBao namespace or mount, policy, role and transit
key (crypto-shredding whatever was encrypted with it), redacts the details of the tenant's
audit entries and appends an erasure record to the tenant's and the platform's chains;
then the tenant's chain is closed (redacted, its digest key destroyed), so a Tenant
re-created under the slug starts a chain of its own. Every step treats "already gone" as
success, so a retried deletion converges. A Tenant that does not own the tenant
registered under its slug (one refused as RetainedTenantExists) erases and retains
nothing: the registered tenant is left alone.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenant_operator.api.tenant import PREVENT_DELETION_ANNOTATION, TenantStatus
from tenant_operator.controller.context import Context
from tenant_operator.controller.planning import is_true
from tenant_operator.controller.ports import Ports
from tenant_operator.controller.status import merged_over, read_status
from tenant_operator.domain import conditions as cond
from tenant_operator.domain import identity
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.reserved import NameContext, collisions, openbao_untouchable
from tenant_operator.domain.vocabulary import DeletionPolicy, Reason

#: Seconds between re-checks of a deletion that waits on a person (prevented, wrong shard).
PREVENTED_RECHECK = 30.0


@dataclass
class DeletionResult:
    """What the finalizer did; or, when it refused or failed, the status saying why and
    the error to map (always retryable: a deletion is never given up)."""

    done: list[str] = field(default_factory=list)
    status: TenantStatus | None = None
    error: RetryableError | None = None


async def tenant_deleted(body: Mapping[str, Any], ctx: Context) -> DeletionResult:
    """The finalizer's work for a Tenant being deleted, on the shard that owns it."""
    meta = body.get("metadata", {})
    placed = ctx.settings.scope.place(str(meta.get("name")), meta.get("labels") or {})
    try:
        if placed.problem:  # its finalizer stays: erased by the shard it is moved to
            raise PermanentError(placed.problem, reason=Reason.SHARD_UNKNOWN)
        async with ctx.admission:
            done = await apply_deletion_policy(body, ctx.ports, ctx.settings.names)
    except OperatorError as exc:
        waits = exc.reason in (Reason.DELETION_PREVENTED, Reason.SHARD_UNKNOWN)
        error = RetryableError(
            exc.message, reason=exc.reason, delay=PREVENTED_RECHECK if waits else None
        )
        return DeletionResult(status=deletion_refused(body, exc), error=error)
    ctx.inventory.tenant_gone(str(meta.get("name")))
    return DeletionResult(done=done)


def deletion_refused(body: Mapping[str, Any], error: OperatorError) -> TenantStatus:
    """The status saying why the finalizer refuses to let the Tenant go."""
    check = cond.failed(cond.READY, error.reason, error.message, permanent=True)
    stalled = cond.Check(cond.STALLED, "True", error.reason, error.message, "permanent")
    previous = read_status(body).conditions
    return TenantStatus(conditions=merged_over(body, previous, [check, stalled], datetime.now(UTC)))


def deletion_policy(body: Mapping[str, Any]) -> DeletionPolicy:
    """The deletion policy; anything but an explicit Delete means Retain (the safe side)."""
    spec = body.get("spec") or {}
    if spec.get("deletionPolicy") == DeletionPolicy.DELETE:
        return DeletionPolicy.DELETE
    return DeletionPolicy.RETAIN


async def apply_deletion_policy(
    body: Mapping[str, Any], ports: Ports, names: NameContext | None = None
) -> list[str]:
    """Run the finalizer's work; return what was done (for the log and the event).

    A slug whose derived names are not the tenant's (see domain.reserved; ``names``) was
    never provisioned by this version, but an older one may have left rows: those are
    erased as usual, OpenBao objects that are not the tenant's are never touched, and a
    Retain of a tenant that has no audit chain has nothing to keep (no entry is written).
    """
    meta = body.get("metadata", {})
    slug = str(meta.get("name"))
    if is_true(meta.get("annotations") or {}, PREVENT_DELETION_ANNOTATION):
        raise PermanentError(
            f"{PREVENT_DELETION_ANNOTATION} is true: nothing is erased and the Tenant stays "
            "until the annotation is removed",
            reason=Reason.DELETION_PREVENTED,
        )
    try:
        registered = await ports.db.registered(slug)
    except PermanentError:  # a name that can have no registry row: as before, let it go
        registered = None
    uid = meta.get("uid")
    if registered is not None and not registered.belongs_to(
        identity.parse_uid(uid) if uid else None
    ):
        # A Tenant refused under a retained slug owns nothing there: it leaves it all alone.
        # (This goes to an event anyone reading events may see: the retained id is not named.)
        return [f"nothing erased or retained: the tenant {slug} belongs to another Tenant object"]
    policy = deletion_policy(body)
    reserved = collisions(slug, names) if names is not None else ()
    if policy == DeletionPolicy.RETAIN:
        if reserved and await ports.audit.head(slug) is None:
            return ["nothing to keep: the slug is reserved and was never provisioned"]
        if registered is not None:
            await ports.db.retain_tenant(slug, uid)
        await ports.audit.append(
            slug,
            actor=ports.actor,
            action="tenant.deleted.retained",
            target=f"tenant:{slug}",
            detail={"deletionPolicy": policy, "note": "data and secrets kept"},
        )
        return ["kept PostgreSQL data and OpenBao secrets (deletionPolicy Retain)"]
    done = []
    if names is not None and openbao_untouchable(slug, names):
        done.append("left OpenBao untouched: the slug's OpenBao names are not the tenant's")
    elif await ports.bao.drop_tenant(slug):
        done.append("erased OpenBao namespace/mount, policy, role and transit key")
    if any(c.engine == "postgres" for c in reserved):
        done.append("left PostgreSQL untouched: the slug's schema is not the tenant's")
    elif await ports.db.drop_tenant(slug):  # also redacts the details of its audit entries
        done.append("erased PostgreSQL schema/rows and redacted audit details")
    detail = {"deletionPolicy": policy, "erased": done}
    await ports.audit.append(
        slug, actor=ports.actor, action="tenant.erased", target=f"tenant:{slug}", detail=detail
    )
    await ports.audit.append(
        None, actor=ports.actor, action="tenant.erased", target=f"tenant:{slug}", detail=detail
    )
    await ports.audit.close(slug)  # redacts, destroys the digest key; a reuse starts anew
    return done or ["nothing left to erase"]
