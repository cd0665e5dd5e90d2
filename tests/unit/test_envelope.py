"""The envelope format: sealed values open only for their tenant, column and key version."""

import os
import uuid

import pytest

from tenant_operator.domain.envelope import (
    ACCOUNT_EMAIL,
    ACCOUNT_NAME,
    DataKey,
    KeyRing,
    Unreadable,
)

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER = uuid.UUID("00000000-0000-4000-8000-000000000002")


def ring(*versions: int) -> KeyRing:
    return KeyRing.of(TENANT, [DataKey(v, os.urandom(32)) for v in versions])


def test_seal_opens_round_trip_and_is_randomised() -> None:
    keys = ring(1)
    a, b = keys.seal("Ada Lovelace", ACCOUNT_NAME), keys.seal("Ada Lovelace", ACCOUNT_NAME)
    assert a != b
    assert b"Ada" not in a
    assert keys.open(a, ACCOUNT_NAME) == keys.open(b, ACCOUNT_NAME) == "Ada Lovelace"


def test_a_value_moved_to_another_tenant_or_column_does_not_open() -> None:
    keys = ring(1)
    blob = keys.seal("ada@example.com", ACCOUNT_EMAIL)
    with pytest.raises(Unreadable):
        keys.open(blob, ACCOUNT_NAME)
    elsewhere = KeyRing(OTHER, keys.current)
    with pytest.raises(Unreadable):
        elsewhere.open(blob, ACCOUNT_EMAIL)


@pytest.mark.parametrize("position", [0, 1, 5, 10, 20, -1])
def test_a_flipped_byte_is_refused(position: int) -> None:
    keys = ring(1)
    blob = bytearray(keys.seal("ada@example.com", ACCOUNT_EMAIL))
    blob[position] ^= 0x01
    with pytest.raises(Unreadable):
        keys.open(bytes(blob), ACCOUNT_EMAIL)


def test_rotation_opens_old_versions_until_they_are_dropped() -> None:
    old = ring(1)
    blob = old.seal("Ada", ACCOUNT_NAME)
    both = KeyRing.of(TENANT, [old.current, DataKey(2, os.urandom(32))])
    assert both.current.version == 2
    assert both.open(blob, ACCOUNT_NAME) == "Ada"
    without = KeyRing(TENANT, both.current)
    with pytest.raises(Unreadable, match="no longer"):
        without.open(blob, ACCOUNT_NAME)


def test_blind_index_is_keyed_and_normalised() -> None:
    a, b = ring(1), ring(1)
    assert a.blind_index(" Ada@Example.COM ") == a.blind_index("ada@example.com")
    assert a.blind_index("ada@example.com") != b.blind_index("ada@example.com")
    assert len(a.blind_index("x@y")) == 32


def test_key_material_never_in_repr() -> None:
    key = DataKey(1, b"k" * 32)
    assert "kkkk" not in repr(key)
    with pytest.raises(ValueError):
        DataKey(0, b"k" * 32)
    with pytest.raises(ValueError):
        DataKey(1, b"short")
