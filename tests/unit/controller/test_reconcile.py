"""reconcile_tenant over the in-memory fakes: step order, failures, audit, conditions."""

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tenant_operator.api import Tenant
from tenant_operator.controller.planning import build_plan
from tenant_operator.controller.reconcile import Outcome, reconcile_tenant
from tenant_operator.controller.status import wire
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.identity import Adoption
from tenant_operator.domain.plan import TenantPlan
from tenant_operator.domain.subprocessors import RegisterEntry
from tests.support.fakes import Fakes, permanent, retryable, tenant_id
from tests.support.tenants import SECRET_NAMESPACE, tenant_body

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ASPECTS = [
    "DatabaseReady",
    "SecretsReady",
    "ConnectorsRouted",
    "SubProcessorsAccepted",
    "IsolationVerified",
    "AuditChainVerified",
]


def plan_of(tenant: Tenant) -> TenantPlan:
    return build_plan(
        tenant,
        allowed_secret_namespaces=(SECRET_NAMESPACE,),
        service_account_names=("tenant-app",),
        workload_namespace_prefix="tenant-",
    )


def fakes_with_secrets(slug: str = "acme", connectors: Sequence[str] = ("github",)) -> Fakes:
    fakes = Fakes.create()
    for name in connectors:
        fakes.k8s.put(SECRET_NAMESPACE, f"{slug}-{name}", owner=slug)
    return fakes


def reconcile(
    fakes: Fakes,
    body: dict[str, Any] | None = None,
    register: Sequence[RegisterEntry] = (),
    now: datetime = NOW,
) -> Outcome:
    tenant = Tenant.model_validate(body or tenant_body())
    return asyncio.run(reconcile_tenant(tenant, plan_of(tenant), register, fakes.ports(), now))


def conditions(outcome: Outcome) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in outcome.checks}


def test_a_new_tenant_runs_every_step_in_order_and_is_ready() -> None:
    fakes = fakes_with_secrets()
    outcome = reconcile(fakes)
    assert fakes.journal.names() == [
        "db.ensure_tenant",
        "bao.ensure_tenant",
        "db.tenant_keys",
        "bao.new_data_key",
        "db.add_tenant_key",
        "db.ensure_owner_account",
        "bao.store_invite",
        "k8s.read",
        "bao.route_connector",
        "db.ensure_connectors",
        "db.ensure_subprocessor_records",
        "verify_isolation",
        *["audit.append"] * 6,
        "bao.read_audit_head",
        "audit.rows",
        "bao.mirror_audit_head",
    ]
    assert outcome.error is None
    assert [c.type for c in outcome.checks] == ["Ready", "Reconciling", "Stalled", *ASPECTS]
    assert all(c.status == "True" for c in outcome.checks if c.type in ASPECTS)
    assert conditions(outcome)["Ready"] == ("True", "Reconciled")
    assert conditions(outcome)["Reconciling"][0] == conditions(outcome)["Stalled"][0] == "False"
    assert fakes.audit.actions("acme") == [
        "tenant.database.ensured",
        "tenant.secrets.ensured",
        "tenant.owner.ensured",
        "tenant.owner.invited",
        "connector.secret.routed",
        "tenant.connectors.ensured",
    ]
    assert outcome.status.audit is not None and outcome.status.audit.seq == 6
    assert fakes.bao.heads["acme"][0] == 6  # the verified head is mirrored to OpenBao
    assert outcome.status.connectors[0].ref.startswith("openbao://")
    assert "s3cret" not in repr(outcome) and "invite-token" not in repr(outcome)


def test_an_unchanged_tenant_writes_no_audit_entry_and_no_mirror() -> None:
    fakes = fakes_with_secrets()
    first = reconcile(fakes)
    body = tenant_body(status={"connectors": wire(first.status)["connectors"]})
    fakes.journal.calls.clear()
    second = reconcile(fakes, body)
    assert second.error is None
    assert "audit.append" not in fakes.journal.names()
    assert "bao.mirror_audit_head" not in fakes.journal.names()
    assert second.status.audit == first.status.audit


# Each call a step makes, and the aspect its failure is about.
FAILURES = [
    ("db.ensure_tenant", "DatabaseReady"),
    ("bao.ensure_tenant", "SecretsReady"),
    ("db.tenant_keys", "SecretsReady"),
    ("bao.new_data_key", "SecretsReady"),
    ("db.add_tenant_key", "SecretsReady"),
    ("db.ensure_owner_account", "SecretsReady"),
    ("bao.store_invite", "SecretsReady"),
    ("k8s.read", "ConnectorsRouted"),
    ("bao.route_connector", "ConnectorsRouted"),
    ("db.ensure_connectors", "ConnectorsRouted"),
    ("db.ensure_subprocessor_records", "SubProcessorsAccepted"),
    ("verify_isolation", "IsolationVerified"),
    ("audit.append", "AuditChainVerified"),
    ("bao.read_audit_head", "AuditChainVerified"),
]


