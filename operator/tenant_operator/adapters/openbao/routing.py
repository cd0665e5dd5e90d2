"""Connector-secret routing: Kubernetes Secret data -> the tenant's KV v2 mount.

A Secret is written to ``connectors/<name>`` only when the SHA-256 of its canonical content
differs from the hash kept in the key's KV ``custom_metadata`` (so re-routing an unchanged
Secret creates no new version). The value is written first and the hash second, with the
version it was written as (``content-version``): a crash in between costs one extra version
on the next run, never a skipped write. The operator's policy can write values and read
metadata, but cannot read any value back, so a value changed behind its back (a newer
version, the current one deleted or destroyed, the metadata edited) is recognised from the
metadata alone and rewritten from the Secret; ``connector_problem`` reports it as drift.
Blocking; run in a thread. Errors carry no values (``redact=True`` on value-bearing calls).
"""

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hvac

from tenant_operator.adapters.openbao import objects
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.errors import translated
from tenant_operator.adapters.openbao.paths import (
    INVITE_KEY,
    INVITE_PREFIX,
    TenantPaths,
)
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

HASH_FIELD = "content-sha256"
#: The KV version the hash was recorded for; any other current version was not ours.
VERSION_FIELD = "content-version"
#: Keys whose values were not UTF-8 and are stored base64-encoded (comma-separated).
BINARY_FIELD = "base64-keys"
#: Kubernetes Secret data keys.
_SECRET_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


