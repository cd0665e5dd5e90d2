"""kopf registration only: every handler body is a call; kopf errors are mapped here."""

import asyncio
import logging
from typing import Any

import kopf

from tenant_operator import runtime
from tenant_operator.adapters.kubernetes.peering import PeeringConfig
from tenant_operator.api.common import GROUP, VERSION
from tenant_operator.api.datarequest import PLURAL as DATA_REQUESTS
from tenant_operator.api.subprocessor import PLURAL as SUBPROCESSORS
from tenant_operator.api.tenant import PLURAL as TENANTS
from tenant_operator.controller.datarequest import data_request_changed
from tenant_operator.controller.deletion import tenant_deleted
from tenant_operator.controller.drift import run_scanner
from tenant_operator.controller.secret import secret_changed
from tenant_operator.controller.status import wire
from tenant_operator.controller.subprocessor import subprocessor_changed
from tenant_operator.controller.tenant import tenant_changed
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.sharding import SHARD_LABEL, Placement
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

MAX_BACKOFF = 60.0
KOPF_PREFIX = f"kopf.{GROUP}"


def raise_for(error: OperatorError | None, retry: int) -> None:
    """Map the operator's errors onto kopf's (the only place that does)."""
    if error is None:
        return
    if isinstance(error, RetryableError):
        delay = error.delay or min(MAX_BACKOFF, 2.0 ** min(retry, 6))
        raise kopf.TemporaryError(f"{error.reason}: {error.message}", delay=delay)
    raise kopf.PermanentError(f"{error.reason}: {error.message}")


def configure(settings: kopf.OperatorSettings, ours: Settings) -> None:
    """kopf settings chosen on purpose (see the README's "Runtime" section)."""
    # Handler warnings and failures become Events (kopf posts none by default), so
    # `kubectl describe tenant` shows why a tenant is stuck; INFO would flood the API.
    settings.posting.loggers = True
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # None by default: a worker per object (kopf sleeps retry backoffs inside the worker,
    # so a limit can be filled by tenants that keep retrying); the work on PostgreSQL and
    # OpenBao is bounded by Context.admission instead. A worker lives idle_timeout after
    # its last event (kopf's 5 s default kept slots busy long after a burst).
    settings.queueing.worker_limit = ours.max_workers
    settings.queueing.idle_timeout = ours.worker_idle_seconds
    settings.persistence.finalizer = f"{GROUP}/tenant-operator"
    # kopf ignores every annotation under its storages' prefix, so it must not be ours
    # (integraci.io/paused and the nudge annotation have to reach the update handler).
    # Sharded: each shard its own prefix (see ShardScope.storage_prefix) and a Tenant watch
    # the API server filters by the shard label (kopf's labels= filters are client-side).
    scope = ours.scope
    prefix = scope.storage_prefix(KOPF_PREFIX)
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    if selector := scope.watch_selector():
        settings.watching.label_selectors[GROUP, TENANTS] = selector
    settings.peering.lifetime = ours.peering_lifetime_seconds
    # No cluster-wide watching of CRDs and namespaces (least privilege: the chart grants
    # neither). The allowed namespaces are exact names; runtime.start checks the CRDs.
    settings.scanning.disabled = True


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours = memo.get("settings") or Settings()
    configure(settings, ours)
    peering = memo.get("peering") or PeeringConfig(name=None, identity="standalone")
    try:
        memo.runtime = rt = await runtime.start(ours, peering)
    except PermanentError as exc:  # e.g. the CRDs are not installed: exit, saying so
        raise kopf.PermanentError(f"{exc.reason}: {exc.message}") from None
    memo.context = ctx = rt.context
    runtime.serve_metrics(ctx.metrics, ours.metrics_port)
    memo.scanner = asyncio.create_task(run_scanner(ctx), name="drift scanner")


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.scanner.cancel()
    await runtime.stop(memo.runtime)


# No kopf indexes: kopf would hold every object until all indexes are complete, which with
# more objects than workers never happens (see tenant_operator.controller.inventory).


