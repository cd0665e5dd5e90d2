"""data_request_changed over the in-memory fakes: due dates, the erasure's phases and their
resume, bad input, overlapping runs, the trim of old key versions, the status model."""

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenant_operator.api.datarequest import DataRequestStatus
from tenant_operator.controller.context import Context
from tenant_operator.controller.datarequest import RequestOutcome, data_request_changed
from tenant_operator.controller.status import wire
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.records import SubProcessorEntry
from tenant_operator.domain.vocabulary import RequestPhase
from tenant_operator.settings import Settings
from tests.support.fake_requests import (
    RECEIVED_AT,
    Person,
    RequestFakes,
    registered,
    request_body,
)
from tests.support.fakes import Fakes, retryable, tenant_id

SLUG = "acme"
TID = tenant_id(SLUG)
ANN = Person(uuid.UUID(int=11), "ann@example.com", "Ann Example")
OWNER = Person(uuid.UUID(int=1), "olga@example.com", "Olga Owner", is_owner=True)
ERASE_ANN = request_body("erase-ann", subject={"email": ANN.email})
UID = uuid.UUID(ERASE_ANN["metadata"]["uid"])
SOON = RECEIVED_AT + timedelta(days=1)
RETENTION = timedelta(days=35)
P = RequestPhase
ERASURE_ORDER = [
    P.RECEIVED,
    P.RESOLVED,
    P.SECRETS_ERASED,
    P.ROWS_ERASED,
    P.RECORDED,
    P.KEY_ROTATED,
    P.COMPLETED,
]


@pytest.fixture
def rf(tmp_path: Path) -> RequestFakes:
    """Tenant acme registered with its first data key, an owner, Ann and her invite."""
    fakes = Fakes.create()
    registered(fakes, [SLUG])
    fakes.db.keys[TID] = {1: f"vault:v1:{SLUG}"}
    fakes.bao.transit_versions[SLUG] = 1
    fakes.bao.invites[f"{SLUG}/{ANN.id}"] = "invite-token"
    rf = RequestFakes(fakes, tmp_path / "work")
    rf.log.add(SLUG, OWNER)
    rf.log.add(SLUG, ANN)
    rf.log.processors[TID] = [
        SubProcessorEntry("mailer", "email", ("Account data",), "EU", "none", 30),
        SubProcessorEntry("metrics", "usage", ("Usage statistics",), "EU", "none", 30),
    ]
    (tmp_path / "exports").mkdir()
    return rf


def context(rf: RequestFakes, tmp_path: Path, retention: timedelta = RETENTION) -> Context:
    settings = Settings(
        drift_tenants_per_second=1000.0,
        backup_retention_seconds=int(retention.total_seconds()),
        export_destination=f"file://{tmp_path / 'exports'}",
    )
    return rf.context(settings)


def run(ctx: Context, body: Mapping[str, Any] = ERASE_ANN, now: datetime = SOON) -> RequestOutcome:
    outcome = asyncio.run(data_request_changed(body, ctx, now=now))
    valid(outcome)
    return outcome


def valid(outcome: RequestOutcome) -> dict[str, Any]:
    """The status as written to the object, which must validate against the model."""
    dumped = wire(outcome.status)
    DataRequestStatus.model_validate(dumped)
    return dumped


def conditions(outcome: RequestOutcome) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in outcome.status.conditions}


def with_status(body: Mapping[str, Any], outcome: RequestOutcome) -> dict[str, Any]:
    """``body`` as kopf would hand it next: the status written back."""
    return {**body, "status": valid(outcome)}


def calls(rf: RequestFakes, name: str) -> int:
    return rf.fakes.journal.names().count(name)


# --- time limits --------------------------------------------------------------------------


def test_due_at_is_one_calendar_month_after_receipt(rf: RequestFakes, tmp_path: Path) -> None:
    outcome = run(context(rf, tmp_path))
    assert outcome.status.received_at == RECEIVED_AT  # 31 January
    assert outcome.status.due_at == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


