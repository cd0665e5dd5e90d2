"""Export bundles signed by OpenBao transit: the operator's ed25519 key, and its public keys.

The key (``domain.bundle.SIGNING_KEY`` in the platform transit mount) is a platform object
(``desired.platform_objects``): made at start, never deletable. Signatures are transit's
``vault:v<N>:<base64>``; the public keys are returned as PEM, so a bundle verifies offline.
Blocking; run in a thread.
"""

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tenant_operator.adapters.openbao import objects
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.errors import translated
from tenant_operator.adapters.openbao.paths import PlatformPaths
from tenant_operator.domain.bundle import SIGNING_KEY
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason


def sign(
    clients: ClientFactory, platform: PlatformPaths, data: bytes, version: int | None = None
) -> str:
    """Transit's signature of ``data`` with the signing key (``version``: that one)."""
    body: dict[str, object] = {"input": base64.b64encode(data).decode()}
    if version is not None:
        body["key_version"] = version
    with translated(f"signing an export manifest with {SIGNING_KEY}"):
        answer = clients(platform.namespace).adapter.post(
            f"/v1/{platform.transit_mount}/sign/{SIGNING_KEY}", json=body
        )
    return str(answer["data"]["signature"])


def public_keys(clients: ClientFactory, platform: PlatformPaths) -> dict[int, str]:
    """Every version of the signing key's public key, as PEM."""
    path = f"{platform.transit_mount}/keys/{SIGNING_KEY}"
    with translated(f"reading the public keys of {SIGNING_KEY}"):
        found = objects.read(clients(platform.namespace), path)
    if found is None:
        raise PermanentError(
            f"OpenBao has no transit key {path}: the operator creates it at start",
            reason=Reason.OPENBAO_NOT_CONFIGURED,
        )
    keys = objects.data_of(found).get("keys") or {}
    return {int(v): _pem(str(k["public_key"])) for v, k in keys.items()}


def _pem(raw: str) -> str:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw))
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