@kopf.on.resume(GROUP, VERSION, TENANTS, id="tenant")
@kopf.on.create(GROUP, VERSION, TENANTS, id="tenant")
@kopf.on.update(GROUP, VERSION, TENANTS, id="tenant")
async def tenant(
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    retry: int,
    reason: str,
    **_: Any,
) -> None:
    placed = memo.context.settings.scope.place(body.meta.name, body.meta.labels)
    if not placed.owned:  # only the default shard sees others: assign or report them
        return leave(placed, patch, logger)
    result = await tenant_changed(body, memo.context, resuming=reason == "resume")
    patch.status.update(changed_only(body.get("status") or {}, wire(result.status)))
    raise_for(result.error, retry)


def leave(placed: Placement, patch: kopf.Patch, logger: kopf.Logger) -> None:
    """A tenant this shard does not own: label an unlabelled one, report a stray one."""
    if placed.assign is not None:
        patch.metadata.labels[SHARD_LABEL] = placed.assign
        logger.info("assigned to shard %s", placed.assign)
    elif placed.problem is not None:
        logger.warning("not reconciled: %s", placed.problem)  # posted as an Event


def changed_only(current: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    """The status fields that differ from the object's (an unchanged tenant gets no PATCH)."""
    return {key: value for key, value in wanted.items() if current.get(key) != value}


@kopf.on.delete(GROUP, VERSION, TENANTS, id="tenant-erasure")
async def tenant_erasure(
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    retry: int,
    **_: Any,
) -> None:
    result = await tenant_deleted(body, memo.context)
    if result.error is not None:
        kopf.warn(body, reason=result.error.reason, message=result.error.message)
        if result.status is not None:
            patch.status.update(wire(result.status))
        raise_for(result.error, retry)
    logger.info("tenant deleted: %s", "; ".join(result.done))


@kopf.on.event("", "v1", "secrets")
async def connector_secret(
    type: str | None, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **_: Any
) -> None:
    await secret_changed(type, str(namespace), name, body, memo.context)


@kopf.on.resume(GROUP, VERSION, SUBPROCESSORS, id="register")
@kopf.on.create(GROUP, VERSION, SUBPROCESSORS, id="register")
@kopf.on.update(GROUP, VERSION, SUBPROCESSORS, id="register")
@kopf.on.delete(GROUP, VERSION, SUBPROCESSORS, id="register", optional=True)
async def subprocessor(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, reason: str, **_: Any
) -> None:
    result = await subprocessor_changed(body, memo.context, fan_out=reason != "resume")
    patch.status.update(wire(result.status))
    raise_for(result.error, retry)


@kopf.on.resume(GROUP, VERSION, DATA_REQUESTS, id="data-request")
@kopf.on.create(GROUP, VERSION, DATA_REQUESTS, id="data-request")
async def data_request(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any
) -> None:
    await handle_data_request(body, patch, memo, retry)


#: How often the timer wakes; each request is looked at again only every
#: ``data_request_recheck_seconds`` (Overdue, a tenant that appeared, the key trim).
RECHECK_TICK_SECONDS = 30.0


@kopf.timer(GROUP, VERSION, DATA_REQUESTS, id="data-request-recheck", interval=RECHECK_TICK_SECONDS)
async def data_request_recheck(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    ctx = memo.context
    uid = str(body.meta.uid)
    now = asyncio.get_running_loop().time()
    last = memo.setdefault("rechecked", {}).get(uid)
    if last is not None and now - last < ctx.settings.data_request_recheck_seconds:
        return
    memo.rechecked[uid] = now
    await handle_data_request(body, patch, memo, retry=0)


async def handle_data_request(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int
) -> None:
    ctx = memo.context
    result = await data_request_changed(body, ctx)
    patch.status.update(changed_only(body.get("status") or {}, wire(result.status)))
    if result.warning is not None:
        kopf.warn(body, reason=Reason.PAST_DUE, message=result.warning)
    raise_for(result.error, retry)
