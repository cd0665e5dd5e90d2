"""Every status the controller can produce is a valid TenantStatus, and its dump round-trips.

The API server prunes a status field its CRD does not declare without an error, so each
status is checked here against the model the CRD is generated from: strictly, from its JSON
wire form (as the API server would receive it), and dumped again to the same wire form.
"""

import asyncio
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tenant_operator.api.tenant import TenantStatus
from tenant_operator.controller.context import Context
from tenant_operator.controller.deletion import deletion_refused
from tenant_operator.controller.inventory import Inventory
from tenant_operator.controller.status import wire
from tenant_operator.controller.tenant import tenant_changed
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.subprocessors import RegisterEntry
from tenant_operator.handlers import changed_only
from tests.support.fakes import Content, Fakes, fake_context, permanent, retryable
from tests.support.tenants import SECRET_NAMESPACE, tenant_body

ANNOUNCED = datetime(2026, 5, 20, tzinfo=UTC)  # after the tenant's creation (2026-05-01)
REGISTER = [RegisterEntry("stripe", ANNOUNCED, 30), RegisterEntry("mailgun", ANNOUNCED, 30)]
#: Every call a reconcile step makes (a failure there is that step's).
CALLS = [
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
    "audit.append",
    "bao.read_audit_head",
    "audit.rows",
    "bao.mirror_audit_head",
]


def setup(slug: str = "acme", connectors: tuple[str, ...] = ("github",)) -> tuple[Fakes, Context]:
    fakes = Fakes.create()
    stamps = {}
    for name in connectors:
        fakes.k8s.put(SECRET_NAMESPACE, f"{slug}-{name}", owner=slug, version="7")
        stamps[SECRET_NAMESPACE, f"{slug}-{name}"] = Content({}, "7", slug)
    rt = fake_context(fakes, inventory=Inventory.build([], stamps))
    rt.inventory.register.update({e.name: e for e in REGISTER})
    return fakes, rt


def changed(rt: Context, body: dict[str, Any], *, resuming: bool = False) -> dict[str, Any]:
    """The status the handler writes, checked against the model."""
    result = asyncio.run(tenant_changed(copy.deepcopy(body), rt, resuming=resuming))
    return checked(result.status, body)


def checked(status: TenantStatus, body: dict[str, Any]) -> dict[str, Any]:
    sent = wire(status)
    parsed = TenantStatus.model_validate_json(json.dumps(sent), strict=True)
    assert wire(parsed) == sent  # the dump round-trips
    stored = merged(body.get("status") or {}, changed_only(body.get("status") or {}, sent))
    TenantStatus.model_validate_json(json.dumps(stored), strict=True)  # what is read next
    return sent


def merged(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``stored`` after a JSON merge patch (null removes a field)."""
    out = dict(stored)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = merged(out.get(key) or {}, value)
        else:
            out[key] = value
    return out


def types(sent: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in sent["conditions"]}


@pytest.mark.parametrize("plan", ["team", "enterprise"])
def test_an_all_ready_status_and_the_next_ones(plan: str) -> None:
    _, rt = setup()
    body = tenant_body(plan=plan, generation=3, subProcessors={"objections": ["stripe"]})
    first = changed(rt, body)
    assert types(first)["Ready"] == "True"
    assert {"database", "secrets", "connectors", "subProcessors", "audit"} <= set(first)
    body["status"] = merged({}, first)
    again = changed(rt, body)  # the conditions carried over
    assert [c["lastTransitionTime"] for c in again["conditions"]] == [
        c["lastTransitionTime"] for c in first["conditions"]
    ]
    assert changed(rt, body, resuming=True) == {}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("error", [retryable(), permanent()], ids=["retryable", "permanent"])
def test_a_status_with_a_failed_step(call: str, error: OperatorError) -> None:
    fakes, rt = setup()
    fakes.journal.fail(call, error)
    sent = changed(rt, tenant_body(plan="enterprise"))
    assert types(sent)["Ready"] == "False"


def test_a_status_after_an_unrepairable_isolation_drift_or_a_foreign_secret() -> None:
    fakes, rt = setup()
    fakes.isolation.broken["acme"] = ("row level security disabled",)
    fakes.isolation.repairable = False
    assert types(changed(rt, tenant_body()))["Reconciling"] == "True"
    fakes, rt = setup(connectors=())
    fakes.k8s.put(SECRET_NAMESPACE, "acme-github", owner="beta")
    assert types(changed(rt, tenant_body()))["Stalled"] == "True"


def test_a_status_after_a_connector_is_dropped() -> None:
    _, rt = setup(connectors=("github", "jira"))
    first = changed(rt, tenant_body(connectors=("github", "jira")))
    sent = changed(rt, tenant_body(connectors=("github",), status=merged({}, first)))
    assert [c["name"] for c in sent["connectors"]] == ["github"]


@pytest.mark.parametrize("before", [None, "ready"], ids=["new", "after-ready"])
def test_a_paused_status(before: str | None) -> None:
    _, rt = setup()
    body = tenant_body()
    if before:
        body["status"] = merged({}, changed(rt, body))
    body["metadata"]["annotations"]["integraci.io/paused"] = "true"
    sent = changed(rt, body)
    assert set(sent) == {"conditions"} and types(sent)["Reconciling"] == "False"


@pytest.mark.parametrize(
    "body",
    [
        tenant_body(plan="platinum"),
        tenant_body(secret_namespace="kube-system"),
        tenant_body(isolation="schema", status={"database": {"isolation": "shared"}}),
        tenant_body("sys"),
    ],
    ids=["invalid", "secret-namespace", "isolation-change", "reserved-slug"],
)
def test_a_stalled_spec_status(body: dict[str, Any]) -> None:
    _, rt = setup(body["metadata"]["name"])
    sent = changed(rt, body)
    assert types(sent)["Stalled"] == "True"
    assert sent["observedGeneration"] == 1


def test_a_status_without_a_generation() -> None:
    _, rt = setup()
    body = tenant_body()
    del body["metadata"]["generation"]
    sent = wire(asyncio.run(tenant_changed(body, rt)).status)
    assert sent["observedGeneration"] is None  # sent as null, as before: nothing to observe
    TenantStatus.model_validate_json(json.dumps(sent), strict=True)


@pytest.mark.parametrize(
    "error",
    [
        PermanentError("prevented", reason="DeletionPrevented"),
        PermanentError("no such shard", reason="ShardUnknown"),
        RetryableError("unreachable", reason="DatabaseUnavailable"),
    ],
    ids=["prevented", "shard", "retryable"],
)
@pytest.mark.parametrize("before", [None, "ready"], ids=["new", "after-ready"])
def test_a_deletion_refused_status(error: OperatorError, before: str | None) -> None:
    _, rt = setup()
    body = tenant_body()
    if before:
        body["status"] = merged({}, changed(rt, body))
    sent = checked(deletion_refused(body, error), body)
    assert set(sent) == {"conditions"} and types(sent)["Stalled"] == "True"
