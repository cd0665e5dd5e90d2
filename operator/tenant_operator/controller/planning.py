"""From a manifest to what the tenant should be: parse once, plan, decide, records (pure).

The plan itself (:class:`~tenant_operator.domain.plan.TenantPlan`) is domain; reading it out
of the wire model (:class:`~tenant_operator.api.tenant.Tenant`) is here, so the domain
never imports the API models.
"""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tenant_operator.api.subprocessor import SubProcessor
from tenant_operator.api.tenant import SubProcessorStatus, Tenant
from tenant_operator.domain import subprocessors as subs
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.plan import ConnectorPlan, TenantPlan, workload_service_accounts
from tenant_operator.domain.records import ConnectorRecord, SubProcessorEntry, SubProcessorRecord
from tenant_operator.domain.reserved import NameContext, refusal
from tenant_operator.domain.vocabulary import Plan, Reason, SubProcessorState


def is_true(annotations: Mapping[str, str], key: str) -> bool:
    """Whether annotation ``key`` is set to true (any case, surrounding blanks ignored)."""
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


def refuse_reserved(slug: str, names: NameContext) -> None:
    """Refuse, before any write, a slug whose derived names are not the tenant's.

    The API server refuses such Tenants at creation (CRD rule, chart policy); this catches
    the ones admitted before, or under other settings.
    """
    message = refusal(slug, names)
    if message is not None:
        raise PermanentError(message, reason=Reason.SLUG_RESERVED)


def build_plan(
    tenant: Tenant,
    *,
    allowed_secret_namespaces: Collection[str],
    service_account_names: Collection[str],
    workload_namespace_prefix: str,
) -> TenantPlan:
    """The plan for ``tenant``; refuses Secrets outside the allowed namespaces.

    The isolation tier is fixed at creation: once the status records one, it wins over a
    plan change (a team tenant upgraded to enterprise keeps its shared tables).
    """
    spec = tenant.spec
    recorded = tenant.status.database if tenant.status else None
    isolation = recorded.isolation if recorded else spec.effective_isolation
    if spec.isolation is not None and spec.isolation != isolation:
        raise PermanentError(
            f"spec.isolation is {spec.isolation.value} but the tenant was created with "
            f"{isolation.value} isolation; isolation cannot change after creation",
            reason=Reason.ISOLATION_IMMUTABLE,
        )
    connectors = []
    for connector in spec.connectors:
        ref = connector.secret_ref
        if ref.namespace not in allowed_secret_namespaces:
            allowed = ", ".join(sorted(allowed_secret_namespaces)) or "(none)"
            raise PermanentError(
                f"connector {connector.name}: Secret {ref.namespace}/{ref.name} is outside the "
                f"namespaces the operator may read connector Secrets from ({allowed}); "
                "move the Secret there",
                reason=Reason.SECRET_NAMESPACE_FORBIDDEN,
            )
        connectors.append(
            ConnectorPlan(
                name=connector.name,
                type=connector.type,
                config=dict(connector.config),
                secret=(ref.namespace, ref.name),
            )
        )
    return TenantPlan(
        slug=tenant.slug,
        organisation=spec.organisation,
        plan=spec.plan,
        isolation=isolation,
        owner_name=spec.owner.name,
        owner_email=str(spec.owner.email),
        connectors=tuple(connectors),
        objections=frozenset(spec.sub_processors.objections),
        service_accounts=workload_service_accounts(
            tenant.slug, workload_namespace_prefix, service_account_names
        ),
    )


def subprocessor_decisions(
    tenant: Tenant, plan: TenantPlan, register: Sequence[subs.RegisterEntry], now: datetime
) -> list[subs.Decision]:
    """Each register entry's state for this tenant (pure: the status says what was decided)."""
    previous = {
        s.name: s.objected_at
        for s in (tenant.status.sub_processors if tenant.status else [])
        if s.state == SubProcessorState.OBJECTED and s.objected_at is not None
    }
    created = tenant.metadata.creation_timestamp
    return subs.decide(
        register,
        enterprise=plan.plan is Plan.ENTERPRISE,
        tenant_created_at=datetime.fromisoformat(created) if created else now,
        objections=plan.objections,
        previous_objected_at=previous,
        now=now,
    )


def subprocessor_status(decisions: Sequence[subs.Decision]) -> list[SubProcessorStatus]:
    """The status entry of each decision (``objectedAt`` set only once objected)."""
    return [
        SubProcessorStatus(
            name=d.name,
            state=d.state,
            effective_at=d.effective_at,
            **({"objected_at": d.objected_at} if d.objected_at else {}),
        )
        for d in decisions
    ]


def connector_record(connector: ConnectorPlan, ref: str, version: int) -> ConnectorRecord:
    return ConnectorRecord(
        name=connector.name,
        type=connector.type,
        config=dict(connector.config),
        ref=ref,
        version=version,
    )


def subprocessor_record(decision: subs.Decision) -> SubProcessorRecord:
    return SubProcessorRecord(
        name=decision.name,
        state=decision.state,
        notified_at=decision.notified_at,
        effective_at=decision.effective_at,
        objected_at=decision.objected_at,
    )


def subprocessor_entry(sub: SubProcessor) -> SubProcessorEntry:
    """The register row PostgreSQL keeps of a SubProcessor resource (its whole spec; the
    in-memory register keeps less: see ``inventory.register_entry``)."""
    spec = sub.spec
    return SubProcessorEntry(
        name=sub.metadata.name,
        purpose=spec.purpose,
        data_categories=tuple(spec.data_categories),
        location=spec.location,
        transfer_mechanism=spec.transfer_mechanism,
        notice_days=spec.notice_days,
    )
