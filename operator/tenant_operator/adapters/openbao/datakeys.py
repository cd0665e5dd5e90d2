"""A tenant's data keys through its transit key: make, unwrap, rotate, trim (blocking).

A data key is made by ``datakey/plaintext/tenant-<slug>``: OpenBao returns it plain (kept
in memory by the caller) and wrapped (``vault:vN:...``, stored in PostgreSQL); ``decrypt``
unwraps it again. Rotation adds a transit key version (new data keys are wrapped by it);
trimming, once no live row needs the old versions, deletes them for good, so a backup's
wrapped data key no longer unwraps. Values never appear in errors (``redact=True``).
"""

import base64
import binascii

from tenant_operator.adapters.openbao import objects
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.errors import translated
from tenant_operator.adapters.openbao.paths import INVITE_KEY, TenantPaths
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

DATA_KEY_BITS = 256


def _plaintext(answer: object, what: str) -> bytes:
    data = objects.data_of(answer if isinstance(answer, dict) else {})
    try:
        return base64.b64decode(str(data["plaintext"]), validate=True)
    except (KeyError, binascii.Error):
        raise PermanentError(
            f"OpenBao answered {what} without a key", reason=Reason.OPENBAO_ERROR
        ) from None


def new_data_key(clients: ClientFactory, paths: TenantPaths) -> tuple[str, bytes]:
    """A new data key of the tenant: (wrapped, plaintext)."""
    client = clients(paths.transit_namespace)
    what = f"making a data key with transit key {paths.transit_key}"
    with translated(what, redact=True):
        answer = client.adapter.post(
            f"/v1/{paths.transit_mount}/datakey/plaintext/{paths.transit_key}",
            json={"bits": DATA_KEY_BITS},
        )
    wrapped = str(objects.data_of(answer if isinstance(answer, dict) else {}).get("ciphertext"))
    if not wrapped.startswith("vault:v"):
        raise PermanentError(
            f"OpenBao answered {what} without a wrapped key", reason=Reason.OPENBAO_ERROR
        )
    return wrapped, _plaintext(answer, what)


def unwrap_data_key(clients: ClientFactory, paths: TenantPaths, wrapped: str) -> bytes:
    """The plaintext of one of the tenant's wrapped data keys."""
    client = clients(paths.transit_namespace)
    what = f"unwrapping a data key with transit key {paths.transit_key}"
    with translated(what, redact=True):
        answer = client.adapter.post(
            f"/v1/{paths.transit_mount}/decrypt/{paths.transit_key}", json={"ciphertext": wrapped}
        )
    return _plaintext(answer, what)


def _latest_version(clients: ClientFactory, paths: TenantPaths) -> int:
    found = objects.read(
        clients(paths.transit_namespace), f"{paths.transit_mount}/keys/{paths.transit_key}"
    )
    if found is None:
        raise PermanentError(
            f"transit key {paths.transit_key} does not exist", reason=Reason.NOT_FOUND
        )
    return int(objects.data_of(found).get("latest_version") or 0)


def tenant_key_version(clients: ClientFactory, paths: TenantPaths) -> int:
    """The latest version of the tenant's transit key."""
    with translated(f"reading transit key {paths.transit_key}"):
        return _latest_version(clients, paths)


def rotate_tenant_key(clients: ClientFactory, paths: TenantPaths) -> int:
    """Add a version to the tenant's transit key; returns the latest version."""
    with translated(f"rotating transit key {paths.transit_key}"):
        clients(paths.transit_namespace).adapter.post(
            f"/v1/{paths.transit_mount}/keys/{paths.transit_key}/rotate"
        )
        return _latest_version(clients, paths)


def trim_tenant_key(clients: ClientFactory, paths: TenantPaths, min_version: int) -> None:
    """Delete the transit key's versions below ``min_version`` for good.

    ``min_decryption_version`` (and ``min_encryption_version``) is raised first: OpenBao
    trims only versions nothing may use any more.
    """
    key = f"/v1/{paths.transit_mount}/keys/{paths.transit_key}"
    client = clients(paths.transit_namespace)
    with translated(f"trimming transit key {paths.transit_key} to v{min_version}"):
        latest = _latest_version(clients, paths)
        if not 1 <= min_version <= latest:
            raise PermanentError(
                f"transit key {paths.transit_key} has versions 1..{latest}, not {min_version}",
                reason=Reason.INVALID_DATA,
            )
        client.adapter.post(
            f"{key}/config",
            json={"min_decryption_version": min_version, "min_encryption_version": min_version},
        )
        client.adapter.post(f"{key}/trim", json={"min_available_version": min_version})


def destroy_invite(clients: ClientFactory, paths: TenantPaths) -> bool:
    """Destroy every version of the owner's invite; False if there was none."""
    with translated(f"destroying {paths.ref(INVITE_KEY)}"):
        return objects.drop_kv_key(clients(paths.namespace), paths.mount, INVITE_KEY)
