"""subprocessor.subprocessor_changed over a Context of fakes: recorded, fan-out, typed status."""

import asyncio
import copy
from typing import Any

from tenant_operator.api.subprocessor import SubProcessorStatusModel
from tenant_operator.controller.status import wire
from tenant_operator.controller.subprocessor import RegisterResult, subprocessor_changed
from tenant_operator.domain.vocabulary import Reason
from tests.support.fakes import Fakes, fake_context, retryable
from tests.support.tenants import tenant_body

CREATED = "2026-05-01T00:00:00Z"


def register_body(name: str = "mailer", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "integraci.io/v1alpha1",
        "kind": "SubProcessor",
        "metadata": {"name": name, "generation": 2, "creationTimestamp": CREATED},
        "spec": {
            "purpose": "transactional email",
            "dataCategories": ["contact"],
            "location": "EU",
            "transferMechanism": "none (EU)",
            "noticeDays": 30,
        },
    }
    body.update(extra)
    return body


def changed(fakes: Fakes, body: dict[str, Any], *, fan_out: bool = True) -> RegisterResult:
    ctx = fake_context(fakes, tenants=[tenant_body("acme"), tenant_body("beta")])
    return asyncio.run(subprocessor_changed(copy.deepcopy(body), ctx, fan_out=fan_out))


def test_an_entry_is_recorded_every_tenant_nudged_and_its_status_typed() -> None:
    fakes = Fakes.create()
    result = changed(fakes, register_body())
    assert result.error is None
    assert fakes.journal.calls == [
        "db.ensure_subprocessor(mailer)",
        "kube.names()",
        "kube.nudge(acme)",
        "kube.nudge(beta)",
    ]
    sent = wire(result.status)
    assert sent["observedGeneration"] == 2
    assert sent["announcedAt"] == CREATED  # the wire form the API server wrote
    assert [(c["type"], c["status"]) for c in sent["conditions"]] == [("Ready", "True")]
    SubProcessorStatusModel.model_validate(sent)  # the CRD's own model reads it back


def test_at_resume_nothing_is_fanned_out() -> None:
    fakes = Fakes.create()
    changed(fakes, register_body(), fan_out=False)
    assert fakes.journal.calls == ["db.ensure_subprocessor(mailer)"]


def test_an_announced_date_already_written_is_kept_as_it_was() -> None:
    written = {"announcedAt": "2026-06-01T12:00:00Z", "observedGeneration": 1}
    result = changed(Fakes.create(), register_body(status=written))
    assert wire(result.status)["announcedAt"] == "2026-06-01T12:00:00Z"


def test_an_invalid_entry_is_stalled_and_touches_nothing() -> None:
    fakes = Fakes.create()
    result = changed(fakes, register_body(spec={"purpose": ""}))
    assert fakes.journal.calls == []
    assert result.error is not None and result.error.reason == Reason.INVALID_SPEC
    (ready,) = wire(result.status)["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "InvalidSpec")


def test_a_database_failure_is_retried_and_says_so() -> None:
    fakes = Fakes.create()
    fakes.journal.fail("db.ensure_subprocessor", retryable("PostgresUnavailable"))
    result = changed(fakes, register_body())
    assert result.error is not None and result.error.reason == "PostgresUnavailable"
    assert "kube.names()" not in fakes.journal.calls
    (ready,) = wire(result.status)["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "PostgresUnavailable")


def test_a_deleted_entry_nudges_tenants_and_writes_no_status() -> None:
    fakes = Fakes.create()
    deleting = register_body()
    deleting["metadata"]["deletionTimestamp"] = "2026-07-01T00:00:00Z"
    result = changed(fakes, deleting)
    assert result.error is None and wire(result.status) == {}
    assert "db.ensure_subprocessor(mailer)" not in fakes.journal.calls
    assert fakes.journal.calls[-2:] == ["kube.nudge(acme)", "kube.nudge(beta)"]