@pytest.mark.parametrize(("call", "aspect"), FAILURES)
@pytest.mark.parametrize(
    "error", [retryable("Unavailable"), permanent("Denied")], ids=["retryable", "permanent"]
)
def test_a_failure_marks_its_aspect_false_and_the_later_ones_unknown(
    call: str, aspect: str, error: OperatorError
) -> None:
    fakes = fakes_with_secrets()
    fakes.journal.fail(call, error)
    outcome = reconcile(fakes)
    got = {c.type: c for c in outcome.checks}
    kind = "permanent" if isinstance(error, PermanentError) else "retry"
    assert outcome.error is error
    assert (got[aspect].status, got[aspect].reason, got[aspect].failure) == (
        "False",
        error.reason,
        kind,
    )
    at = ASPECTS.index(aspect)
    assert all(got[a].status == "True" for a in ASPECTS[:at])
    later = [
        a
        for a in ASPECTS[at + 1 :]
        if not (a == "AuditChainVerified" and aspect != "DatabaseReady")
    ]
    for other in later:
        assert (got[other].status, got[other].reason) == ("Unknown", "Pending")
        assert got[other].message == f"waiting for {aspect}"
    # The retry/stalled mapping: a retryable failure is Reconciling, a permanent one Stalled.
    assert (got["Ready"].status, got["Ready"].reason) == ("False", error.reason)
    assert got["Reconciling"].status == ("True" if kind == "retry" else "False")
    assert got["Stalled"].status == ("True" if kind == "permanent" else "False")
    assert got["Ready"].message == error.message


@pytest.mark.parametrize(("call", "aspect"), FAILURES[1:9])
def test_the_audit_step_still_runs_after_a_later_failure(call: str, aspect: str) -> None:
    fakes = fakes_with_secrets()
    fakes.journal.fail(call, retryable())
    outcome = reconcile(fakes)
    assert conditions(outcome)["AuditChainVerified"] == ("True", "Reconciled")
    assert fakes.audit.actions("acme")[0] == "tenant.database.ensured"


def test_a_failed_database_step_audits_nothing_and_leaves_the_chain_unknown() -> None:
    fakes = fakes_with_secrets()
    fakes.journal.fail("db.ensure_tenant", retryable())
    outcome = reconcile(fakes)
    assert fakes.journal.names() == ["db.ensure_tenant"]
    assert conditions(outcome)["AuditChainVerified"] == ("Unknown", "Pending")
    assert fakes.audit.chains == {}


def test_changes_before_a_failure_are_audited_once() -> None:
    fakes = fakes_with_secrets()
    fakes.journal.fail("bao.route_connector", retryable(), times=1)
    failed = reconcile(fakes)
    assert isinstance(failed.error, RetryableError)
    assert fakes.audit.actions("acme") == [
        "tenant.database.ensured",
        "tenant.secrets.ensured",
        "tenant.owner.ensured",
        "tenant.owner.invited",
    ]
    retried = reconcile(fakes)  # the retry: only what is new this time is recorded
    assert retried.error is None
    assert fakes.audit.actions("acme")[4:] == [
        "connector.secret.routed",
        "tenant.connectors.ensured",
    ]


def test_a_foreign_connector_secret_stalls_and_nothing_reaches_openbao() -> None:
    fakes = Fakes.create()
    fakes.k8s.put(SECRET_NAMESPACE, "acme-github", owner="beta")
    outcome = reconcile(fakes)
    assert conditions(outcome)["ConnectorsRouted"] == ("False", "SecretNotAvailable")
    assert conditions(outcome)["Stalled"][0] == "True"
    assert "bao.route_connector" not in fakes.journal.names()
    assert fakes.bao.routed == {}


def test_a_connector_gone_from_the_spec_is_dropped_and_audited() -> None:
    fakes = fakes_with_secrets(connectors=("github", "jira"))
    first = reconcile(fakes, tenant_body(connectors=("github", "jira")))
    routed = wire(first.status)["connectors"]
    body = tenant_body(connectors=("github",), status={"connectors": routed})
    outcome = reconcile(fakes, body)
    assert outcome.error is None
    assert "bao.drop_connector(acme, jira)" in fakes.journal.calls
    assert ("acme", "jira") not in fakes.bao.routed
    assert "connector.secret.dropped" in fakes.audit.actions("acme")
    assert [c.name for c in outcome.status.connectors] == ["github"]


def test_broken_isolation_is_repaired_audited_and_verified() -> None:
    fakes = fakes_with_secrets()
    fakes.isolation.broken["acme"] = ("row level security disabled",)
    outcome = reconcile(fakes)
    assert conditions(outcome)["IsolationVerified"] == ("True", "Reconciled")
    names = fakes.journal.names()
    assert names.count("verify_isolation") == 2 and "db.repair_isolation" in names
    assert "tenant.isolation.repaired" in fakes.audit.actions("acme")


def test_isolation_that_cannot_be_repaired_is_retried() -> None:
    fakes = fakes_with_secrets()
    fakes.isolation.broken["acme"] = ("row level security disabled",)
    fakes.isolation.repairable = False
    outcome = reconcile(fakes)
    got = {c.type: c for c in outcome.checks}
    assert (got["IsolationVerified"].reason, got["IsolationVerified"].failure) == (
        "IsolationBroken",
        "retry",
    )
    assert got["Reconciling"].status == "True" and got["Stalled"].status == "False"


