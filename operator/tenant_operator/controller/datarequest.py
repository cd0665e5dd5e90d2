"""Trigger: a TenantDataRequest was created, resumed or is looked at again (its timer).

An Export writes a signed bundle of the tenant (or of one subject) to its destination; an
Erasure erases one subject: OpenBao's data about them, their rows (or the link to them,
where a row must stay), the audit details naming them, then an erasure record in the
tenant's chain, a new data key sealing the live data, and the trim of the old key versions
once backups made before have expired. Each phase is recorded in PostgreSQL before the
next starts (:class:`~tenant_operator.domain.vocabulary.RequestPhase`), so a restart
resumes after the last one recorded and nothing is done twice. The status says when the
request was received, when it is due (one month, GDPR Art. 12(3)), whether it is Overdue,
and, once Completed, what was done.
"""

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from tenant_operator.api.datarequest import (
    DataRequestStatus,
    Erased,
    ErasureStatus,
    ExportStatus,
    Recipient,
    TenantDataRequest,
)
from tenant_operator.controller.context import Context
from tenant_operator.controller.export import export
from tenant_operator.controller.keys import key_ring
from tenant_operator.controller.planning import describe
from tenant_operator.controller.ports import RequestLog
from tenant_operator.controller.status import generation_of, merged_over, parse_status
from tenant_operator.domain import conditions as cond
from tenant_operator.domain import datarequests as dr
from tenant_operator.domain import envelope
from tenant_operator.domain.datarequests import RequestRecord
from tenant_operator.domain.envelope import DataKey, KeyRing, Unreadable
from tenant_operator.domain.errors import OperatorError, PermanentError
from tenant_operator.domain.export import SubjectRef
from tenant_operator.domain.vocabulary import ConditionType, DataRequestType, Reason, RequestPhase

log = logging.getLogger(__name__)

P = RequestPhase
#: How an erasure's counts are named in status: store:table -> what was done.
ACTIONS = {
    "postgres:accounts": "erased",
    "postgres:pipeline_runs": "anonymised",
    "postgres:deploy_events": "anonymised",
    "audit:details": "redacted",
    "openbao:invites": "destroyed",
}


@dataclass
class RequestOutcome:
    """The request's new status, the error to map, a Warning to post (Overdue) if any."""

    status: DataRequestStatus = field(default_factory=DataRequestStatus)
    error: OperatorError | None = None
    warning: str | None = None


async def data_request_changed(
    body: Mapping[str, Any], ctx: Context, *, now: datetime | None = None
) -> RequestOutcome:
    """Advance the request as far as it can go now; return its status."""
    now = now or datetime.now(UTC)
    previous = parse_status(DataRequestStatus, body)
    try:
        request = TenantDataRequest.model_validate(dict(body))
    except ValidationError as exc:
        invalid = PermanentError(
            f"invalid TenantDataRequest: {describe(exc)}", reason=Reason.INVALID_SPEC
        )
        return _outcome(body, previous, now, None, invalid)
    assert ctx.requests is not None, "the runtime builds the request ports"
    uid = uuid.UUID(request.metadata.uid or "")
    error: OperatorError | None = None
    async with ctx.request_lock(str(uid)):  # the record is read and advanced by one run
        record = await ctx.requests.log.receive(
            uid, name=request.metadata.name, slug=request.spec.tenant, type_=request.spec.type
        )
        try:
            async with ctx.admission:
                record = await _advance(ctx, request, record, now)
        except OperatorError as exc:
            error = exc
    outcome = _outcome(body, previous, now, record, error)
    _count_overdue(ctx, str(uid), outcome.status)
    return outcome


def _count_overdue(ctx: Context, uid: str, status: DataRequestStatus) -> None:
    """Keep ``ctx.overdue`` (and its gauge) to the requests whose status says Overdue."""
    overdue = any(c.type == ConditionType.OVERDUE and c.status == "True" for c in status.conditions)
    (ctx.overdue.add if overdue else ctx.overdue.discard)(uid)
    ctx.metrics.requests_overdue.set(len(ctx.overdue))


