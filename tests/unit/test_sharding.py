"""Shard assignment, placement and the settings that refuse a shard-less sharded replica."""

import subprocess
import sys
from collections import Counter

import pytest
from pydantic import ValidationError

from tenant_operator.domain.sharding import (
    DEFAULT_SHARD,
    SHARD_LABEL,
    Placement,
    ShardScope,
    assign_shard,
    shard_names,
)
from tenant_operator.settings import Settings


def test_assignment_is_stable_across_processes() -> None:
    """Not Python's salted hash: another interpreter (another replica) agrees."""
    slugs = [f"acme-{i}" for i in range(20)]
    here = [assign_shard(s, 3) for s in slugs]
    code = (
        "from tenant_operator.domain.sharding import assign_shard;"
        f"print(','.join(assign_shard(s, 3) for s in {slugs!r}))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert there.split(",") == here
    assert assign_shard("acme", 2) == assign_shard("acme", 2)


def test_assignment_spreads_tenants_evenly() -> None:
    counts = Counter(assign_shard(f"tenant-{i:05d}", 4) for i in range(10_000))
    assert set(counts) == set(shard_names(4))
    assert all(2_300 <= n <= 2_700 for n in counts.values()), counts


def test_one_shard_owns_everything_with_no_selector() -> None:
    scope = ShardScope()
    assert not scope.sharded
    assert scope.watch_selector() is None and scope.own_selector() is None
    assert scope.place("acme", {SHARD_LABEL: "7"}) == Placement(owned=True)
    assert scope.peering_name("tenant-operator") == "tenant-operator"
    assert scope.storage_prefix("kopf.integraci.io") == "kopf.integraci.io"


def test_the_default_shard_sees_its_own_the_unlabelled_and_the_strays() -> None:
    scope = ShardScope(3, DEFAULT_SHARD)
    assert scope.watch_selector() == f"{SHARD_LABEL} notin (1,2)"
    assert scope.own_selector() == f"{SHARD_LABEL}=0"
    assert scope.place("acme", {SHARD_LABEL: "0"}).owned
    assert scope.place("acme", {}) == Placement(owned=False, assign=assign_shard("acme", 3))
    stray = scope.place("acme", {SHARD_LABEL: "9"})
    assert not stray.owned and stray.assign is None
    assert stray.problem and "names no shard" in stray.problem
    # another shard's tenant (its own watch has it): left alone, nothing to report
    assert scope.place("acme", {SHARD_LABEL: "2"}) == Placement(owned=False)
    assert scope.peering_name("tenant-operator") == "tenant-operator"


def test_another_shard_sees_exactly_its_own() -> None:
    scope = ShardScope(3, "2")
    assert scope.watch_selector() == scope.own_selector() == f"{SHARD_LABEL}=2"
    assert scope.place("acme", {SHARD_LABEL: "2"}).owned
    assert scope.peering_name("tenant-operator") == "tenant-operator-shard-2"
    assert scope.storage_prefix("kopf.integraci.io") == "2.kopf.integraci.io"


def test_a_sharded_replica_without_a_shard_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"needs this replica's shard.*one of 0, 1"):
        Settings(shards=2)


@pytest.mark.parametrize("shard", ["2", "-1", "a", "shard-0", ""])
def test_a_shard_outside_the_fleet_is_refused(shard: str) -> None:
    with pytest.raises(ValidationError):
        Settings(shards=2, shard=shard)


def test_settings_scope() -> None:
    assert Settings(shards=2, shard="1").scope == ShardScope(2, "1")
    assert Settings(shard="0").scope == ShardScope(1, None)


def test_run_refuses_to_start_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT_OPERATOR_SHARDS", "2")
    monkeypatch.delenv("TENANT_OPERATOR_SHARD", raising=False)
    done = subprocess.run(
        [sys.executable, "-m", "tenant_operator.cli", "run"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to start" in done.stderr
    assert "TENANT_OPERATOR_SHARD to one of 0, 1" in done.stderr
    assert "Traceback" not in done.stderr