def test_overdue_after_due_date_until_completed(rf: RequestFakes, tmp_path: Path) -> None:
    ctx = context(rf, tmp_path)
    rf.fakes.journal.fail("requests.find_account", retryable())  # held in progress
    due = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)

    before = run(ctx, now=due)
    assert conditions(before)["Overdue"][:2] == ("False", "WithinTimeLimit")
    assert before.warning is None and str(UID) not in ctx.overdue

    late = run(ctx, with_status(ERASE_ANN, before), now=due + timedelta(seconds=1))
    assert conditions(late)["Overdue"][:2] == ("True", "PastDue")
    assert late.warning == (
        "data-subject request past its due date 2026-02-28 (one month after receipt)"
    )
    assert str(UID) in ctx.overdue
    assert ctx.metrics.requests_overdue._value.get() == 1

    again = run(ctx, with_status(ERASE_ANN, late), now=due + timedelta(hours=1))
    assert conditions(again)["Overdue"][0] == "True"
    assert again.warning is None  # the Warning is posted once, when it becomes overdue

    del rf.fakes.journal.failures["requests.find_account"]
    done = run(ctx, with_status(ERASE_ANN, again), now=due + timedelta(days=2))
    assert conditions(done)["Completed"][0] == "True"
    assert conditions(done)["Overdue"][:2] == ("False", "WithinTimeLimit")
    assert done.warning is None and str(UID) not in ctx.overdue
    assert ctx.metrics.requests_overdue._value.get() == 0


def test_a_completed_request_past_its_due_date_is_not_overdue(
    rf: RequestFakes, tmp_path: Path
) -> None:
    ctx = context(rf, tmp_path)
    outcome = run(ctx, now=RECEIVED_AT + timedelta(days=90))
    assert conditions(outcome)["Completed"][0] == "True"
    assert conditions(outcome)["Overdue"][0] == "False"
    assert outcome.warning is None and str(UID) not in ctx.overdue


# --- erasure: phases and resume -------------------------------------------------------------


def test_erasure_goes_through_every_phase_in_order(rf: RequestFakes, tmp_path: Path) -> None:
    outcome = run(context(rf, tmp_path))
    assert rf.log.phases[UID] == ERASURE_ORDER
    assert outcome.error is None
    status, reason, message = conditions(outcome)["Completed"]
    assert (status, reason) == ("True", "Erased")
    assert "inform the recipients" in message
    assert conditions(outcome)["Ready"][0] == "True"
    erasure = outcome.status.erasure
    assert erasure is not None
    assert {e.where: (e.action, e.count) for e in erasure.erased} == {
        "openbao:invites": ("destroyed", 1),
        "postgres:accounts": ("erased", 1),
        "postgres:pipeline_runs": ("anonymised", 2),
        "postgres:deploy_events": ("anonymised", 0),
        "audit:details": ("redacted", 1),
    }
    assert [r.name for r in erasure.recipients] == ["mailer"]  # processes account data
    assert erasure.key_rotated_at == SOON
    assert erasure.backups_clear_at == SOON + RETENTION
    assert erasure.key_versions_trimmed_at is None
    assert rf.log.erased == {TID: [ANN.id]}
    assert rf.fakes.audit.actions(SLUG) == ["subject.erased"]
    detail = rf.fakes.audit.chains[SLUG][0].detail
    assert ANN.email not in str(detail) and ANN.name not in str(detail)


#: Where a run can stop: a call failing, or a phase failing to be recorded after its work.
STOPS = [
    "requests.find_account",
    "requests.advance:resolved",
    "bao.destroy_account_invite",
    "requests.advance:secrets-erased",
    "requests.erase_rows",
    "audit.append",
    "requests.advance:recorded",
    "bao.rotate_tenant_key",
    "bao.new_data_key",
    "db.reseal",
    "requests.advance:key-rotated",
    "requests.processors_of",
    "requests.advance:completed",
]


