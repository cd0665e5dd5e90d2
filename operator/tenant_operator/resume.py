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
from typing import Any

from tenant_operator.api.tenant import Tenant
from tenant_operator.domain.plan import TenantPlan
from tenant_operator.domain.subprocessors import RegisterEntry
from tenant_operator.domain.vocabulary import ConditionType
from tenant_operator.inventory import SecretKey
from tenant_operator.reconcile import subprocessor_decisions, subprocessor_status


def ready_at_generation(body: Mapping[str, Any]) -> bool:
    generation = body.get("metadata", {}).get("generation")
    status = body.get("status") or {}
    if generation is None or status.get("observedGeneration") != generation:
        return False
    return any(
        c.get("type") == ConditionType.READY
        and c.get("status") == "True"
        and c.get("observedGeneration") == generation
        for c in status.get("conditions") or []
    )


def unchanged_since_ready(
    body: Mapping[str, Any],
    tenant: Tenant,
    plan: TenantPlan,
    register: Sequence[RegisterEntry],
    secret_versions: Mapping[SecretKey, str],
    secret_owners: Mapping[SecretKey, str],
    now: datetime,
) -> bool:
    """True when a full reconcile of this resumed tenant would change nothing it can see."""
    if not ready_at_generation(body):
        return False
    status = body.get("status") or {}
    routed = {c.get("name"): c.get("secretVersion") for c in status.get("connectors") or []}
    for connector in plan.connectors:
        known = secret_versions.get(connector.secret)
        if known is None or routed.get(connector.name) != known:
            return False
        if secret_owners.get(connector.secret) != plan.slug:
            return False
    if set(routed) != {c.name for c in plan.connectors}:
        return False
    decided = subprocessor_status(subprocessor_decisions(tenant, plan, register, now))
    return bool(decided == list(status.get("subProcessors") or []))
