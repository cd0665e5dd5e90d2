"""Read-compare-write primitives for single OpenBao objects (blocking; run in a thread).

Every ``ensure_*`` reads the object, compares it with what is wanted and writes only when it
differs, returning whether it wrote. Every ``drop_*`` treats "already gone" as success and
returns whether something was removed. hvac errors pass through untranslated: the caller
wraps a whole step in ``errors.translated`` with a description of what it was doing.
"""

import time
from collections.abc import Mapping
from typing import Any

import hvac
from hvac import exceptions as hv

from tenant_operator.adapters.openbao.errors import is_missing_mount, is_missing_namespace
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

#: Seconds between polls while OpenBao deletes a namespace in the background.
NAMESPACE_POLL = 0.05


def read(client: hvac.Client, path: str) -> dict[str, Any] | None:
    """GET ``/v1/<path>``: the JSON answer, or None on 404 (or OpenBao's 400 'no mount')."""
    try:
        answer = client.adapter.get(f"/v1/{path}")
    except hv.InvalidPath as exc:
        if is_missing_namespace(exc):
            raise
        return None
    except hv.InvalidRequest as exc:
        if is_missing_mount(exc):
            return None
        raise
    return answer if isinstance(answer, dict) else {}


def data_of(answer: Mapping[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    return data if isinstance(data, dict) else dict(answer)


def ensure_namespace(parent: hvac.Client, name: str) -> bool:
    """Create child namespace ``name`` of the client's namespace unless it exists."""
    found = read(parent, f"sys/namespaces/{name}")
    if found is not None:
        if data_of(found).get("tainted"):
            raise RetryableError(
                f"OpenBao namespace {name!r} is still being deleted; retrying",
                reason=Reason.OPENBAO_NAMESPACE_DELETING,
                delay=2.0,
            )
        return False
    parent.adapter.post(f"/v1/sys/namespaces/{name}")
    return True


def drop_namespace(parent: hvac.Client, name: str, *, timeout: float) -> bool:
    """Delete child namespace ``name`` and wait until OpenBao has finished deleting it."""
    if read(parent, f"sys/namespaces/{name}") is None:
        return False
    parent.adapter.delete(f"/v1/sys/namespaces/{name}")
    deadline = time.monotonic() + timeout
    while read(parent, f"sys/namespaces/{name}") is not None:
        if time.monotonic() > deadline:
            raise RetryableError(
                f"OpenBao is still deleting namespace {name!r}; retrying",
                reason=Reason.OPENBAO_NAMESPACE_DELETING,
                delay=5.0,
            )
        time.sleep(NAMESPACE_POLL)
    return True


def _check_type(kind: str, path: str, found: Mapping[str, Any], want: str, version: str) -> None:
    data = data_of(found)
    have_version = str((data.get("options") or {}).get("version", ""))
    if data.get("type") != want or (version and have_version != version):
        raise PermanentError(
            f"OpenBao {kind} {path}/ exists but is {data.get('type')!r}"
            f"{' v' + have_version if have_version else ''}, not {want!r}"
            f"{' v' + version if version else ''}: move it away or choose another mount "
            "name in the operator's settings",
            reason=Reason.OPENBAO_MOUNT_CONFLICT,
        )


def ensure_mount(client: hvac.Client, path: str, kind: str, *, version: str = "") -> bool:
    """Enable secrets engine ``kind`` at ``path`` unless it is there (type checked)."""
    found = read(client, f"sys/mounts/{path}")
    if found is not None:
        _check_type("mount", path, found, kind, version)
        return False
    body: dict[str, Any] = {"type": kind}
    if version:
        body["options"] = {"version": version}
    client.adapter.post(f"/v1/sys/mounts/{path}", json=body)
    return True


def mount_exists(client: hvac.Client, path: str) -> bool:
    return read(client, f"sys/mounts/{path}") is not None


def drop_mount(client: hvac.Client, path: str) -> bool:
    if not mount_exists(client, path):
        return False
    client.adapter.delete(f"/v1/sys/mounts/{path}")
    return True


def ensure_auth(client: hvac.Client, path: str, kind: str) -> bool:
    """Enable auth method ``kind`` at ``path`` unless it is there (type checked)."""
    found = read(client, f"sys/auth/{path}")
    if found is not None:
        _check_type("auth mount", path, found, kind, "")
        return False
    client.adapter.post(f"/v1/sys/auth/{path}", json={"type": kind})
    return True


def read_policy(client: hvac.Client, name: str) -> str | None:
    found = read(client, f"sys/policies/acl/{name}")
    return None if found is None else str(data_of(found).get("policy", ""))


def ensure_policy(client: hvac.Client, name: str, text: str) -> bool:
    if read_policy(client, name) == text:
        return False
    client.adapter.put(f"/v1/sys/policies/acl/{name}", json={"policy": text})
    return True


def drop_policy(client: hvac.Client, name: str) -> bool:
    if read_policy(client, name) is None:
        return False
    client.adapter.delete(f"/v1/sys/policies/acl/{name}")
    return True


def _normalised(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    return value


def role_differences(found: Mapping[str, Any] | None, want: Mapping[str, Any]) -> list[str]:
    """Names of the fields of a role that differ from ``want`` (['role'] if it is missing)."""
    if found is None:
        return ["role"]
    data = data_of(found)
    return [k for k, v in want.items() if _normalised(data.get(k)) != _normalised(v)]


def ensure_role(client: hvac.Client, mount: str, name: str, want: Mapping[str, Any]) -> bool:
    path = f"auth/{mount}/role/{name}"
    if not role_differences(read(client, path), want):
        return False
    client.adapter.post(f"/v1/{path}", json=dict(want))
    return True


def drop_role(client: hvac.Client, mount: str, name: str) -> bool:
    path = f"auth/{mount}/role/{name}"
    if read(client, path) is None:
        return False
    client.adapter.delete(f"/v1/{path}")
    return True


def read_transit_key(client: hvac.Client, mount: str, name: str) -> dict[str, Any] | None:
    found = read(client, f"{mount}/keys/{name}")
    return None if found is None else data_of(found)


def ensure_transit_key(client: hvac.Client, mount: str, name: str) -> list[str]:
    """A deletable aes256-gcm96 key ``name``; returns what changed."""
    changed = []
    key = read_transit_key(client, mount, name)
    if key is None:
        client.adapter.post(f"/v1/{mount}/keys/{name}", json={"type": "aes256-gcm96"})
        changed.append(f"transit key {name} created")
    if key is None or not key.get("deletion_allowed"):
        client.adapter.post(f"/v1/{mount}/keys/{name}/config", json={"deletion_allowed": True})
        changed.append(f"transit key {name} made deletable")
    return changed


def drop_transit_key(client: hvac.Client, mount: str, name: str) -> bool:
    """Destroy transit key ``name`` (crypto-shredding)."""
    key = read_transit_key(client, mount, name)
    if key is None:
        return False
    if not key.get("deletion_allowed"):
        client.adapter.post(f"/v1/{mount}/keys/{name}/config", json={"deletion_allowed": True})
    client.adapter.delete(f"/v1/{mount}/keys/{name}")
    return True


def drop_kv_key(client: hvac.Client, mount: str, key: str) -> bool:
    """Delete every version and the metadata of a KV v2 ``key``; False if it did not exist."""
    if read(client, f"{mount}/metadata/{key}") is None:
        return False
    client.adapter.delete(f"/v1/{mount}/metadata/{key}")
    return True