@pytest.mark.parametrize("stop", STOPS)
def test_erasure_resumes_after_a_failure_and_does_nothing_twice(
    rf: RequestFakes, tmp_path: Path, stop: str
) -> None:
    ctx = context(rf, tmp_path)
    rf.fakes.journal.fail(stop, retryable(), times=1)

    failed = run(ctx)
    assert isinstance(failed.error, RetryableError)
    assert conditions(failed)["Completed"][0] == "False"
    assert conditions(failed)["Ready"][0] == "False"
    assert conditions(failed)["Stalled"][0] == "False"  # retried, not stuck
    recorded = list(rf.log.phases[UID])

    done = run(ctx, with_status(ERASE_ANN, failed))
    assert done.error is None
    assert conditions(done)["Completed"][:2] == ("True", "Erased")
    # the second run went on from the last phase recorded, never back
    assert rf.log.phases[UID] == ERASURE_ORDER
    assert rf.log.phases[UID][: len(recorded)] == recorded
    # each effect once (a call that raised did nothing)
    failed_call = 1 if stop == "bao.destroy_account_invite" else 0
    # A destroy not yet recorded is called again (it finds nothing): the count stays 1.
    redone = 1 if stop == "requests.advance:secrets-erased" else 0
    assert calls(rf, "bao.destroy_account_invite") - failed_call - redone == 1
    assert rf.log.erased == {TID: [ANN.id]}
    assert rf.fakes.audit.actions(SLUG) == ["subject.erased"]
    assert rf.fakes.bao.transit_versions[SLUG] == 2  # rotated once
    assert calls(rf, "db.reseal") - (stop == "db.reseal") == 1
    erasure = done.status.erasure
    assert erasure is not None
    assert {e.where: e.count for e in erasure.erased}["openbao:invites"] == 1


def test_a_completed_erasure_run_again_does_nothing(rf: RequestFakes, tmp_path: Path) -> None:
    ctx = context(rf, tmp_path)
    first = run(ctx)
    before = list(rf.fakes.journal.calls)
    again = run(ctx, with_status(ERASE_ANN, first), now=SOON + timedelta(hours=1))
    assert conditions(again)["Completed"][0] == "True"
    assert rf.destructive() == [c for c in before if c in rf.destructive()]
    assert rf.log.phases[UID] == ERASURE_ORDER


# --- bad input --------------------------------------------------------------------------------


def export_body(name: str, **kw: Any) -> dict[str, Any]:
    return request_body(name, type_="Export", **kw)


