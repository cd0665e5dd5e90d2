"""Prometheus metrics of the operator, in a registry of its own (built at startup).

The controller counts into them; :mod:`tenant_operator.runtime` serves the registry.
"""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    reconciles: Counter
    duration: Histogram
    tenants_ready: Gauge
    drift_repairs: Counter
    drift_scans: Histogram
    requests_overdue: Gauge
    insecure_transport: Gauge

    @classmethod
    def create(cls) -> "Metrics":
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            reconciles=Counter(
                "tenant_operator_reconciles",
                "Tenant reconciles by outcome (ready, retry, stalled, paused; resumed: left "
                "as it was at operator start, unchanged since Ready)",
                ["outcome"],
                registry=registry,
            ),
            duration=Histogram(
                "tenant_operator_reconcile_seconds",
                "Duration of one tenant reconcile by outcome",
                ["outcome"],
                registry=registry,
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            ),
            tenants_ready=Gauge(
                "tenant_operator_tenants",
                "Tenants by the status of their Ready condition",
                ["ready"],
                registry=registry,
            ),
            drift_repairs=Counter(
                "tenant_operator_drift_repairs",
                "Tenants the drift scanner found drifted and re-reconciled",
                registry=registry,
            ),
            drift_scans=Histogram(
                "tenant_operator_drift_scan_seconds",
                "Duration of one full drift scan (active replica only)",
                registry=registry,
                buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200),
            ),
            requests_overdue=Gauge(
                "tenant_operator_data_requests_overdue",
                "Data-subject requests past their legal due date and not completed",
                registry=registry,
            ),
            insecure_transport=Gauge(
                "tenant_operator_insecure_transport",
                "1 for each connection allowed without verified TLS "
                "(TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT)",
                ["connection"],
                registry=registry,
            ),
        )
