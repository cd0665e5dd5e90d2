"""Can a resumed tenant be left as it is? (kopf resumes every object at operator start.)

A restart must not cost a full reconcile per tenant: at 10,000 tenants that is minutes of
PostgreSQL and OpenBao work, and writes, for nothing. A resumed tenant is left alone when
its status shows it was reconciled to Ready at its current generation and nothing it was
reconciled from has moved since: its sub-processor decisions come out the same, and every
connector Secret still has the resourceVersion that was routed and is still the tenant's
own (a Secret routed before ownership labels existed is re-checked). Anything else gets a full
reconcile. What a status cannot show (drift inside PostgreSQL or OpenBao) is what the drift
scanner re-verifies, at its bounded pace.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from tenant_operator.api.tenant import Tenant
from tenant_operator.controller.inventory import SecretKey
from tenant_operator.controller.planning import subprocessor_decisions, subprocessor_status
from tenant_operator.domain.plan import TenantPlan
from tenant_operator.domain.subprocessors import RegisterEntry
from tenant_operator.domain.vocabulary import ConditionType


def ready_at_generation(tenant: Tenant) -> bool:
    generation, status = tenant.metadata.generation, tenant.status
    if generation is None or status is None or status.observed_generation != generation:
        return False
    return any(
        c.type == ConditionType.READY and c.status == "True" and c.observed_generation == generation
        for c in status.conditions
    )


def unchanged_since_ready(
    tenant: Tenant,
    plan: TenantPlan,
    register: Sequence[RegisterEntry],
    secret_versions: Mapping[SecretKey, str],
    secret_owners: Mapping[SecretKey, str],
    now: datetime,
) -> bool:
    """True when a full reconcile of this resumed tenant would change nothing it can see."""
    if not ready_at_generation(tenant) or tenant.status is None:
        return False
    routed = {c.name: c.secret_version for c in tenant.status.connectors}
    for connector in plan.connectors:
        known = secret_versions.get(connector.secret)
        if known is None or routed.get(connector.name) != known:
            return False
        if secret_owners.get(connector.secret) != plan.slug:
            return False
    if set(routed) != {c.name for c in plan.connectors}:
        return False
    decided = subprocessor_status(subprocessor_decisions(tenant, plan, register, now))
    return decided == tenant.status.sub_processors
