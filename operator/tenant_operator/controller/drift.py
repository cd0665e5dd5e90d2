"""One cluster-wide drift scanner (not a timer per object).

On every period it lists the Tenants, re-verifies each Ready one in bounded batches
(PostgreSQL isolation, the OpenBao objects and policy, the audit chain), and nudges only
those that drifted, or whose sub-processor notice period has ended, with an event saying
what was found. The reconcile that follows repairs it.
"""

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tenant_operator.api.tenant import PAUSED_ANNOTATION, TenantStatus
from tenant_operator.controller.chain import check_chain
from tenant_operator.controller.context import Context
from tenant_operator.controller.planning import is_true
from tenant_operator.controller.status import read_status
from tenant_operator.domain.errors import OperatorError
from tenant_operator.domain.plan import workload_service_accounts
from tenant_operator.domain.vocabulary import ConditionType, Reason, SubProcessorState

log = logging.getLogger(__name__)


#: A listed Tenant and its status, parsed once.
Seen = tuple[Mapping[str, Any], TenantStatus]


def _ready(status: TenantStatus) -> str:
    for condition in status.conditions:
        if condition.type == ConditionType.READY:
            return condition.status
    return "Unknown"


def _notice_ended(status: TenantStatus, now: datetime) -> list[str]:
    ended = []
    for sub in status.sub_processors:
        at = sub.effective_at
        if sub.state == SubProcessorState.PENDING_NOTICE and at and at <= now:
            ended.append(f"notice period of sub-processor {sub.name} ended")
    return ended


async def inspect(ctx: Context, tenant: Mapping[str, Any], status: TenantStatus) -> list[str]:
    """What has drifted for one tenant (empty: nothing)."""
    slug = str(tenant["metadata"]["name"])
    problems = list(_notice_ended(status, datetime.now(UTC)))
    isolation = await ctx.ports.verify_isolation(slug)
    problems += [f"PostgreSQL: {p}" for p in isolation.problems]
    routed = [c.name for c in status.connectors]
    accounts = workload_service_accounts(
        slug, ctx.settings.tenant_workload_namespace_prefix, ctx.settings.tenant_service_accounts
    )
    bao = await ctx.ports.bao.verify_tenant(slug, connectors=routed, service_accounts=accounts)
    problems += [f"OpenBao: {p}" for p in bao]
    broken = (await check_chain(ctx.ports, slug)).problem
    if broken:
        problems.append(f"audit chain: {broken[1]}")
    return problems


async def scan_once(ctx: Context) -> dict[str, list[str]]:
    """One pass over all tenants, a page at a time; returns the drifted ones and what."""
    ready = {"True": 0, "False": 0, "Unknown": 0}
    drifted: dict[str, list[str]] = {}
    async for page in ctx.ports.tenants.pages():
        seen = [(tenant, read_status(tenant)) for tenant in page]
        for _, status in seen:
            state = _ready(status)
            ready[state if state in ready else "Unknown"] += 1
        candidates = [
            (t, status)
            for t, status in seen
            if _ready(status) == "True"
            and not t["metadata"].get("deletionTimestamp")
            and not is_true(t["metadata"].get("annotations") or {}, PAUSED_ANNOTATION)
        ]
        drifted.update(await _scan(ctx, candidates))
    for state, count in ready.items():
        ctx.metrics.tenants_ready.labels(state).set(count)
    return drifted


async def _scan(ctx: Context, candidates: Sequence[Seen]) -> dict[str, list[str]]:
    drifted: dict[str, list[str]] = {}
    size = ctx.settings.drift_batch_size
    for start in range(0, len(candidates), size):
        batch = candidates[start : start + size]
        began = time.monotonic()
        inspected = (inspect(ctx, tenant, status) for tenant, status in batch)
        found = await asyncio.gather(*inspected, return_exceptions=True)
        # A bounded pace: a large fleet is swept over a longer cycle, never at full speed.
        pause = len(batch) / ctx.settings.drift_tenants_per_second - (time.monotonic() - began)
        await asyncio.sleep(max(0.0, pause))
        for (tenant, _), problems in zip(batch, found, strict=True):
            slug = tenant["metadata"]["name"]
            if isinstance(problems, OperatorError):
                log.warning("drift scan of %s failed: %s", slug, problems.message)
            elif isinstance(problems, BaseException):
                raise problems
            elif problems:
                drifted[slug] = problems
                await _repair(ctx, tenant, problems)
    return drifted


async def _repair(ctx: Context, tenant: Mapping[str, Any], problems: list[str]) -> None:
    slug = tenant["metadata"]["name"]
    message = "drift found, reconciling to repair: " + "; ".join(problems)
    log.warning("tenant %s: %s", slug, message)
    ctx.metrics.drift_repairs.inc()
    await ctx.ports.tenants.event(
        tenant, type_="Warning", reason=Reason.DRIFT_DETECTED, message=message
    )
    await ctx.ports.tenants.nudge(slug, "drift")


async def run_scanner(ctx: Context) -> None:
    """Scan forever, every ``drift_period_seconds``, on the active replica only.

    A standby replica (kopf has paused its watches in favour of a peer) skips the round;
    cancelled at operator shutdown.
    """
    while True:
        await asyncio.sleep(ctx.settings.drift_period_seconds)
        try:
            if not await ctx.peering.active():
                log.debug("drift scan skipped: this replica is on standby")
                continue
            started, cpu = time.monotonic(), time.process_time()
            drifted = await scan_once(ctx)
        except OperatorError as exc:
            log.warning("drift scan failed: %s", exc.message)
            continue
        seconds, cpu = time.monotonic() - started, time.process_time() - cpu
        ctx.metrics.drift_scans.observe(seconds)
        log.info(
            "drift scan done in %.1f s (%.1f s CPU); drifted: %s",
            seconds,
            cpu,
            ", ".join(sorted(drifted)) or "none",
        )
