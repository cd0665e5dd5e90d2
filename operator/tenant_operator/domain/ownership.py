"""Which tenant owns a connector Secret: the ``integraci.io/tenant`` label, pure rules.

A connector Secret is routed only into the tenant its label names. The label is set by
whoever creates the Secret (who needs RBAC on Secrets in an allowed namespace; a Tenant
author with only Tenant RBAC cannot set it), and the chart's admission policy refuses any
later change, addition or removal of it. A tenant naming a Secret it does not own is told
exactly what it is told about a Secret that does not exist: nothing about other tenants'
Secrets can be learnt from a Tenant.
"""

from collections.abc import Mapping

from tenant_operator.domain.conditions import SECRET_NOT_AVAILABLE
from tenant_operator.domain.errors import PermanentError

OWNER_LABEL = "integraci.io/tenant"


def owner_of(labels: Mapping[str, str] | None) -> str | None:
    """The tenant a Secret's labels name as its owner (None: no owner)."""
    owner = (labels or {}).get(OWNER_LABEL)
    return owner or None


def not_available(connector: str, namespace: str, name: str, slug: str) -> PermanentError:
    """The one refusal for a Secret that is missing or not ``slug``'s (not told apart).

    It names only what the Tenant itself wrote and how to fix it.
    """
    return PermanentError(
        f"connector {connector}: Secret {namespace}/{name} is not available to tenant {slug}: "
        f"create it with the label {OWNER_LABEL}={slug} (the label is set only when a "
        "Secret is created; the tenant is reconciled again when it appears)",
        reason=SECRET_NOT_AVAILABLE,
    )
