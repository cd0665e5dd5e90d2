"""secret.secret_changed over a Context of fakes: only the owners of a Secret are nudged."""

import asyncio
from typing import Any

from tenant_operator.controller.context import Context
from tenant_operator.controller.secret import secret_changed
from tenant_operator.domain.ownership import OWNER_LABEL
from tests.support.fakes import Fakes, FakeTenants, fake_context
from tests.support.tenants import SECRET_NAMESPACE, tenant_body


def secret(owner: str | None, version: str = "9") -> dict[str, Any]:
    labels = {OWNER_LABEL: owner} if owner else {}
    return {"metadata": {"resourceVersion": version, "labels": labels}}


def nudged(ctx: Context) -> list[tuple[str, str]]:
    assert isinstance(ctx.ports.tenants, FakeTenants)
    return ctx.ports.tenants.nudged


def fleet() -> Context:
    ctx = fake_context(Fakes.create())
    for slug in ("acme", "beta"):  # both name acme's Secret
        body = tenant_body(slug)
        body["spec"]["connectors"][0]["secretRef"]["name"] = "acme-github"
        ctx.inventory.tenant_seen(slug, body["spec"])
    return ctx


def changed(ctx: Context, event: str | None, body: dict[str, Any]) -> list[str]:
    return asyncio.run(secret_changed(event, SECRET_NAMESPACE, "acme-github", body, ctx))


def test_a_change_nudges_the_owner_only_not_a_tenant_naming_it() -> None:
    ctx = fleet()
    assert changed(ctx, "MODIFIED", secret("acme")) == ["acme"]
    assert nudged(ctx) == [("acme", f"secret {SECRET_NAMESPACE}/acme-github changed")]
    assert ctx.inventory.secret_versions[SECRET_NAMESPACE, "acme-github"] == "9"


def test_the_initial_listing_records_and_nudges_nothing() -> None:
    ctx = fleet()
    assert changed(ctx, None, secret("acme", "3")) == []
    assert nudged(ctx) == []
    assert ctx.inventory.secret_owners[SECRET_NAMESPACE, "acme-github"] == "acme"


def test_a_deleted_secret_is_forgotten_and_its_owner_nudged() -> None:
    ctx = fleet()
    changed(ctx, None, secret("acme", "3"))
    assert changed(ctx, "DELETED", secret("acme", "3")) == ["acme"]
    assert (SECRET_NAMESPACE, "acme-github") not in ctx.inventory.secret_versions


def test_an_unlabelled_secret_nudges_no_one() -> None:
    ctx = fleet()
    assert changed(ctx, "MODIFIED", secret(None)) == []
    assert nudged(ctx) == []