@dataclass(frozen=True)
class ConnectorRoute:
    """Where a connector's secret now lives: the opaque reference and its KV version."""

    ref: str
    version: int
    changed: bool


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def content_digest(data: Mapping[str, bytes | str]) -> str:
    """SHA-256 over the canonical form: keys sorted, values as base64 of their bytes."""
    canonical = json.dumps(
        {key: base64.b64encode(_as_bytes(value)).decode() for key, value in data.items()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def kv_payload(data: Mapping[str, bytes | str]) -> tuple[dict[str, str], list[str]]:
    """Values as KV strings (UTF-8 text as is, other bytes base64) and the base64 keys."""
    payload: dict[str, str] = {}
    binary: list[str] = []
    for key, value in data.items():
        if not _SECRET_KEY_RE.fullmatch(key):
            raise PermanentError(
                f"Secret data key {key[:64]!r} is not a valid Kubernetes Secret key",
                reason=Reason.INVALID_SECRET,
            )
        raw = _as_bytes(value)
        try:
            payload[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            payload[key] = base64.b64encode(raw).decode()
            binary.append(key)
    return payload, sorted(binary)


def _current(meta: Mapping[str, Any] | None) -> tuple[int, str | None]:
    """(current version, stored hash) of a KV key's metadata; hash None if not ours.

    The hash counts only for the version it was recorded for, and only while that
    version is live (not soft-deleted, not destroyed). A hash recorded before
    ``content-version`` existed (no such field) counts for the current version: the next
    route adopts it by recording that version, without writing the value again.
    """
    if meta is None:
        return 0, None
    data = objects.data_of(meta)
    version = int(data.get("current_version") or 0)
    live = (data.get("versions") or {}).get(str(version)) or {}
    custom = data.get("custom_metadata") or {}
    if (
        not version
        or live.get("destroyed")
        or live.get("deletion_time")
        or custom.get(VERSION_FIELD, str(version)) != str(version)
    ):
        return version, None
    return version, custom.get(HASH_FIELD)


def _recorded(meta: Mapping[str, Any] | None) -> bool:
    """Whether the metadata names the version its hash was written for."""
    custom = objects.data_of(meta).get("custom_metadata") or {} if meta else {}
    return VERSION_FIELD in custom


def _record(client: hvac.Client, mount: str, key: str, custom: Mapping[str, str]) -> None:
    client.adapter.post(f"/v1/{mount}/metadata/{key}", json={"custom_metadata": dict(custom)})


def connector_problem(meta: Mapping[str, Any] | None, key: str) -> str | None:
    """Drift of one routed connector secret, from its metadata (None: as the operator left it)."""
    if meta is None:
        return f"connector secret {key} is missing"
    if _current(meta)[1] is None:
        return f"connector secret {key} was changed outside the operator"
    return None


def write_value(client: hvac.Client, mount: str, key: str, payload: Mapping[str, str]) -> int:
    answer = client.adapter.post(f"/v1/{mount}/data/{key}", json={"data": dict(payload)})
    return int(objects.data_of(answer).get("version") or 0)


def route_connector(
    clients: ClientFactory, paths: TenantPaths, connector: str, data: Mapping[str, bytes | str]
) -> ConnectorRoute:
    key = paths.connector_key(connector)
    ref = paths.ref(key)
    payload, binary = kv_payload(data)
    digest = content_digest(data)
    client = clients(paths.namespace)
    with translated(f"reading metadata of {ref}"):
        meta = objects.read(client, f"{paths.mount}/metadata/{key}")
    version, stored = _current(meta)
    if stored == digest:
        if not _recorded(meta):  # written before content-version: adopt, no new version
            custom = dict(objects.data_of(meta or {}).get("custom_metadata") or {})
            with translated(f"recording the content version of {ref}"):
                _record(client, paths.mount, key, {**custom, VERSION_FIELD: str(version)})
        return ConnectorRoute(ref=ref, version=version, changed=False)
    with translated(f"writing {ref}", redact=True):
        version = write_value(client, paths.mount, key, payload)
    custom = {HASH_FIELD: digest, VERSION_FIELD: str(version)}
    if binary:
        custom[BINARY_FIELD] = ",".join(binary)[:512]
    with translated(f"recording the content hash of {ref}"):
        _record(client, paths.mount, key, custom)
    return ConnectorRoute(ref=ref, version=version, changed=True)


def drop_connector(clients: ClientFactory, paths: TenantPaths, connector: str) -> bool:
    """Delete every version and the metadata of the connector's secret."""
    key = paths.connector_key(connector)
    with translated(f"deleting {paths.ref(key)}"):
        return objects.drop_kv_key(clients(paths.namespace), paths.mount, key)


def store_invite(
    clients: ClientFactory, paths: TenantPaths, token: str, *, ttl_seconds: int
) -> str:
    """Write the owner's invite token to ``invites/owner``; returns its reference.

    A new invite is for a new owner: every earlier version (a previous owner's invite) is
    destroyed first, by deleting the key's metadata (all versions, permanently). The new
    metadata is set before the value: OpenBao deletes each version ``ttl_seconds`` after
    it was written (``delete_version_after``) and keeps only the newest (``max_versions``).
    """
    ref = paths.ref(INVITE_KEY)
    client = clients(paths.namespace)
    with translated(f"destroying the earlier versions of {ref}"):
        client.adapter.delete(f"/v1/{paths.mount}/metadata/{INVITE_KEY}")
    with translated(f"setting the expiry of {ref}"):
        client.adapter.post(
            f"/v1/{paths.mount}/metadata/{INVITE_KEY}",
            json={"delete_version_after": f"{int(ttl_seconds)}s", "max_versions": 1},
        )
    with translated(f"writing {ref}", redact=True):
        write_value(client, paths.mount, INVITE_KEY, {"token": token})
    return ref


def _account_invite(account: uuid.UUID) -> str:
    return f"{INVITE_PREFIX}/account-{uuid.UUID(str(account))}"  # a uuid: no path tricks


def account_invite_exists(clients: ClientFactory, paths: TenantPaths, account: uuid.UUID) -> bool:
    """Whether an invite is kept for ``account`` (its metadata, never its value, is read)."""
    key = _account_invite(account)
    with translated(f"looking up {paths.ref(key)}"):
        return objects.read(clients(paths.namespace), f"{paths.mount}/metadata/{key}") is not None


def destroy_account_invite(clients: ClientFactory, paths: TenantPaths, account: uuid.UUID) -> bool:
    """Destroy every version of the invite kept for ``account`` (``invites/account-<id>``,
    a data subject's erasure); False when there was none."""
    key = _account_invite(account)
    with translated(f"destroying {paths.ref(key)}"):
        return objects.drop_kv_key(clients(paths.namespace), paths.mount, key)