BAD = {
    "unknown tenant": (
        request_body("erase-x", tenant="nobody", subject={"email": ANN.email}),
        "TenantNotFound",
        "check spec.tenant",
    ),
    "unknown subject": (
        request_body("erase-y", subject={"email": "nobody@example.com"}),
        "SubjectNotFound",
        "no data is held",
    ),
    "unknown subject by id": (
        request_body("erase-z", subject={"id": str(uuid.UUID(int=99))}),
        "SubjectNotFound",
        "no account with this id",
    ),
    "owner": (
        request_body("erase-owner", subject={"email": OWNER.email}),
        "OwnerNotErasable",
        "change spec.owner of the Tenant",
    ),
    "unwritable destination": (
        export_body("export-nowhere", destination="file:///nonexistent/exports"),
        "DestinationUnwritable",
        "create it and make it writable",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_stalls_with_how_to_fix_and_touches_nothing(
    rf: RequestFakes, tmp_path: Path, case: str
) -> None:
    body, reason, fix = BAD[case]
    ctx = context(rf, tmp_path)
    outcome = run(ctx, body)
    assert isinstance(outcome.error, PermanentError) and outcome.error.reason == reason
    got = conditions(outcome)
    assert got["Stalled"][:2] == ("True", reason)
    assert got["Ready"][:2] == ("False", reason)
    assert fix in got["Ready"][2] and fix in got["Completed"][2]
    assert got["Completed"][:2] == ("False", reason)
    assert rf.destructive() == []
    assert rf.fakes.bao.invites  # Ann's invite is still there
    assert set(rf.log.accounts[TID]) == {OWNER.id, ANN.id}
    assert list((tmp_path / "exports").iterdir()) == []
    uid = uuid.UUID(body["metadata"]["uid"])
    assert rf.log.phases[uid] == [P.RECEIVED]


def test_export_of_an_unknown_subject_completes_saying_no_data_is_held(
    rf: RequestFakes, tmp_path: Path
) -> None:
    body = export_body("export-nobody", subject={"email": "nobody@example.com"})
    outcome = run(context(rf, tmp_path), body)
    assert outcome.error is None
    assert conditions(outcome)["Completed"] == (
        "True",
        "NoDataHeld",
        "no data is held about this subject",
    )
    assert conditions(outcome)["Ready"][0] == "True"
    assert rf.destructive() == []
    assert len(list((tmp_path / "exports").iterdir())) == 1  # the answer, as a bundle


def test_export_of_a_subject_writes_one_bundle(rf: RequestFakes, tmp_path: Path) -> None:
    body = export_body("export-ann", subject={"email": ANN.email})
    ctx = context(rf, tmp_path)
    outcome = run(ctx, body)
    assert conditions(outcome)["Completed"][:2] == ("True", "Exported")
    export = outcome.status.export
    assert export is not None and export.rows == 1
    again = run(ctx, with_status(body, outcome))
    assert again.status.export == export
    assert len(list((tmp_path / "exports").iterdir())) == 1
    assert rf.destructive() == []


# --- overlapping runs ---------------------------------------------------------------------------


def test_two_overlapping_runs_of_one_request_do_the_work_once(
    rf: RequestFakes, tmp_path: Path
) -> None:
    ctx = context(rf, tmp_path)

    async def both() -> list[RequestOutcome]:
        return list(
            await asyncio.gather(
                data_request_changed(ERASE_ANN, ctx, now=SOON),
                data_request_changed(ERASE_ANN, ctx, now=SOON),
            )
        )

    outcomes = asyncio.run(both())
    for outcome in outcomes:
        valid(outcome)
        assert conditions(outcome)["Completed"][0] == "True"
    assert rf.log.phases[UID] == ERASURE_ORDER
    assert calls(rf, "bao.destroy_account_invite") == 1
    assert calls(rf, "requests.erase_rows") == 1
    assert rf.fakes.audit.actions(SLUG) == ["subject.erased"]
    assert calls(rf, "bao.rotate_tenant_key") == 1


# --- the trim of old key versions ----------------------------------------------------------------


def test_old_key_versions_are_trimmed_once_backups_have_expired(
    rf: RequestFakes, tmp_path: Path
) -> None:
    ctx = context(rf, tmp_path)
    done = run(ctx)
    clear = SOON + RETENTION
    assert calls(rf, "bao.trim_tenant_key") == 0

    early = run(ctx, with_status(ERASE_ANN, done), now=clear - timedelta(seconds=1))
    assert calls(rf, "bao.trim_tenant_key") == 0
    assert early.status.erasure is not None
    assert early.status.erasure.key_versions_trimmed_at is None

    trimmed = run(ctx, with_status(ERASE_ANN, early), now=clear)
    assert calls(rf, "bao.trim_tenant_key") == 1
    assert rf.fakes.bao.trimmed == {SLUG: 2}  # the rotation's transit version
    assert trimmed.status.erasure is not None
    assert trimmed.status.erasure.key_versions_trimmed_at == clear
    assert conditions(trimmed)["Completed"][0] == "True"

    later = run(ctx, with_status(ERASE_ANN, trimmed), now=clear + timedelta(days=1))
    assert calls(rf, "bao.trim_tenant_key") == 1
    assert later.status.erasure is not None
    assert later.status.erasure.key_versions_trimmed_at == clear


def test_an_erasure_completed_after_backups_expired_trims_at_once(
    rf: RequestFakes, tmp_path: Path
) -> None:
    outcome = run(context(rf, tmp_path, retention=timedelta(0)))
    assert calls(rf, "bao.trim_tenant_key") == 1
    assert outcome.status.erasure is not None
    assert outcome.status.erasure.key_versions_trimmed_at == SOON
