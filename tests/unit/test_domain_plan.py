"""The desired plan, sub-processor notice decisions and the audit mirror check (pure)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tenant_operator.api import Tenant
from tenant_operator.controller.planning import build_plan
from tenant_operator.domain import audit, subprocessors
from tenant_operator.domain.errors import PermanentError

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def tenant(status: dict[str, Any] | None = None, **spec: Any) -> Tenant:
    body: dict[str, Any] = {
        "metadata": {"name": "acme"},
        "spec": {
            "organisation": "Acme",
            "plan": "team",
            "owner": {"name": "J", "email": "j@acme.example"},
            **spec,
        },
    }
    if status:
        body["status"] = status
    return Tenant.model_validate(body)


def plan_of(t: Tenant, allowed: tuple[str, ...] = ("tenant-secrets",)) -> Any:
    return build_plan(
        t,
        allowed_secret_namespaces=allowed,
        service_account_names=("tenant-app",),
        workload_namespace_prefix="tenant-",
    )


def test_isolation_recorded_in_status_wins_over_a_plan_change() -> None:
    upgraded = tenant(plan="enterprise", status={"database": {"isolation": "shared"}})
    assert plan_of(upgraded).isolation.value == "shared"


def test_explicit_isolation_that_contradicts_the_record_is_refused() -> None:
    with pytest.raises(PermanentError) as info:
        plan_of(tenant(isolation="schema", status={"database": {"isolation": "shared"}}))
    assert info.value.reason == "IsolationImmutable"


def test_secret_outside_allowed_namespaces_is_refused() -> None:
    ref = {"namespace": "kube-system", "name": "admin"}
    with pytest.raises(PermanentError) as info:
        plan_of(tenant(connectors=[{"name": "gh", "type": "github", "secretRef": ref}]))
    assert info.value.reason == "SecretNamespaceForbidden"
    assert "kube-system/admin" in info.value.message and "tenant-secrets" in info.value.message


def test_service_accounts_live_in_the_tenant_workload_namespace() -> None:
    assert plan_of(tenant()).service_accounts == (("tenant-acme", "tenant-app"),)


def entry(name: str, days_after_tenant: int, notice: int = 30) -> subprocessors.RegisterEntry:
    return subprocessors.RegisterEntry(name, NOW + timedelta(days=days_after_tenant), notice)


@pytest.mark.parametrize(
    ("enterprise", "announced", "objections", "state"),
    [
        (True, -10, (), "Active"),  # in the register before the tenant existed
        (True, 1, (), "PendingNotice"),  # added later: notice period runs
        (True, -40, (), "Active"),
        (True, -1, (), "Active"),
        (False, 1, (), "Active"),  # no notice period outside enterprise
        (True, 1, ("vendor",), "Objected"),
        (False, -10, ("vendor",), "Objected"),
    ],
)
def test_notice_decisions(
    enterprise: bool, announced: int, objections: tuple[str, ...], state: str
) -> None:
    # The tenant was created at NOW; "now" is two days later; notice is 30 days.
    decided = subprocessors.decide(
        [entry("vendor", announced)],
        enterprise=enterprise,
        tenant_created_at=NOW,
        objections=objections,
        previous_objected_at={},
        now=NOW + timedelta(days=2),
    )
    assert [d.state for d in decided] == [state]


def row(seq: int, digest: str) -> audit.ChainRow:
    return audit.ChainRow(seq, NOW, "op", "act", "t", {}, "d", "p", digest)


def test_mirror_allows_growth_but_not_loss_or_rewrite() -> None:
    rows = [row(1, "h1"), row(2, "h2"), row(3, "h3")]
    assert audit.mirror_problem(rows, None) is None
    assert audit.mirror_problem(rows, audit.AuditHead(2, "h2")) is None  # chain grew since
    assert "missing" in (audit.mirror_problem(rows[:1], audit.AuditHead(2, "h2")) or "")
    assert "rewritten" in (audit.mirror_problem(rows, audit.AuditHead(3, "zz")) or "")


def test_notice_ends_after_its_days() -> None:
    decided = subprocessors.decide(
        [entry("vendor", 1, notice=1)],
        enterprise=True,
        tenant_created_at=NOW,
        objections=(),
        previous_objected_at={},
        now=NOW + timedelta(days=2),
    )
    assert decided[0].state == "Active"
    assert decided[0].effective_at == NOW + timedelta(days=2)
