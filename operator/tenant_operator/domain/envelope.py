"""Envelope encryption of personal data: a tenant's data keys, sealed values, blind indexes.

Each tenant has a 256-bit data key (DEK) made by OpenBao transit from the tenant's transit
key (``datakey/plaintext/tenant-<slug>``); PostgreSQL keeps only its wrapped form, the
plaintext lives in memory only. Personal-data columns (:data:`PII_COLUMNS`) hold values
sealed with AES-256-GCM under a key derived from the DEK; lookups by email use a keyed
blind index (HMAC-SHA256 under a second derived key), never the email itself. Destroying
the transit key leaves every wrapped DEK, so every sealed value in every copy (WAL,
backups, dumps), unreadable.

A sealed value is ``0x01 | key version (uint32 BE) | 12-byte nonce | ciphertext+tag``; its
additional data binds the tenant id and the column, so a value copied into another tenant's
row, or into another column, does not open.
"""

import hashlib
import hmac
import os
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

FORMAT = 1
KEY_BYTES = 32
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")

#: The personal-data columns sealed with the tenant's data key ("table.column").
ACCOUNT_EMAIL = "accounts.email"
ACCOUNT_NAME = "accounts.name"
ORGANISATION = "tenants.organisation"
PII_COLUMNS = (ACCOUNT_EMAIL, ACCOUNT_NAME, ORGANISATION)


class Unreadable(PermanentError):
    """A sealed value that does not open: wrong tenant or column, tampered, or a key gone."""

    reason: str = Reason.PERSONAL_DATA_UNREADABLE


def normalise_email(email: str) -> str:
    """The form a blind index is computed over: surrounding space removed, case folded."""
    return email.strip().casefold()


def _derive(material: bytes, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose)
    return hkdf.derive(material)


def _aad(tenant_id: uuid.UUID, column: str) -> bytes:
    return b"integraci/pii/v1\x00" + tenant_id.bytes + column.encode()


@dataclass(frozen=True)
class DataKey:
    """One version of a tenant's data key, unwrapped (``material``: the 32 plaintext bytes)."""

    version: int
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES or not 0 < self.version < 2**32:
            raise ValueError("a data key is 32 bytes with a version in 1..2**32-1")

    @property
    def _cipher(self) -> AESGCM:
        return AESGCM(_derive(self.material, b"integraci/pii/seal/v1"))

    @property
    def _index_key(self) -> bytes:
        return _derive(self.material, b"integraci/pii/blind-index/v1")

    def seal(self, value: str, *, tenant_id: uuid.UUID, column: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        body = self._cipher.encrypt(nonce, value.encode(), _aad(tenant_id, column))
        return _HEADER.pack(FORMAT, self.version) + nonce + body

    def open(self, blob: bytes, *, tenant_id: uuid.UUID, column: str) -> str:
        fmt, version = header(blob)
        if fmt != FORMAT or version != self.version:
            raise Unreadable(f"{column}: sealed with key version {version}, not {self.version}")
        start = _HEADER.size
        nonce, body = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
        try:
            return self._cipher.decrypt(nonce, body, _aad(tenant_id, column)).decode()
        except InvalidTag:
            raise Unreadable(
                f"{column}: the sealed value does not open with this tenant's data key "
                "(another tenant's or column's value, or tampered)"
            ) from None

    def blind_index(self, email: str) -> bytes:
        """HMAC-SHA256 of the normalised email: equal emails, equal index; nothing else."""
        digest = hmac.new(self._index_key, normalise_email(email).encode(), hashlib.sha256)
        return digest.digest()


def header(blob: bytes) -> tuple[int, int]:
    """(format, key version) of a sealed value; Unreadable when it is too short to be one."""
    if len(blob) < _HEADER.size + NONCE_BYTES + 16:
        raise Unreadable("not a sealed value (too short)")
    fmt, version = _HEADER.unpack_from(blob)
    return int(fmt), int(version)


@dataclass(frozen=True)
class KeyRing:
    """A tenant's data keys: ``current`` seals and indexes, every version listed opens."""

    tenant_id: uuid.UUID
    current: DataKey
    others: tuple[DataKey, ...] = ()

    @classmethod
    def of(cls, tenant_id: uuid.UUID, keys: Iterable[DataKey]) -> "KeyRing":
        """The ring of ``keys``, the highest version current."""
        ordered = sorted(keys, key=lambda k: k.version, reverse=True)
        if not ordered:
            raise ValueError("a key ring needs at least one data key")
        return cls(tenant_id, ordered[0], tuple(ordered[1:]))

    @property
    def keys(self) -> tuple[DataKey, ...]:
        return (self.current, *self.others)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(k.version for k in self.keys)

    def seal(self, value: str, column: str) -> bytes:
        return self.current.seal(value, tenant_id=self.tenant_id, column=column)

    def open(self, blob: bytes, column: str) -> str:
        _, version = header(blob)
        for key in (self.current, *self.others):
            if key.version == version:
                return key.open(blob, tenant_id=self.tenant_id, column=column)
        raise Unreadable(
            f"{column}: sealed with data key version {version}, which this tenant no longer "
            f"has (held: {', '.join(map(str, self.versions))}); it was rotated away or shredded"
        )

    def blind_index(self, email: str) -> bytes:
        return self.current.blind_index(email)

    def blind_indexes(self, email: str) -> list[bytes]:
        """The email's blind index under every key held (a lookup that finds rows indexed
        under an older key, before they were re-sealed)."""
        return [key.blind_index(email) for key in self.keys]
