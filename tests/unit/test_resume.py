"""When a resumed tenant is left as it is, and the inventory and peering rules (pure)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tenant_operator.adapters.kubernetes.peering import outranked, replica_priority
from tenant_operator.adapters.kubernetes.secrets import SecretStamp as Stamp
from tenant_operator.api import Tenant
from tenant_operator.cli import build_parser
from tenant_operator.controller.inventory import Inventory
from tenant_operator.controller.planning import (
    build_plan,
    subprocessor_decisions,
    subprocessor_status,
)
from tenant_operator.controller.resume import unchanged_since_ready
from tenant_operator.controller.status import wire
from tenant_operator.domain.subprocessors import RegisterEntry
from tenant_operator.handlers import changed_only

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CREATED = "2026-05-01T00:00:00+00:00"
STRIPE = RegisterEntry("stripe", datetime(2026, 1, 1, tzinfo=UTC), 30)
SECRET = ("tenant-secrets", "acme-github")
READY = {
    "type": "Ready",
    "status": "True",
    "reason": "Ready",
    "message": "all aspects ready",
    "observedGeneration": 3,
    "lastTransitionTime": CREATED,
}


def body(**status: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "metadata": {"name": "acme", "generation": 3, "creationTimestamp": CREATED},
        "spec": {
            "organisation": "Acme",
            "plan": "team",
            "owner": {"name": "J", "email": "j@acme.example"},
            "connectors": [
                {
                    "name": "github",
                    "type": "github",
                    "secretRef": {"namespace": SECRET[0], "name": SECRET[1]},
                }
            ],
        },
    }
    doc["status"] = status
    return doc


def settled_body(register: list[RegisterEntry] = [STRIPE]) -> dict[str, Any]:  # noqa: B006
    doc = body()
    tenant = Tenant.model_validate(doc)
    decided = subprocessor_status(subprocessor_decisions(tenant, plan(tenant), register, NOW))
    doc["status"] = {
        "observedGeneration": 3,
        "conditions": [dict(READY)],
        "connectors": [
            {"name": "github", "ref": "openbao://x", "version": 1, "secretVersion": "7"}
        ],
        "subProcessors": [wire(s) for s in decided],
    }
    return doc


def plan(tenant: Tenant) -> Any:
    return build_plan(
        tenant,
        allowed_secret_namespaces=("tenant-secrets",),
        service_account_names=("tenant-app",),
        workload_namespace_prefix="tenant-",
    )


def settled(
    doc: dict[str, Any],
    register: list[RegisterEntry],
    versions: dict[Any, str],
    owners: dict[Any, str] | None = None,
) -> bool:
    tenant = Tenant.model_validate(doc)
    owned = {key: "acme" for key in versions} if owners is None else owners
    return unchanged_since_ready(tenant, plan(tenant), register, versions, owned, NOW)


def test_a_tenant_ready_at_its_generation_with_nothing_moved_is_left_alone() -> None:
    assert settled(settled_body(), [STRIPE], {SECRET: "7"})


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("generation not observed", lambda d: d["metadata"].update(generation=4)),
        ("Ready False", lambda d: d["status"]["conditions"][0].update(status="False")),
        (
            "Ready of an older generation",
            lambda d: d["status"]["conditions"][0].update(observedGeneration=2),
        ),
        ("no status", lambda d: d.pop("status")),
        (
            "secret version not recorded",
            lambda d: d["status"]["connectors"][0].pop("secretVersion"),
        ),
        ("connector not routed", lambda d: d["status"].update(connectors=[])),
    ],
)
def test_anything_moved_or_unknown_means_a_full_reconcile(what: str, change: Any) -> None:
    doc = settled_body()
    change(doc)
    assert not settled(doc, [STRIPE], {SECRET: "7"}), what


def test_a_secret_changed_while_down_means_a_full_reconcile() -> None:
    assert not settled(settled_body(), [STRIPE], {SECRET: "8"})
    assert not settled(settled_body(), [STRIPE], {})  # not listed (deleted, or not yet seen)


def test_a_secret_not_owned_by_the_tenant_means_a_full_reconcile() -> None:
    """Routed before owner labels existed, or relabelled: ownership is checked again."""
    assert not settled(settled_body(), [STRIPE], {SECRET: "7"}, {})
    assert not settled(settled_body(), [STRIPE], {SECRET: "7"}, {SECRET: "beta"})


def test_a_register_changed_while_down_means_a_full_reconcile() -> None:
    added = RegisterEntry("aws", datetime(2026, 5, 20, tzinfo=UTC), 30)
    assert not settled(settled_body(), [STRIPE, added], {SECRET: "7"})
    assert not settled(settled_body(), [], {SECRET: "7"})


def test_inventory_routes_secret_changes_to_the_tenants_owning_them() -> None:
    inventory = Inventory.build([], {SECRET: Stamp("7", "acme")})
    assert inventory.secret_owners == {SECRET: "acme"}
    for slug in ("acme", "beta"):
        inventory.tenant_seen(slug, body()["spec"])
    assert inventory.tenants_naming(*SECRET) == ["acme", "beta"]
    assert inventory.secret_seen(*SECRET, "7", "acme") == []  # the same version: no change
    # beta names acme's Secret: it is never told of its changes.
    assert inventory.secret_seen(*SECRET, "8", "acme") == ["acme"]
    # A label moved (the chart's policy refuses it; without it): the old and the new owner.
    assert inventory.secret_seen(*SECRET, "9", "beta") == ["acme", "beta"]
    assert inventory.secret_seen(*SECRET, "10", None) == ["beta"]
    assert inventory.secret_seen(*SECRET, "11", None) == []  # nobody's
    assert SECRET not in inventory.secret_owners
    inventory.secret_seen(*SECRET, "12", "beta")
    inventory.tenant_seen("beta", {"connectors": []})
    inventory.tenant_gone("acme")
    assert inventory.tenants_naming(*SECRET) == []
    assert inventory.secret_seen(*SECRET, None, "beta") == []  # deleted; named by none
    assert SECRET not in inventory.secret_versions
    assert SECRET not in inventory.secret_owners


def test_inventory_nudges_the_owner_of_a_deleted_secret() -> None:
    inventory = Inventory.build([], {SECRET: Stamp("7", "acme")})
    inventory.tenant_seen("acme", body()["spec"])
    assert inventory.secret_seen(*SECRET, None, "acme") == ["acme"]
    assert inventory.secret_seen(*SECRET, None, "acme") == []  # already gone


def test_inventory_keeps_the_register_current() -> None:
    sub = {
        "metadata": {"name": "stripe", "creationTimestamp": "2026-01-01T00:00:00+00:00"},
        "spec": {
            "purpose": "billing",
            "dataCategories": ["billing"],
            "location": "US",
            "transferMechanism": "SCCs",
            "noticeDays": 30,
        },
    }
    inventory = Inventory.build([sub], {})
    assert [e.name for e in inventory.entries()] == ["stripe"]
    inventory.subprocessor_changed(sub, deleted=True)
    assert inventory.entries() == []


def test_peering_rule_is_kopfs_a_live_peer_of_higher_or_equal_priority_outranks() -> None:
    now = datetime.now(UTC)
    seen = (now - timedelta(seconds=5)).isoformat()
    old = (now - timedelta(seconds=120)).isoformat()
    peers = {
        "me": {"priority": 0, "lastseen": seen, "lifetime": 60},
        "other": {"priority": 0, "lastseen": seen, "lifetime": 60},
    }
    assert outranked(peers, identity="me", priority=0, now=now)
    assert not outranked(peers, identity="me", priority=1, now=now)
    peers["other"]["lastseen"] = old  # dead
    assert not outranked(peers, identity="me", priority=0, now=now)
    assert not outranked({}, identity="me", priority=0, now=now)


def test_an_unchanged_status_is_not_patched() -> None:
    current = {"observedGeneration": 3, "audit": {"seq": 4}}
    wanted = {"observedGeneration": 3, "audit": {"seq": 5}}
    assert changed_only(current, wanted) == {"audit": {"seq": 5}}
    assert changed_only(current, dict(current)) == {}


def test_replicas_started_alike_get_distinct_priorities() -> None:
    """The chart starts every replica with the same ``run``: equal priorities would make
    kopf pause them all (its rule above), so without ``--priority`` each draws its own."""
    drawn = {replica_priority(None, standalone=False) for _ in range(20)}
    assert len(drawn) > 1 and min(drawn) >= 1
    assert replica_priority(7, standalone=False) == 7  # an explicit priority wins
    assert replica_priority(None, standalone=True) == 0
    assert build_parser().parse_args(["run"]).priority is None