async def _advance(
    ctx: Context, request: TenantDataRequest, record: RequestRecord, now: datetime
) -> RequestRecord:
    rp = ctx.requests
    assert rp is not None
    spec = request.spec
    if record.completed and not _trim_due(record, now):
        return record
    registered = await ctx.ports.db.registered(spec.tenant)
    if registered is None:
        raise PermanentError(
            f"no tenant {spec.tenant} is registered: check spec.tenant (a request for a "
            "tenant that appears later is handled then); nothing was read or erased",
            reason=Reason.TENANT_NOT_FOUND,
        )
    tenant_id = registered.tenant_id
    if record.completed:  # only the trim is left
        return await _trim(ctx, record, spec.tenant, now)
    keys = await key_ring(ctx.ports, spec.tenant, tenant_id)
    subject = None
    if spec.subject is not None:
        subject = SubjectRef(email=spec.subject.email, id=spec.subject.id)
    if spec.type == DataRequestType.EXPORT:
        return await _export(ctx, request, record, keys, subject, now)
    assert subject is not None  # the model and the CRD require it
    return await _erase(ctx, request, record, keys, subject, now)


async def _export(
    ctx: Context,
    request: TenantDataRequest,
    record: RequestRecord,
    keys: KeyRing,
    subject: SubjectRef | None,
    now: datetime,
) -> RequestRecord:
    rp = ctx.requests
    assert rp is not None
    url = request.spec.destination or ctx.settings.export_destination
    destination = rp.destination(url)
    await destination.check_writable()
    result = await export(
        rp.export_source,
        rp.signer,
        destination,
        rp.new_files,
        keys=keys,
        subject=subject,
        request=request.metadata.name,
        uid=str(record.uid),
        now=now,
        work_dir=ctx.settings.export_work_dir,
    )
    done = {
        "export": {
            "location": result.location,
            "sha256": result.sha256,
            "rows": sum(result.rows.values()),
            "files": len(result.files),
            "dataHeld": result.data_held,
        }
    }
    log.info("data request %s: exported to %s", request.metadata.name, result.location)
    return await rp.log.advance(record.uid, P.COMPLETED, done, tenant_id=keys.tenant_id)


async def _erase(
    ctx: Context,
    request: TenantDataRequest,
    record: RequestRecord,
    keys: KeyRing,
    subject: SubjectRef,
    now: datetime,
) -> RequestRecord:
    rp, ports, slug = ctx.requests, ctx.ports, request.spec.tenant
    assert rp is not None
    tenant_id, uid = keys.tenant_id, record.uid
    if not dr.reached(record.phase, P.RESOLVED):
        account = await rp.log.find_account(
            tenant_id,
            account_id=subject.id,
            email_index=None if subject.email is None else keys.blind_index(subject.email),
        )
        if account is None:
            raise PermanentError(
                f"tenant {slug} has no account with this {'email' if subject.email else 'id'}: "
                "nothing was erased (an Export of the same subject answers that no data is held)",
                reason=Reason.SUBJECT_NOT_FOUND,
            )
        if account.is_owner:
            raise PermanentError(
                f"the subject is the owner of tenant {slug}, who cannot be erased while the "
                "tenant exists: change spec.owner of the Tenant to another person first (or "
                "delete the Tenant with deletionPolicy Delete); nothing was erased",
                reason=Reason.OWNER_NOT_ERASABLE,
            )
        # What OpenBao holds is counted before it is destroyed: a run that destroys it
        # and dies before recording SECRETS_ERASED leaves the count to its successor.
        invites = int(await ports.bao.account_invite_exists(slug, account.id))
        record = await rp.log.advance(
            uid,
            P.RESOLVED,
            {"erased": {"openbao:invites": invites}},
            tenant_id=tenant_id,
            account_id=account.id,
        )
    account_id = record.account_id
    assert account_id is not None  # recorded with RESOLVED
    erased = dict(record.result.get("erased", {}))
    if not dr.reached(record.phase, P.SECRETS_ERASED):
        destroyed = await ports.bao.destroy_account_invite(slug, account_id)
        erased["openbao:invites"] = max(int(erased.get("openbao:invites", 0)), int(destroyed))
        record = await rp.log.advance(uid, P.SECRETS_ERASED, {"erased": erased})
    if not dr.reached(record.phase, P.ROWS_ERASED):
        chain = await ports.audit.chain_name(slug)
        head = await ports.audit.head(slug)
        needles = await _needles(rp.log, keys, account_id, subject)
        record = await rp.log.erase_rows(
            uid,
            tenant_id,
            chain,
            account_id,
            needles,
            {"erased": erased, "seqBefore": head.seq if head else 0},
        )
        erased = dict(record.result.get("erased", {}))
    if not dr.reached(record.phase, P.RECORDED):
        detail = {"request": request.metadata.name, "uid": str(uid), "erased": erased}
        if not await _recorded(ctx, slug, record):
            await ports.audit.append(
                slug,
                actor=ports.actor,
                action="subject.erased",
                target=f"datarequest:{request.metadata.name}",
                detail=detail,
            )
        record = await rp.log.advance(uid, P.RECORDED)
    if not dr.reached(record.phase, P.KEY_ROTATED):
        record = await _rotate(ctx, record, slug, keys, now)
    recipients = dr.recipients(await rp.log.processors_of(tenant_id))
    record = await rp.log.advance(uid, P.COMPLETED, {"recipients": recipients})
    log.info("data request %s: subject erased from tenant %s", request.metadata.name, slug)
    return await _trim(ctx, record, slug, now) if _trim_due(record, now) else record


