"""Data keys for tests that need a tenant's key ring without OpenBao (fixed, in memory).

:func:`ring` is the same ring for the same tenant every time (its material derived from
the tenant id), so a test can write sealed rows and open them again later; it is never a
real tenant's key (those exist only as OpenBao transit data keys).
"""

import hashlib
import os
import uuid

from tenant_operator.domain import envelope
from tenant_operator.domain.envelope import DataKey, KeyRing

#: What the fixed keys are "wrapped" as in tenant_keys (the CHECK wants transit's form).
WRAPPED_PREFIX = "vault:v1:test-key-"


def data_key(tenant_id: uuid.UUID, version: int = 1) -> DataKey:
    material = hashlib.sha256(b"test data key\0" + tenant_id.bytes + bytes([version])).digest()
    return DataKey(version, material)


def ring(tenant_id: uuid.UUID, *versions: int) -> KeyRing:
    """The tenant's fixed test ring holding ``versions`` (default: version 1)."""
    return KeyRing.of(tenant_id, [data_key(tenant_id, v) for v in versions or (1,)])


def random_ring(tenant_id: uuid.UUID) -> KeyRing:
    """A ring of one random key (version 1): for a bench that needs no repeatable keys."""
    return KeyRing.of(tenant_id, [DataKey(1, os.urandom(32))])


def wrapped(tenant_id: uuid.UUID, version: int = 1) -> str:
    return f"{WRAPPED_PREFIX}{tenant_id.hex}-{version}"


def sealed(keys: KeyRing, email: str, name: str) -> tuple[bytes, bytes, bytes]:
    """(email_enc, name_enc, email_bidx) of an account, for tests that write rows in SQL."""
    return (
        keys.seal(email, envelope.ACCOUNT_EMAIL),
        keys.seal(name, envelope.ACCOUNT_NAME),
        keys.blind_index(email),
    )
