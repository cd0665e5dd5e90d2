"""The desired state of one tenant, computed once from its parsed manifest (pure)."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from tenant_operator.api.tenant import Tenant
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Isolation, Plan, Reason


@dataclass(frozen=True)
class ConnectorPlan:
    name: str
    type: str
    config: Mapping[str, str]
    secret: tuple[str, str]  # (namespace, name) of the Kubernetes Secret


@dataclass(frozen=True)
class TenantPlan:
    slug: str
    organisation: str
    plan: Plan
    isolation: Isolation
    owner_name: str
    owner_email: str
    connectors: tuple[ConnectorPlan, ...]
    objections: frozenset[str]
    #: (namespace, service account) pairs bound to the tenant's Kubernetes-auth role.
    service_accounts: tuple[tuple[str, str], ...] = field(default=())


def workload_service_accounts(
    slug: str, workload_namespace_prefix: str, service_account_names: Collection[str]
) -> tuple[tuple[str, str], ...]:
    """(namespace, name) of the service accounts that log in as the tenant: each of
    ``service_account_names`` in the tenant's workload namespace ``<prefix><slug>``."""
    namespace = f"{workload_namespace_prefix}{slug}"
    return tuple((namespace, name) for name in sorted(service_account_names))


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
