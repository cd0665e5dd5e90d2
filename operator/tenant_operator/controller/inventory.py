"""What the operator knows of the cluster between events, kept by itself (no kopf index).

kopf holds every object of every resource until all its indexes are complete, while its
worker limit caps how many objects are being handled at once. With more objects than
workers, the first objects wait for the index and the rest wait for a worker: a start or
restart with a large fleet never handles anything. So the operator keeps what it needs:

- the sub-processor register, listed once at startup (before any handler runs, so the
  first reconcile already sees all of it) and kept current by the SubProcessor handler;
- which tenants name which connector Secrets, filled as tenants are handled, so a Secret
  change nudges exactly those tenants;
- the resourceVersion of every Secret in the allowed namespaces, listed at startup and kept
  current by the Secret watch, so a resumed tenant can tell whether a Secret it routed
  changed while the operator was down;
- the owner of each of those Secrets (its ``integraci.io/tenant`` label), so a Secret change
  nudges only the tenants that own it (now or before the change): a tenant naming a Secret
  it does not own learns nothing from it, not even that it changed.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from tenant_operator.api.subprocessor import SubProcessor
from tenant_operator.domain.subprocessors import RegisterEntry

SecretKey = tuple[str, str]  # (namespace, name)


class SecretStamp(Protocol):
    @property
    def version(self) -> str: ...
    @property
    def owner(self) -> str | None: ...


def register_entry(body: Mapping[str, Any]) -> RegisterEntry | None:
    """The register entry of a SubProcessor body (None when the object is invalid)."""
    try:
        sub = SubProcessor.model_validate(dict(body))
    except ValidationError:
        return None
    created = sub.metadata.creation_timestamp
    announced = datetime.fromisoformat(created) if created else datetime.now(UTC)
    return RegisterEntry(sub.metadata.name, announced, sub.spec.notice_days)


def secret_refs(spec: Mapping[str, Any]) -> frozenset[SecretKey]:
    """The (namespace, name) of every connector Secret a Tenant spec names."""
    return frozenset(
        (str(c["secretRef"]["namespace"]), str(c["secretRef"]["name"]))
        for c in spec.get("connectors") or []
        if isinstance(c, Mapping)
        and isinstance(c.get("secretRef"), Mapping)
        and c["secretRef"].get("namespace")
        and c["secretRef"].get("name")
    )


@dataclass
class Inventory:
    register: dict[str, RegisterEntry] = field(default_factory=dict)
    secret_versions: dict[SecretKey, str] = field(default_factory=dict)
    secret_owners: dict[SecretKey, str] = field(default_factory=dict)
    _refs_of: dict[str, frozenset[SecretKey]] = field(default_factory=dict)
    _naming: dict[SecretKey, set[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, subprocessors: Iterable[Mapping[str, Any]], secrets: Mapping[SecretKey, SecretStamp]
    ) -> "Inventory":
        entries = (register_entry(body) for body in subprocessors)
        return cls(
            register={e.name: e for e in entries if e is not None},
            secret_versions={key: stamp.version for key, stamp in secrets.items()},
            secret_owners={key: s.owner for key, s in secrets.items() if s.owner is not None},
        )

    def entries(self) -> list[RegisterEntry]:
        return list(self.register.values())

    def subprocessor_changed(self, body: Mapping[str, Any], *, deleted: bool) -> None:
        name = str(body.get("metadata", {}).get("name"))
        entry = None if deleted else register_entry(body)
        if entry is None:
            self.register.pop(name, None)
        else:
            self.register[entry.name] = entry

    def tenant_seen(self, slug: str, spec: Mapping[str, Any]) -> None:
        """Remember which Secrets ``slug`` names (replacing what it named before)."""
        refs = secret_refs(spec)
        for key in self._refs_of.get(slug, frozenset()) - refs:
            self._unname(key, slug)
        for key in refs:
            self._naming.setdefault(key, set()).add(slug)
        if refs:
            self._refs_of[slug] = refs
        else:
            self._refs_of.pop(slug, None)

    def tenant_gone(self, slug: str) -> None:
        for key in self._refs_of.pop(slug, frozenset()):
            self._unname(key, slug)

    def tenants_naming(self, namespace: str, name: str) -> list[str]:
        return sorted(self._naming.get((namespace, name), ()))

    def secret_seen(
        self, namespace: str, name: str, version: str | None, owner: str | None
    ) -> list[str]:
        """Record a Secret's resourceVersion and owner (``version`` None: it was deleted).

        The tenants to reconcile: none when the version is the one known, else those naming
        the Secret that own it now or owned it before (a tenant naming another's Secret is
        never told of it).
        """
        key = (namespace, name)
        before = self.secret_owners.pop(key, None)
        if version is None:
            changed = self.secret_versions.pop(key, None) is not None
        else:
            changed = self.secret_versions.get(key) != version
            self.secret_versions[key] = version
            if owner is not None:
                self.secret_owners[key] = owner
        owners = {before, owner} if changed else set()
        return sorted(slug for slug in self._naming.get(key, ()) if slug in owners)

    def _unname(self, key: SecretKey, slug: str) -> None:
        naming = self._naming.get(key)
        if naming is not None:
            naming.discard(slug)
            if not naming:
                del self._naming[key]
