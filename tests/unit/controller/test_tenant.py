"""tenant.tenant_changed over a Context of fakes: paused, stalled on a bad spec, resumed."""

import asyncio
from typing import Any

import pytest

from tenant_operator.controller.context import Context
from tenant_operator.controller.inventory import Inventory
from tenant_operator.controller.status import wire
from tenant_operator.controller.tenant import Result, tenant_changed
from tenant_operator.domain.errors import PermanentError, RetryableError
from tests.support.fakes import Content, Fakes, fake_context, permanent, retryable
from tests.support.tenants import SECRET_NAMESPACE, tenant_body


def setup(slug: str = "acme") -> tuple[Fakes, Context]:
    fakes = Fakes.create()
    fakes.k8s.put(SECRET_NAMESPACE, f"{slug}-github", owner=slug, version="7")
    stamps = {(SECRET_NAMESPACE, f"{slug}-github"): Content({}, "7", slug)}
    return fakes, fake_context(fakes, inventory=Inventory.build([], stamps))


def changed(rt: Context, body: dict[str, Any], *, resuming: bool = False) -> Result:
    return asyncio.run(tenant_changed(body, rt, resuming=resuming))


def patch(result: Result) -> dict[str, Any]:
    """The status as the handler sends it."""
    return wire(result.status)


def conditions(result: Result) -> dict[str, tuple[object, object]]:
    return {str(c["type"]): (c["status"], c["reason"]) for c in patch(result)["conditions"]}


def outcomes(rt: Context) -> dict[str, float]:
    labels = ("ready", "retry", "stalled", "paused", "resumed")
    registry = rt.metrics.registry
    found = {
        o: registry.get_sample_value("tenant_operator_reconciles_total", {"outcome": o})
        for o in labels
    }
    return {o: v for o, v in found.items() if v}


def test_a_paused_tenant_is_left_alone() -> None:
    fakes, rt = setup()
    result = changed(rt, tenant_body(annotations={"integraci.io/paused": "True"}))
    assert fakes.journal.calls == []
    assert result.error is None
    assert conditions(result) == {"Reconciling": ("False", "Paused")}
    assert outcomes(rt) == {"paused": 1.0}


def test_a_tenant_is_reconciled_and_its_status_built() -> None:
    _, rt = setup()
    result = changed(rt, tenant_body(generation=4))
    assert result.error is None
    assert patch(result)["observedGeneration"] == 4
    assert conditions(result)["Ready"] == ("True", "Reconciled")
    assert all(c["observedGeneration"] == 4 for c in patch(result)["conditions"])
    assert {"database", "secrets", "connectors", "subProcessors", "audit"} <= set(patch(result))
    assert outcomes(rt) == {"ready": 1.0}


@pytest.mark.parametrize(
    ("error", "label", "reconciling", "stalled"),
    [(retryable(), "retry", "True", "False"), (permanent(), "stalled", "False", "True")],
    ids=["retryable", "permanent"],
)
def test_the_error_is_handed_back_for_the_handler_to_map(
    error: RetryableError | PermanentError, label: str, reconciling: str, stalled: str
) -> None:
    fakes, rt = setup()
    fakes.journal.fail("bao.ensure_tenant", error)
    result = changed(rt, tenant_body())
    assert result.error is error
    assert conditions(result)["Reconciling"][0] == reconciling
    assert conditions(result)["Stalled"][0] == stalled
    assert conditions(result)["SecretsReady"] == ("False", error.reason)
    assert outcomes(rt) == {label: 1.0}


@pytest.mark.parametrize(
    ("body", "reason", "aspect"),
    [
        (tenant_body(plan="platinum"), "InvalidSpec", None),
        (
            tenant_body(secret_namespace="kube-system"),
            "SecretNamespaceForbidden",
            "ConnectorsRouted",
        ),
        (
            tenant_body(
                isolation="schema",
                status={"database": {"isolation": "shared", "schema": None}},
            ),
            "IsolationImmutable",
            "DatabaseReady",
        ),
        (tenant_body("sys"), "SlugReserved", None),
    ],
    ids=["invalid", "secret-namespace", "isolation-change", "reserved-slug"],
)
def test_a_bad_spec_stalls_before_any_io(
    body: dict[str, Any], reason: str, aspect: str | None
) -> None:
    fakes, rt = setup(body["metadata"]["name"])
    result = changed(rt, body)
    assert fakes.journal.calls == []
    assert isinstance(result.error, PermanentError) and result.error.reason == reason
    got = conditions(result)
    assert got["Ready"] == ("False", reason)
    assert got["Stalled"] == ("True", reason)
    assert got["Reconciling"][0] == "False"
    assert [t for t in got if t not in ("Ready", "Reconciling", "Stalled")] == (
        [aspect] if aspect else []
    )
    if aspect:
        assert got[aspect] == ("False", reason)
    assert patch(result)["observedGeneration"] == 1
    assert outcomes(rt) == {"stalled": 1.0}


def settled(rt: Context, generation: int = 3) -> dict[str, Any]:
    body = tenant_body(generation=generation)
    body["status"] = patch(changed(rt, body))
    return body


def test_a_resumed_tenant_unchanged_since_ready_is_left_as_it_is() -> None:
    fakes, rt = setup()
    body = settled(rt)
    fakes.journal.calls.clear()
    result = changed(rt, body, resuming=True)
    assert fakes.journal.calls == []
    assert patch(result) == {} and result.error is None
    assert outcomes(rt) == {"ready": 1.0, "resumed": 1.0}


def test_a_resumed_tenant_with_a_new_generation_is_reconciled() -> None:
    fakes, rt = setup()
    body = settled(rt)
    body["metadata"]["generation"] = 4
    fakes.journal.calls.clear()
    result = changed(rt, body, resuming=True)
    assert "db.ensure_tenant" in fakes.journal.names()
    assert patch(result)["observedGeneration"] == 4


def test_an_update_is_reconciled_even_when_unchanged() -> None:
    fakes, rt = setup()
    body = settled(rt)
    fakes.journal.calls.clear()
    changed(rt, body)  # not resuming: a nudge or an edit always reconciles
    assert "db.ensure_tenant" in fakes.journal.names()


def test_an_unrepairable_isolation_drift_is_retried() -> None:
    """It says Reconciling, so a retry is scheduled and the outcome counts as a retry (the
    drift scanner, which inspects only Ready tenants, would never nudge it again)."""
    fakes, rt = setup()
    fakes.isolation.broken["acme"] = ("row level security disabled",)
    fakes.isolation.repairable = False
    result = changed(rt, tenant_body())
    assert conditions(result)["Reconciling"] == ("True", "IsolationBroken")
    assert isinstance(result.error, RetryableError)
    assert outcomes(rt) == {"retry": 1.0}
