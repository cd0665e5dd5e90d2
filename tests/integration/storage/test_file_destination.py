"""``file:///dir`` destinations on a real directory: never overwrite, clear errors."""

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from tenant_operator.adapters.storage import open_destination
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

NAME = "export-1-uid.tar"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.tar"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def test_put_new_then_exists_and_fetch_round_trip(tmp_path: Path, bundle: Path) -> None:
    directory = tmp_path / "exports"
    directory.mkdir()
    destination = open_destination(directory.as_uri(), Settings())
    assert not asyncio.run(destination.exists(NAME))
    location = asyncio.run(destination.put_new(NAME, bundle))
    assert location == (directory / NAME).as_uri()
    assert asyncio.run(destination.exists(NAME))
    fetched = tmp_path / "fetched.tar"
    asyncio.run(destination.fetch(NAME, fetched))
    assert sha256(fetched) == sha256(bundle)
    assert sorted(p.name for p in directory.iterdir()) == [NAME]  # no temp file left


def test_a_second_put_new_is_refused_and_the_first_is_unchanged(
    tmp_path: Path, bundle: Path
) -> None:
    destination = open_destination(tmp_path.as_uri(), Settings())
    asyncio.run(destination.put_new(NAME, bundle))
    first = sha256(tmp_path / NAME)
    other = tmp_path / "other.tar"
    other.write_bytes(b"not the first export")
    with pytest.raises(PermanentError) as caught:
        asyncio.run(destination.put_new(NAME, other))
    assert caught.value.reason == Reason.DESTINATION_EXISTS
    assert "never overwritten" in str(caught.value)
    assert sha256(tmp_path / NAME) == first


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_an_unwritable_directory_is_a_clear_permanent_error(
    tmp_path: Path, bundle: Path, kind: str
) -> None:
    target = tmp_path / "nowhere"
    if kind == "a file":
        target.write_text("")
    destination = open_destination(target.as_uri(), Settings())
    for attempt in (destination.check_writable(), destination.put_new(NAME, bundle)):
        with pytest.raises(PermanentError) as caught:
            asyncio.run(attempt)
        assert caught.value.reason == Reason.DESTINATION_UNWRITABLE
        assert str(target) in str(caught.value)
        assert "make it writable" in str(caught.value)


def test_a_traversing_name_touches_nothing(tmp_path: Path, bundle: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    destination = open_destination(inner.as_uri(), Settings())
    with pytest.raises(PermanentError):
        asyncio.run(destination.put_new("../escaped.tar", bundle))
    assert not (tmp_path / "escaped.tar").exists()
    assert list(inner.iterdir()) == []
