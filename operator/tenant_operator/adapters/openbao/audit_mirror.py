"""Audit chains outside PostgreSQL: mirrored heads and digest keys in the platform mount.

After every append the chain's head is mirrored to ``audit/tenants/<chain>`` (the platform
chain's to its own key); the mirror only moves forward, and once a chain is closed
(erasure) it never moves again. Each chain's detail digests are keyed with a random
256-bit HMAC key kept only here (``audit/keys/...``) and destroyed at erasure, so a
redacted detail cannot be recovered by guessing. No tenant policy reaches the platform
mount. Blocking; run in a thread.
"""

import base64
import secrets

import hvac

from tenant_operator.adapters.openbao import objects
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.errors import translated
from tenant_operator.adapters.openbao.paths import AUDIT_TENANTS, PlatformPaths
from tenant_operator.adapters.openbao.routing import write_value
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

#: Set on a mirrored audit head once its chain is closed (the tenant was erased).
CLOSED_FIELD = "closed"


def mirror_audit_head(
    clients: ClientFactory, platform: PlatformPaths, slug: str | None, seq: int, head: str
) -> bool:
    """Store a chain head in the platform mount (no tenant policy reaches it).

    The mirror only moves forward: a head older than the mirrored one is not written (two
    appends racing to mirror, or a chain cut in PostgreSQL, never wind it back).
    """
    current = read_audit_mirror(clients, platform, slug)
    if current is not None and (current[2] or current[0] >= seq):
        return False  # a closed chain's head never moves again
    key = platform.audit_key(slug)
    with translated(f"writing audit head {key}"):
        write_value(
            clients(platform.namespace), platform.audit_mount, key, {"seq": str(seq), "head": head}
        )
    return True


def read_audit_mirror(
    clients: ClientFactory, platform: PlatformPaths, slug: str | None
) -> tuple[int, str, bool] | None:
    """(seq, head, closed) mirrored for a chain; closed: erasure ended it, nothing follows."""
    key = platform.audit_key(slug)
    with translated(f"reading audit head {key}"):
        found = objects.read(clients(platform.namespace), f"{platform.audit_mount}/data/{key}")
    if found is None:
        return None
    data = objects.data_of(objects.data_of(found))
    if "seq" not in data or "head" not in data:
        return None
    return int(data["seq"]), str(data["head"]), data.get(CLOSED_FIELD) == "true"


def read_audit_head(
    clients: ClientFactory, platform: PlatformPaths, slug: str | None
) -> tuple[int, str] | None:
    found = read_audit_mirror(clients, platform, slug)
    return None if found is None else (found[0], found[1])


def close_audit_head(clients: ClientFactory, platform: PlatformPaths, chain: str) -> bool:
    """Mark the chain's mirrored head as its last (erasure): an entry after it is tampering."""
    current = read_audit_mirror(clients, platform, chain)
    if current is None or current[2]:
        return False
    key = platform.audit_key(chain)
    value = {"seq": str(current[0]), "head": current[1], CLOSED_FIELD: "true"}
    with translated(f"closing audit head {key}"):
        write_value(clients(platform.namespace), platform.audit_mount, key, value)
    return True


def mirrored_chains(clients: ClientFactory, platform: PlatformPaths) -> list[str | None]:
    """Every chain with a mirrored head: the tenant chains' names, None for the platform's."""
    client = clients(platform.namespace)
    with translated("listing the mirrored audit heads"):
        try:
            listed = client.adapter.list(f"/v1/{platform.audit_mount}/metadata/{AUDIT_TENANTS}")
        except hvac.exceptions.InvalidPath:
            listed = None
    keys = objects.data_of(listed or {}).get("keys") or []
    chains: list[str | None] = [str(k) for k in sorted(keys) if not str(k).endswith("/")]
    if read_audit_head(clients, platform, None) is not None:
        chains.insert(0, None)
    return chains


def audit_digest_key(
    clients: ClientFactory, platform: PlatformPaths, chain: str | None, *, create: bool = True
) -> bytes | None:
    """The chain's HMAC key for detail digests; ``create``: made (random, 256 bits) if missing.

    Created with check-and-set 0, so two operators racing to create it agree on one key.
    None only without ``create``, when the chain has no key (never had one, or erased).
    """
    key = platform.digest_key(chain)
    client = clients(platform.namespace)
    path = f"/v1/{platform.audit_mount}/data/{key}"
    for _ in range(2):
        with translated(f"reading the audit digest key {key}", redact=True):
            found = objects.read(client, f"{platform.audit_mount}/data/{key}")
        value = objects.data_of(objects.data_of(found)).get("key") if found else None
        if isinstance(value, str) and value:
            return base64.b64decode(value)
        if not create:
            return None
        fresh = base64.b64encode(secrets.token_bytes(32)).decode()
        with translated(f"creating the audit digest key {key}", redact=True):
            try:
                client.adapter.post(path, json={"options": {"cas": 0}, "data": {"key": fresh}})
            except hvac.exceptions.InvalidRequest:  # check-and-set lost: another one won
                continue
        return base64.b64decode(fresh)
    raise PermanentError(
        f"audit digest key {key} could not be created or read", reason=Reason.AUDIT_KEY_UNAVAILABLE
    )


def forget_audit_digest_key(
    clients: ClientFactory, platform: PlatformPaths, chain: str | None
) -> bool:
    """Destroy every version of the chain's digest key (erasure): its digests stay unguessable."""
    key = platform.digest_key(chain)
    with translated(f"destroying the audit digest key {key}"):
        return objects.drop_kv_key(clients(platform.namespace), platform.audit_mount, key)
