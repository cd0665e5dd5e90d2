"""``s3://bucket/prefix`` destinations on the real SeaweedFS S3 server: never overwrite,
a missing bucket or read-only credentials a clear error before any export is written."""

import asyncio
import hashlib
import os
import secrets
from pathlib import Path

import pytest

from devenv.s3 import S3Identity, S3Server
from tenant_operator.adapters.storage import S3Destination, open_destination
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

NAME = "export-1-uid.tar"


def env_of(identity: S3Identity) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": identity.access_key, "AWS_SECRET_ACCESS_KEY": identity.secret_key}


def destination(server: S3Server, url: str, identity: S3Identity) -> S3Destination:
    opened = open_destination(url, Settings(s3_endpoint=server.endpoint), env_of(identity))
    assert isinstance(opened, S3Destination)
    return opened


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A new bucket, made with the admin's credentials (the operator never makes one)."""
    name = f"exports-{secrets.token_hex(4)}"
    admin = destination(s3_server, f"s3://{name}", s3_server.admin)
    response = admin._send("PUT")
    assert response.status_code == 200, response.text
    return name


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.tar"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 3))  # more than one chunk
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_put_new_then_exists_and_fetch_round_trip(
    s3_server: S3Server, bucket: str, bundle: Path, tmp_path: Path
) -> None:
    dest = destination(s3_server, f"s3://{bucket}/tenants/acme", s3_server.admin)
    asyncio.run(dest.check_writable())
    assert not asyncio.run(dest.exists(NAME))
    location = asyncio.run(dest.put_new(NAME, bundle))
    assert location == f"s3://{bucket}/tenants/acme/{NAME}"
    assert asyncio.run(dest.exists(NAME))
    fetched = tmp_path / "fetched.tar"
    asyncio.run(dest.fetch(NAME, fetched))
    assert sha256(fetched) == sha256(bundle)


def test_a_second_put_new_is_refused_and_the_first_is_unchanged(
    s3_server: S3Server, bucket: str, bundle: Path, tmp_path: Path
) -> None:
    dest = destination(s3_server, f"s3://{bucket}", s3_server.admin)
    asyncio.run(dest.put_new(NAME, bundle))
    other = tmp_path / "other.tar"
    other.write_bytes(b"not the first export")
    with pytest.raises(PermanentError) as caught:
        asyncio.run(dest.put_new(NAME, other))
    assert caught.value.reason == Reason.DESTINATION_EXISTS
    assert "never overwritten" in str(caught.value)
    fetched = tmp_path / "fetched.tar"
    asyncio.run(dest.fetch(NAME, fetched))
    assert sha256(fetched) == sha256(bundle)


def test_a_missing_bucket_is_refused_and_not_created(s3_server: S3Server, bucket: str) -> None:
    missing = f"{bucket}-typo"
    dest = destination(s3_server, f"s3://{missing}/x", s3_server.admin)
    with pytest.raises(PermanentError) as caught:
        asyncio.run(dest.check_writable())
    assert caught.value.reason == Reason.DESTINATION_UNWRITABLE
    assert "does not exist" in str(caught.value) and missing in str(caught.value)
    assert dest._send("HEAD").status_code == 404  # still missing: nothing was written


def test_read_only_credentials_are_refused_before_any_export(
    s3_server: S3Server, bucket: str
) -> None:
    dest = destination(s3_server, f"s3://{bucket}", s3_server.reader)
    with pytest.raises(PermanentError) as caught:
        asyncio.run(dest.check_writable())
    assert caught.value.reason == Reason.DESTINATION_UNWRITABLE
    assert "AWS_ACCESS_KEY_ID" in str(caught.value)


def test_a_wrong_secret_key_is_refused(s3_server: S3Server, bucket: str) -> None:
    wrong = S3Identity("admin", s3_server.admin.access_key, "0" * 40)
    dest = destination(s3_server, f"s3://{bucket}", wrong)
    with pytest.raises(PermanentError) as caught:
        asyncio.run(dest.check_writable())
    assert caught.value.reason == Reason.DESTINATION_UNWRITABLE
    assert wrong.secret_key not in str(caught.value)


def test_no_credentials_is_a_clear_error_before_any_request() -> None:
    with pytest.raises(PermanentError) as caught:
        open_destination("s3://exports/x", Settings(), {})
    assert caught.value.reason == Reason.DESTINATION_UNWRITABLE
    assert "AWS_ACCESS_KEY_ID" in str(caught.value)
