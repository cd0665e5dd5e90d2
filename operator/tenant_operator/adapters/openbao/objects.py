"""Primitives for single OpenBao objects: read one, check a mount's type, drop one.

``read`` answers None for an object that is not there; ``drop*`` treat "already gone" as
success and return whether something was removed. The kinds of objects (``kinds``) are built
on these. hvac errors pass through untranslated: the caller wraps a whole step in
``errors.translated`` with a description of what it was doing. Blocking; run in a thread.
"""

from collections.abc import Mapping
from typing import Any

import hvac
from hvac import exceptions as hv

from tenant_operator.adapters.openbao.errors import is_missing_mount, is_missing_namespace
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason


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


def check_type(kind: str, path: str, found: Mapping[str, Any], want: str, version: str) -> None:
    """PermanentError unless the mount ``found`` at ``path`` is of type ``want`` (and version)."""
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


def drop(client: hvac.Client, path: str) -> bool:
    """DELETE ``/v1/<path>`` unless it is already gone; whether something was removed."""
    if read(client, path) is None:
        return False
    client.adapter.delete(f"/v1/{path}")
    return True


def drop_kv_key(client: hvac.Client, mount: str, key: str) -> bool:
    """Delete every version and the metadata of a KV v2 ``key``; False if it did not exist."""
    return drop(client, f"{mount}/metadata/{key}")