def test_a_rewritten_audit_chain_stalls() -> None:
    fakes = fakes_with_secrets()
    reconcile(fakes)
    rows = fakes.audit.chains["acme"]
    rows[1] = dataclasses.replace(rows[1], target="tenant:someone-else")
    fakes.bao.heads.clear()  # verify from genesis
    outcome = reconcile(fakes)
    got = {c.type: c for c in outcome.checks}
    assert (got["AuditChainVerified"].reason, got["AuditChainVerified"].failure) == (
        "AuditChainBroken",
        "permanent",
    )
    assert got["Stalled"].status == "True"


def test_a_cut_below_the_mirrored_head_is_a_head_mismatch() -> None:
    fakes = fakes_with_secrets()
    reconcile(fakes)
    del fakes.audit.chains["acme"][3:]
    outcome = reconcile(fakes)
    assert conditions(outcome)["AuditChainVerified"] == ("False", "AuditHeadMismatch")


def test_an_owner_change_is_audited_with_ids_only() -> None:
    fakes = fakes_with_secrets()
    reconcile(fakes)
    body = tenant_body(owner={"name": "New Owner", "email": "new@acme.example"})
    reconcile(fakes, body)
    rows = [r for r in fakes.audit.chains["acme"] if r.action == "tenant.owner.changed"]
    assert len(rows) == 1 and rows[0].detail is not None
    assert "new@acme.example" not in repr(rows[0].detail) and "New Owner" not in repr(rows[0])
    assert fakes.audit.actions("acme")[-1] == "tenant.owner.invited"
    assert fakes.bao.invites["acme"] == "invite-token"


def test_an_adoption_is_audited_first() -> None:
    fakes = fakes_with_secrets()
    fakes.db.adoption = Adoption(tenant_id("acme"), uuid.UUID(int=7), uuid.UUID(int=8), NOW)
    reconcile(fakes)
    assert fakes.audit.actions("acme")[0] == "tenant.adopted"


ANNOUNCED = datetime(2026, 5, 20, tzinfo=UTC)  # after the tenant's creation (2026-05-01)


@pytest.mark.parametrize(("plan", "state"), [("enterprise", "PendingNotice"), ("team", "Active")])
def test_a_new_sub_processor_needs_notice_for_enterprise_only(plan: str, state: str) -> None:
    fakes = fakes_with_secrets()
    register = [RegisterEntry("stripe", ANNOUNCED, 30)]
    outcome = reconcile(fakes, tenant_body(plan=plan), register)
    assert [s.state for s in outcome.status.sub_processors] == [state]
    got = {c.type: c for c in outcome.checks}
    assert got["SubProcessorsAccepted"].status == "True"
    assert ("in notice period: stripe" in got["SubProcessorsAccepted"].message) == (
        state == "PendingNotice"
    )
    assert got["Ready"].status == "True"
    records = fakes.db.subprocessors[tenant_id("acme")]
    assert [(r.name, r.state) for r in records] == [("stripe", state)]


def test_the_notice_period_ends() -> None:
    fakes = fakes_with_secrets()
    register = [RegisterEntry("stripe", ANNOUNCED, 30)]
    later = ANNOUNCED + timedelta(days=31)
    outcome = reconcile(fakes, tenant_body(plan="enterprise"), register, now=later)
    assert [s.state for s in outcome.status.sub_processors] == ["Active"]


def test_an_objection_turns_the_aspect_false_but_the_tenant_stays_ready() -> None:
    fakes = fakes_with_secrets()
    register = [RegisterEntry("stripe", ANNOUNCED, 30), RegisterEntry("mailgun", ANNOUNCED, 30)]
    body = tenant_body(subProcessors={"objections": ["stripe"]})
    outcome = reconcile(fakes, body, register)
    assert conditions(outcome)["SubProcessorsAccepted"] == ("False", "Objected")
    assert conditions(outcome)["Ready"] == ("True", "Reconciled")
    assert conditions(outcome)["Stalled"][0] == "False"
    states = {s["name"]: s for s in wire(outcome.status)["subProcessors"]}
    assert states["stripe"]["state"] == "Objected" and "objectedAt" in states["stripe"]
    assert states["mailgun"]["state"] == "Active"


def test_an_objection_keeps_its_first_date() -> None:
    fakes = fakes_with_secrets()
    register = [RegisterEntry("stripe", ANNOUNCED, 30)]
    body = tenant_body(subProcessors={"objections": ["stripe"]})
    first = reconcile(fakes, body, register)
    body["status"] = {"subProcessors": wire(first.status)["subProcessors"]}
    second = reconcile(fakes, body, register, now=NOW + timedelta(days=3))
    stamp = wire(first.status)["subProcessors"][0]["objectedAt"]
    assert wire(second.status)["subProcessors"][0]["objectedAt"] == stamp