async def _needles(
    log_: RequestLog, keys: KeyRing, account_id: uuid.UUID, subject: SubjectRef
) -> list[str]:
    """What names the subject in an audit detail: the account id, its email and name."""
    values = [subject.email]
    account = await log_.find_account(keys.tenant_id, account_id=account_id)
    if account is not None:
        try:
            values += [
                keys.open(account.email, envelope.ACCOUNT_EMAIL),
                keys.open(account.name, envelope.ACCOUNT_NAME),
            ]
        except Unreadable:
            log.warning("erasure: the subject's sealed values do not open; redacting by id")
    return list(dr.needles(account_id, *values))


async def _recorded(ctx: Context, slug: str, record: RequestRecord) -> bool:
    """Whether the erasure record is in the chain already (appended, then a restart)."""
    since = int(record.result.get("seqBefore", 0)) + 1
    target = f"datarequest:{record.name}"
    rows = await ctx.ports.audit.rows(slug, since=since)
    return any(r.action == "subject.erased" and r.target == target for r in rows)


async def _rotate(
    ctx: Context, record: RequestRecord, slug: str, keys: KeyRing, now: datetime
) -> RequestRecord:
    """A new data key seals the live data; the transit key gets a version the old wrapped
    keys (in backups) were not made with, so trimming the older versions shreds them."""
    assert ctx.requests is not None
    bao = ctx.ports.bao
    # Where the rotation starts, recorded first: a run that dies after rotating (or after
    # the reseal, which records the new data key) is not repeated by its successor.
    start = record.result.get("rotation")
    if start is None:  # the first run: nothing rotated yet, the version just read is current
        transit_version = await bao.tenant_key_version(slug)
        start = {"transitBefore": transit_version, "dataKeyBefore": max(keys.versions)}
        record = await ctx.requests.log.advance(record.uid, P.RECORDED, {"rotation": start})
    else:  # a resumed run: a rotation may have happened after the start was recorded
        transit_version = await bao.tenant_key_version(slug)
    if transit_version <= int(start["transitBefore"]):
        transit_version = await bao.rotate_tenant_key(slug)
    if max(keys.versions) <= int(start["dataKeyBefore"]):
        wrapped, material = await bao.new_data_key(slug)
        version = int(start["dataKeyBefore"]) + 1
        new = KeyRing.of(keys.tenant_id, [DataKey(version, material)])
        await ctx.ports.db.reseal(keys.tenant_id, keys, new, version, wrapped)
    retention = timedelta(seconds=ctx.settings.backup_retention_seconds)
    result = {
        "transitVersion": transit_version,
        "keyRotatedAt": now.isoformat(),
        "backupsClearAt": dr.backups_clear_at(now, retention).isoformat(),
    }
    return await ctx.requests.log.advance(record.uid, P.KEY_ROTATED, result)


def _trim_due(record: RequestRecord, now: datetime) -> bool:
    clear = record.result.get("backupsClearAt")
    return (
        record.type == DataRequestType.ERASURE
        and clear is not None
        and "keyVersionsTrimmedAt" not in record.result
        and now >= datetime.fromisoformat(clear)
    )


