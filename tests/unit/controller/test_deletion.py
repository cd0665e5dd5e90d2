"""deletion over the fakes: the policies (Retain, Delete, prevent-deletion, retained slugs)
and the finalizer trigger (refusal status, retry delays, shards)."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tenant_operator.controller.deletion import (
    PREVENTED_RECHECK,
    apply_deletion_policy,
    tenant_deleted,
)
from tenant_operator.controller.status import wire
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.identity import Registered
from tenant_operator.domain.reserved import NameContext
from tenant_operator.domain.sharding import SHARD_LABEL
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings
from tests.support.fakes import Fakes, fake_context, retryable, tenant_id
from tests.support.tenants import tenant_body

UID = "00000000-0000-4000-8000-000000000001"
OTHER_UID = uuid.UUID("00000000-0000-4000-8000-000000000002")


def provisioned(slug: str = "acme") -> Fakes:
    """A tenant as a reconcile leaves it: a registry row, OpenBao objects, an audit chain."""
    fakes = Fakes.create()
    fakes.db.registry[slug] = Registered(tenant_id(slug), uuid.UUID(UID), None)
    fakes.bao.tenants.add(slug)
    asyncio.run(
        fakes.audit.append(
            slug, actor="op", action="tenant.database.ensured", target=f"tenant:{slug}", detail={}
        )
    )
    fakes.journal.calls.clear()
    return fakes


NAMES = NameContext()  # the default settings' names


def deleted(fakes: Fakes, body: dict[str, Any]) -> list[str]:
    return asyncio.run(apply_deletion_policy(body, fakes.ports(), NAMES))


@pytest.mark.parametrize("policy", ["Retain", None], ids=["Retain", "default"])
def test_retain_keeps_everything_and_records_it(policy: str | None) -> None:
    fakes = provisioned()
    body = tenant_body()
    if policy is not None:
        body["spec"]["deletionPolicy"] = policy
    done = deleted(fakes, body)
    assert fakes.journal.calls == [
        "db.registered(acme)",
        "db.retain_tenant(acme)",
        "audit.append(acme, tenant.deleted.retained)",
    ]
    assert "acme" in fakes.db.registry and "acme" in fakes.bao.tenants
    assert fakes.audit.actions(None) == []  # the platform chain is not written
    assert "kept" in done[0]


def test_delete_erases_openbao_then_postgres_and_closes_the_chain() -> None:
    fakes = provisioned()
    done = deleted(fakes, tenant_body(deletionPolicy="Delete"))
    assert fakes.journal.calls == [
        "db.registered(acme)",
        "bao.drop_tenant(acme)",
        "db.drop_tenant(acme)",
        "audit.append(acme, tenant.erased)",
        "audit.append(None, tenant.erased)",
        "audit.close(acme)",
    ]
    assert "acme" not in fakes.db.registry and "acme" not in fakes.bao.tenants
    assert fakes.audit.actions(None) == ["tenant.erased"]
    assert fakes.audit.closed == ["acme"]
    assert len(done) == 2 and any("OpenBao" in d for d in done)


def test_a_retried_delete_converges() -> None:
    fakes = provisioned()
    fakes.journal.fail("db.drop_tenant", retryable(), times=1)
    with pytest.raises(RetryableError):
        deleted(fakes, tenant_body(deletionPolicy="Delete"))
    assert fakes.audit.actions(None) == []  # nothing recorded as erased yet
    done = deleted(fakes, tenant_body(deletionPolicy="Delete"))  # OpenBao: already gone
    assert done == ["erased PostgreSQL schema/rows and redacted audit details"]
    assert fakes.audit.actions(None) == ["tenant.erased"]
    again = deleted(fakes, tenant_body(deletionPolicy="Delete"))
    assert again == ["nothing left to erase"]


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_prevent_deletion_refuses_before_anything(policy: str) -> None:
    fakes = provisioned()
    body = tenant_body(annotations={"integraci.io/prevent-deletion": "true"}, deletionPolicy=policy)
    with pytest.raises(PermanentError) as refused:
        deleted(fakes, body)
    assert refused.value.reason == "DeletionPrevented"
    assert fakes.journal.calls == []


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_a_tenant_refused_under_a_retained_slug_leaves_it_alone(policy: str) -> None:
    fakes = provisioned()
    retained = datetime(2026, 5, 1, tzinfo=UTC)
    fakes.db.registry["acme"] = Registered(tenant_id("acme"), OTHER_UID, retained)
    done = deleted(fakes, tenant_body(deletionPolicy=policy))
    assert fakes.journal.calls == ["db.registered(acme)"]
    assert "belongs to another Tenant object" in done[0]
    assert str(tenant_id("acme")) not in done[0]  # an event must not name the retained id
    assert "acme" in fakes.db.registry and "acme" in fakes.bao.tenants


def test_a_name_that_can_have_no_registry_row_is_let_go() -> None:
    fakes = provisioned()
    fakes.journal.fail("db.registered", PermanentError("bad slug", reason="InvalidSpec"))
    deleted(fakes, tenant_body(deletionPolicy="Delete"))
    assert "bao.drop_tenant(acme)" in fakes.journal.calls
    assert "db.drop_tenant(acme)" in fakes.journal.calls


def test_delete_of_a_reserved_slug_never_touches_openbao() -> None:
    fakes = provisioned("sys")
    done = deleted(fakes, tenant_body("sys", deletionPolicy="Delete"))
    assert "bao.drop_tenant(sys)" not in fakes.journal.calls
    assert "db.drop_tenant(sys)" in fakes.journal.calls
    assert "sys" in fakes.bao.tenants
    assert any("left OpenBao untouched" in d for d in done)


def test_retain_of_a_never_provisioned_reserved_slug_writes_nothing() -> None:
    fakes = Fakes.create()
    done = deleted(fakes, tenant_body("sys"))
    assert fakes.journal.calls == ["db.registered(sys)", "audit.head(sys)"]
    assert fakes.audit.chains == {}
    assert "never provisioned" in done[0]


# --- the finalizer trigger: tenant_deleted(body, ctx) -----------------------------------


def finalized(fakes: Fakes, body: dict[str, Any], settings: Settings | None = None) -> Any:
    ctx = fake_context(fakes, settings=settings)
    ctx.inventory.tenant_seen(body["metadata"]["name"], body["spec"])
    return ctx, asyncio.run(tenant_deleted(body, ctx))


def test_the_finalizer_erases_and_forgets_the_tenants_secrets() -> None:
    fakes = provisioned()
    ctx, result = finalized(fakes, tenant_body(deletionPolicy="Delete"))
    assert result.error is None and result.status is None
    assert any("erased PostgreSQL" in line for line in result.done)
    assert ctx.inventory.tenants_naming("tenant-secrets", "acme-github") == []


def test_a_prevented_deletion_is_rechecked_slowly_with_a_stalled_status() -> None:
    fakes = provisioned()
    body = tenant_body(annotations={"integraci.io/prevent-deletion": "true"})
    ctx, result = finalized(fakes, body)
    assert isinstance(result.error, RetryableError)
    assert result.error.reason == Reason.DELETION_PREVENTED
    assert result.error.delay == PREVENTED_RECHECK
    sent = {c["type"]: (c["status"], c["reason"]) for c in wire(result.status)["conditions"]}
    assert sent["Stalled"] == ("True", "DeletionPrevented")
    assert sent["Ready"] == ("False", "DeletionPrevented")
    assert ctx.inventory.tenants_naming("tenant-secrets", "acme-github") == ["acme"]


def test_a_tenant_of_no_known_shard_keeps_its_finalizer_and_nothing_is_touched() -> None:
    fakes = provisioned()
    body = tenant_body(deletionPolicy="Delete")
    body["metadata"]["labels"] = {SHARD_LABEL: "9"}
    _, result = finalized(fakes, body, Settings(shards=2, shard="0"))
    assert isinstance(result.error, RetryableError)
    assert result.error.reason == Reason.SHARD_UNKNOWN and result.error.delay == PREVENTED_RECHECK
    assert fakes.journal.calls == []


def test_a_failed_erasure_is_retried_at_the_default_backoff() -> None:
    fakes = provisioned()
    fakes.journal.fail("bao.drop_tenant", retryable("OpenBaoUnavailable"))
    _, result = finalized(fakes, tenant_body(deletionPolicy="Delete"))
    assert isinstance(result.error, RetryableError)
    assert result.error.reason == "OpenBaoUnavailable" and result.error.delay is None
