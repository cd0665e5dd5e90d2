"""One reconcile of one Tenant: plan -> adapters' ensure_* -> audit -> conditions.

Steps run in order; the first failure marks its aspect False (retryable or permanent) and
leaves the later aspects Unknown. Whatever changed before a failure is still audited, so
a change is recorded exactly once even when the step that follows it fails.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenant_operator.api.tenant import (
    AuditStatus,
    ConnectorStatus,
    DatabaseStatus,
    SecretsStatus,
    Tenant,
    TenantStatus,
)
from tenant_operator.controller.chain import check_chain
from tenant_operator.controller.keys import key_ring
from tenant_operator.controller.planning import (
    connector_record,
    subprocessor_decisions,
    subprocessor_record,
    subprocessor_status,
)
from tenant_operator.controller.ports import DatabaseState, Ports
from tenant_operator.controller.status import amended
from tenant_operator.domain import conditions as cond
from tenant_operator.domain import identity, ownership
from tenant_operator.domain import subprocessors as subs
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.plan import TenantPlan
from tenant_operator.domain.vocabulary import Reason, SubProcessorState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """Something the reconcile changed: one audit entry (never a secret value)."""

    action: str
    target: str
    detail: dict[str, Any]


@dataclass
class Outcome:
    """What the handler writes back: the status fields the steps reached (typed; the caller
    adds observedGeneration and the conditions merged from ``checks``), the error to map."""

    status: TenantStatus = field(default_factory=TenantStatus)
    checks: list[cond.Check] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    error: OperatorError | None = None


@dataclass
class _Run:
    tenant: Tenant
    plan: TenantPlan
    register: Sequence[subs.RegisterEntry]
    ports: Ports
    now: datetime
    out: Outcome = field(default_factory=Outcome)
    db: DatabaseState | None = None

    async def database(self) -> cond.Check:
        self.db = state = await self.ports.db.ensure_tenant(
            self.plan.slug,
            organisation=self.plan.organisation,
            plan=self.plan.plan,
            isolation=self.plan.isolation,
            k8s_uid=self.tenant.metadata.uid,
            adopt=self.tenant.metadata.annotations.get(identity.ADOPT_ANNOTATION),
        )
        if state.adopted is not None:
            target = f"tenant:{self.plan.slug}"
            self.out.changes.append(Change("tenant.adopted", target, state.adopted.detail()))
        self._status(
            database=DatabaseStatus(
                isolation=state.isolation,
                schema_=state.schema,
                schema_version=state.schema_version,
            )
        )
        self._changed("tenant.database.ensured", f"postgres:tenant/{self.plan.slug}", state.changed)
        where = f"schema {state.schema}" if state.schema else "shared tables"
        return cond.ok(cond.DATABASE_READY, f"{state.isolation} isolation in {where}")

    async def secrets(self) -> cond.Check:
        assert self.db is not None
        state = await self.ports.bao.ensure_tenant(
            self.plan.slug, service_accounts=self.plan.service_accounts
        )
        self._status(
            secrets=SecretsStatus(
                namespace=state.namespace,
                mount=state.mount,
                policy=state.policy,
                auth_role=state.auth_role,
            )
        )
        self._changed("tenant.secrets.ensured", f"openbao:tenant/{self.plan.slug}", state.changed)
        keys = await key_ring(self.ports, self.plan.slug, self.db.tenant_id)
        owner = await self.ports.db.ensure_owner_account(
            self.db.tenant_id,
            name=self.plan.owner_name,
            email=self.plan.owner_email,
            keys=keys,
            organisation=self.plan.organisation,
        )
        account = f"postgres:account/{self.plan.slug}/owner"
        # What changed, never the values (the organisation and the owner are sealed data).
        self._changed("tenant.owner.ensured", account, owner.changed)
        if owner.replaced is not None:  # ids only: the audit detail names no person
            self.out.changes.append(
                Change(
                    "tenant.owner.changed",
                    account,
                    {
                        "previousAccount": str(owner.replaced),
                        "account": str(owner.account_id),
                        "revoked": "previous owner's account, password hash and invite",
                    },
                )
            )
        if owner.token is not None:  # destroys the earlier invites (a previous owner's)
            ref = await self.ports.bao.store_invite(self.plan.slug, owner.token)
            self.out.changes.append(Change("tenant.owner.invited", account, {"inviteRef": ref}))
        place = f"namespace {state.namespace}" if state.namespace else f"mount {state.mount}"
        return cond.ok(cond.SECRETS_READY, f"secrets in OpenBao {place}, policy {state.policy}")

    async def connectors(self) -> cond.Check:
        assert self.db is not None
        routed: list[ConnectorStatus] = []
        records = []
        for connector in self.plan.connectors:
            namespace, name = connector.secret
            content = await self.ports.k8s_secrets.read(namespace, name)
            # Missing or another's: one refusal, before anything of the Secret is used.
            if content is None or content.owner != self.plan.slug:
                raise ownership.not_available(connector.name, namespace, name, self.plan.slug)
            route = await self.ports.bao.route_connector(
                self.plan.slug, connector.name, content.data
            )
            ref, version = route.ref, route.version
            routed.append(
                ConnectorStatus(
                    name=connector.name, ref=ref, version=version, secret_version=content.version
                )
            )
            if route.changed:
                self.out.changes.append(
                    Change("connector.secret.routed", ref, {"version": version})
                )
            records.append(connector_record(connector, ref, version))
        wanted = {c.name for c in self.plan.connectors}
        previous = self.tenant.status.connectors if self.tenant.status else []
        for gone in (c for c in previous if c.name not in wanted):
            if await self.ports.bao.drop_connector(self.plan.slug, gone.name):
                self.out.changes.append(Change("connector.secret.dropped", gone.ref, {}))
        changed = await self.ports.db.ensure_connectors(self.db.tenant_id, records)
        self._changed("tenant.connectors.ensured", f"postgres:connectors/{self.plan.slug}", changed)
        self._status(connectors=routed)
        return cond.ok(cond.CONNECTORS_ROUTED, f"{len(routed)} connector secret(s) in OpenBao")

    async def subprocessors(self) -> cond.Check:
        assert self.db is not None
        decisions = subprocessor_decisions(self.tenant, self.plan, self.register, self.now)
        changed = await self.ports.db.ensure_subprocessor_records(
            self.db.tenant_id, [subprocessor_record(d) for d in decisions]
        )
        self._changed(
            "tenant.subprocessors.ensured", f"postgres:subprocessors/{self.plan.slug}", changed
        )
        self._status(sub_processors=subprocessor_status(decisions))
        objected = sorted(d.name for d in decisions if d.state == SubProcessorState.OBJECTED)
        if objected:
            return cond.Check(
                cond.SUBPROCESSORS_ACCEPTED,
                "False",
                Reason.OBJECTED,
                f"the tenant objects to: {', '.join(objected)}",
            )
        pending = sorted(d.name for d in decisions if d.state == SubProcessorState.PENDING_NOTICE)
        note = f"; in notice period: {', '.join(pending)}" if pending else ""
        return cond.ok(cond.SUBPROCESSORS_ACCEPTED, f"{len(decisions)} sub-processor(s){note}")

    async def isolation(self) -> cond.Check:
        report = await self.ports.verify_isolation(self.plan.slug)
        if not report.ok:
            log.warning(
                "tenant %s: isolation drift: %s", self.plan.slug, "; ".join(report.problems)
            )
            repaired = await self.ports.db.repair_isolation(self.plan.slug)
            self._changed(
                "tenant.isolation.repaired", f"postgres:tenant/{self.plan.slug}", repaired
            )
            report = await self.ports.verify_isolation(self.plan.slug)
        if report.ok:
            return cond.ok(cond.ISOLATION_VERIFIED, "RLS enabled, forced and fail-closed")
        # Raised, not returned: the condition says Reconciling, so a retry must be scheduled
        # (and the outcome counted as a retry, not as ready).
        raise RetryableError("; ".join(report.problems), reason=Reason.ISOLATION_BROKEN)

    async def audit(self) -> cond.Check:
        slug, audit = self.plan.slug, self.ports.audit
        for change in self.out.changes:
            await audit.append(
                slug,
                actor=self.ports.actor,
                action=change.action,
                target=change.target,
                detail=change.detail,
            )
        check = await check_chain(self.ports, slug)
        head = check.head
        if head is not None:
            self._status(audit=AuditStatus(seq=head.seq, head=f"sha256:{head.hash}"))
        if check.problem:
            return cond.failed(cond.AUDIT_CHAIN_VERIFIED, *check.problem, permanent=True)
        if head is not None and check.mirrored != head:
            name = await self.ports.audit.chain_name(slug)
            await self.ports.bao.mirror_audit_head(name, head.seq, head.hash)
        # The message names the verified head only, so an idle reconcile does not change it.
        return cond.ok(cond.AUDIT_CHAIN_VERIFIED, f"{head.seq if head else 0} entries verified")

    def _status(self, **fields: Any) -> None:
        self.out.status = amended(self.out.status, **fields)

    def _changed(self, action: str, target: str, what: tuple[str, ...]) -> None:
        if what:
            self.out.changes.append(Change(action, target, {"changed": list(what)}))


async def reconcile_tenant(
    tenant: Tenant,
    plan: TenantPlan,
    register: Sequence[subs.RegisterEntry],
    ports: Ports,
    now: datetime,
) -> Outcome:
    """Make ``tenant`` real; never raises an OperatorError (it is in ``Outcome.error``)."""
    run = _Run(tenant, plan, register, ports, now)
    # One step per aspect; they run in the order of cond.ASPECTS (the one place it is
    # written), the last one (the audit) apart.
    step_of: dict[str, Callable[[], Awaitable[cond.Check]]] = {
        cond.DATABASE_READY: run.database,
        cond.SECRETS_READY: run.secrets,
        cond.CONNECTORS_ROUTED: run.connectors,
        cond.SUBPROCESSORS_ACCEPTED: run.subprocessors,
        cond.ISOLATION_VERIFIED: run.isolation,
        cond.AUDIT_CHAIN_VERIFIED: run.audit,
    }
    assert set(step_of) == set(cond.ASPECTS), "every aspect has exactly one step"
    *steps, audit = cond.ASPECTS
    checks: list[cond.Check] = []
    for aspect in steps:
        step = step_of[aspect]
        if run.out.error is not None:
            checks.append(cond.pending(aspect, _blocker(checks)))
            continue
        checks.append(await _guarded(run, aspect, step))
    # Whatever changed before a failure is still audited: the audit step runs once the
    # tenant is registered, even after a failed step.
    if run.db is not None:
        checks.append(await _guarded(run, audit, step_of[audit]))
    else:
        checks.append(cond.pending(audit, _blocker(checks)))
    run.out.checks = [*cond.summarize(checks), *checks]
    return run.out


async def _guarded(run: _Run, aspect: str, step: Callable[[], Awaitable[cond.Check]]) -> cond.Check:
    try:
        return await step()
    except OperatorError as exc:
        run.out.error = run.out.error or exc
        permanent = isinstance(exc, PermanentError)
        log.info("tenant %s: %s failed: %s", run.plan.slug, aspect, exc.message)
        return cond.failed(aspect, exc.reason, exc.message, permanent=permanent)


def _blocker(checks: Sequence[cond.Check]) -> str:
    failed = next((c for c in checks if c.failure), None)
    return failed.type if failed else "an earlier step"
