"""Which operator shard owns a tenant: the ``integraci.io/shard`` label, pure rules.

A fleet split over ``shards`` operator Deployments names them ``"0"`` .. ``"N-1"``. A
tenant belongs to the shard its label names. A tenant without the label goes to the
default shard ``"0"``, which assigns it once, deterministically (a stable hash of the
slug, so every replica and every restart agrees) and never moves it afterwards; a label
naming no shard of this fleet is reported, never re-assigned (a move is a person's
decision, see :data:`MOVE_ANNOTATION`).

Each shard's watch is filtered by the API server (a label selector), so a shard never
receives, holds or writes the tenants of another.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

SHARD_LABEL = "integraci.io/shard"
#: Set to the new shard's name in the same request that changes the label: the chart's
#: admission policy refuses any other change or removal of the label.
MOVE_ANNOTATION = "integraci.io/move-to-shard"
DEFAULT_SHARD = "0"


def shard_names(shards: int) -> tuple[str, ...]:
    """The shards of a fleet of ``shards``: "0", "1", ... (valid label values)."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    return tuple(str(index) for index in range(shards))


def assign_shard(slug: str, shards: int) -> str:
    """The shard an unlabelled tenant is given: stable across processes and versions
    (SHA-256 of the slug, not Python's salted ``hash``)."""
    digest = hashlib.sha256(slug.encode()).digest()
    return shard_names(shards)[int.from_bytes(digest[:8], "big") % shards]


@dataclass(frozen=True)
class Placement:
    """What this shard does with a tenant it was shown."""

    owned: bool
    #: Label this shard sets (an unlabelled tenant seen by the default shard).
    assign: str | None = None
    #: Why this shard leaves the tenant alone (its label names no shard of this fleet).
    problem: str | None = None


@dataclass(frozen=True)
class ShardScope:
    """One operator's place in the fleet: ``shard`` None means unsharded (owns all)."""

    shards: int = 1
    shard: str | None = None

    @property
    def sharded(self) -> bool:
        return self.shards > 1

    @property
    def is_default(self) -> bool:
        return not self.sharded or self.shard == DEFAULT_SHARD

    def watch_selector(self) -> str | None:
        """The label selector of this shard's Tenant watch (applied by the API server).

        The default shard also sees unlabelled tenants (to assign them) and those whose
        label names no shard (to report them and keep their finalizer); the others see
        exactly their own.
        """
        if not self.sharded:
            return None
        if self.is_default:
            others = [name for name in shard_names(self.shards) if name != DEFAULT_SHARD]
            return f"{SHARD_LABEL} notin ({','.join(others)})"
        return f"{SHARD_LABEL}={self.shard}"

    def own_selector(self) -> str | None:
        """The label selector of the tenants this shard owns (scanner, fan-out)."""
        return f"{SHARD_LABEL}={self.shard}" if self.sharded else None

    def peering_name(self, base: str) -> str:
        """The default shard keeps the unsharded name, so an unsharded operator and the
        default shard (the one that assigns) never work at once while shards are introduced."""
        return base if self.is_default else f"{base}-shard-{self.shard}"

    def storage_prefix(self, base: str) -> str:
        """kopf's annotation prefix: one per shard, so the SubProcessors every shard
        handles carry each shard's own progress (kopf ignores other shards' marked ones)."""
        return f"{self.shard}.{base}" if self.sharded else base

    def place(self, slug: str, labels: Mapping[str, str]) -> Placement:
        if not self.sharded:
            return Placement(owned=True)
        label = labels.get(SHARD_LABEL)
        if label == self.shard:
            return Placement(owned=True)
        if label is None:
            return Placement(owned=False, assign=assign_shard(slug, self.shards))
        if label in shard_names(self.shards):
            return Placement(owned=False)  # another shard's (its watch has it)
        return Placement(
            owned=False,
            problem=f"label {SHARD_LABEL}={label!r} names no shard of this fleet "
            f"(shards: {', '.join(shard_names(self.shards))}); no operator serves it until "
            f"it is moved ({MOVE_ANNOTATION})",
        )
