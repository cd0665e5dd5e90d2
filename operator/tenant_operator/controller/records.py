"""Map the pure plan and decisions onto the PostgreSQL adapter's record types."""

from tenant_operator.adapters.postgres.types import ConnectorRecord, SubProcessorRecord
from tenant_operator.domain.plan import ConnectorPlan
from tenant_operator.domain.subprocessors import Decision


def connector_record(connector: ConnectorPlan, ref: str, version: int) -> ConnectorRecord:
    return ConnectorRecord(
        name=connector.name,
        type=connector.type,
        config=dict(connector.config),
        ref=ref,
        version=version,
    )


def subprocessor_record(decision: Decision) -> SubProcessorRecord:
    return SubProcessorRecord(
        name=decision.name,
        state=decision.state,
        notified_at=decision.notified_at,
        effective_at=decision.effective_at,
        objected_at=decision.objected_at,
    )
