"""The API: pydantic models that are the single source of truth for the CRDs."""

from tenant_operator.api.common import GROUP, VERSION, Condition
from tenant_operator.api.subprocessor import SubProcessor, SubProcessorSpec
from tenant_operator.api.tenant import Tenant, TenantSpec, TenantStatus

__all__ = [
    "GROUP",
    "VERSION",
    "Condition",
    "SubProcessor",
    "SubProcessorSpec",
    "Tenant",
    "TenantSpec",
    "TenantStatus",
]