async def _trim(ctx: Context, record: RequestRecord, slug: str, now: datetime) -> RequestRecord:
    assert ctx.requests is not None
    await ctx.ports.bao.trim_tenant_key(slug, int(record.result["transitVersion"]))
    log.info("data request %s: old key versions of tenant %s trimmed", record.name, slug)
    trimmed = {"keyVersionsTrimmedAt": now.isoformat()}
    return await ctx.requests.log.advance(record.uid, P.COMPLETED, trimmed)


def _outcome(
    body: Mapping[str, Any],
    previous: DataRequestStatus,
    now: datetime,
    record: RequestRecord | None,
    error: OperatorError | None,
) -> RequestOutcome:
    checks: list[cond.Check] = []
    fields: dict[str, Any] = {"observed_generation": generation_of(body)}
    warning = None
    if record is not None:
        due = dr.due_at(record.received_at)
        fields |= {"received_at": record.received_at, "due_at": due}
        if record.completed:
            fields["completed_at"] = record.completed_at
            fields |= _result_fields(record)
            held = record.result.get("export", {}).get("dataHeld", True)
            reason = Reason.ERASED if record.type == DataRequestType.ERASURE else Reason.EXPORTED
            message = _completion_message(record)
            if not held:
                reason, message = Reason.NO_DATA_HELD, "no data is held about this subject"
            checks.append(cond.ok(ConditionType.COMPLETED, message, reason))
        else:
            why = error.message if error is not None else "in progress"
            checks.append(
                cond.Check(
                    ConditionType.COMPLETED, "False", error.reason if error else cond.PENDING, why
                )
            )
        if dr.is_overdue(record.received_at, now, completed=record.completed):
            late = f"past its due date {due.date().isoformat()} (one month after receipt)"
            checks.append(cond.Check(ConditionType.OVERDUE, "True", Reason.PAST_DUE, late))
            if not _was_overdue(previous):
                warning = f"data-subject request {late}"
        else:
            checks.append(cond.Check(ConditionType.OVERDUE, "False", Reason.WITHIN_TIME_LIMIT, ""))
    ready_check = _summary(error, record)
    checks = [*ready_check, *checks]
    fields["conditions"] = merged_over(body, previous.conditions, checks, now)
    return RequestOutcome(DataRequestStatus(**fields), error, warning)


def _summary(error: OperatorError | None, record: RequestRecord | None) -> list[cond.Check]:
    if error is not None:
        permanent = isinstance(error, PermanentError)
        failed = cond.failed(ConditionType.READY, error.reason, error.message, permanent=permanent)
        return cond.summarize([failed])[:3]
    if record is not None and record.completed:
        done = cond.Check(ConditionType.READY, "True", cond.RECONCILED, "request completed")
        return [done, *cond.summarize([done])[1:3]]
    waiting = cond.failed(ConditionType.READY, cond.PENDING, "in progress", permanent=False)
    return cond.summarize([waiting])[:3]


def _was_overdue(previous: DataRequestStatus) -> bool:
    return any(c.type == ConditionType.OVERDUE and c.status == "True" for c in previous.conditions)


def _completion_message(record: RequestRecord) -> str:
    if record.type == DataRequestType.EXPORT:
        info = record.result.get("export", {})
        return f"exported {info.get('rows', 0)} row(s) to {info.get('location', '?')}"
    erased = record.result.get("erased", {})
    listed = ", ".join(f"{where} {count}" for where, count in sorted(erased.items()))
    return f"subject erased ({listed}); inform the recipients listed in status.erasure"


def _result_fields(record: RequestRecord) -> dict[str, Any]:
    result = record.result
    if record.type == DataRequestType.EXPORT:
        info = result.get("export", {})
        return {
            "export": ExportStatus(
                location=info["location"],
                sha256=info["sha256"],
                rows=info["rows"],
                files=info["files"],
            )
        }
    erased = [
        Erased(where=where, action=ACTIONS.get(where, "erased"), count=int(count))
        for where, count in sorted(result.get("erased", {}).items())
    ]
    recipients = [Recipient.model_validate(r) for r in result.get("recipients", [])]
    return {
        "erasure": ErasureStatus(
            erased=erased,
            recipients=recipients,
            key_rotated_at=result.get("keyRotatedAt"),
            backups_clear_at=result.get("backupsClearAt"),
            key_versions_trimmed_at=result.get("keyVersionsTrimmedAt"),
        )
    }
