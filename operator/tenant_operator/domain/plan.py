"""The desired state of one tenant (pure); built from its parsed manifest by
:func:`tenant_operator.controller.planning.build_plan`."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from tenant_operator.domain.vocabulary import Isolation, Plan


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
