"""Export destination URLs and object names are refused before any I/O."""

from pathlib import PurePosixPath

import pytest

from tenant_operator.adapters.storage import (
    FileDestination,
    S3Location,
    check_name,
    open_destination,
    parse_s3,
)
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

SETTINGS = Settings()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://exports", S3Location("exports", "")),
        ("s3://exports/", S3Location("exports", "")),
        ("s3://exports/a/b", S3Location("exports", "a/b/")),
        ("s3://my.bucket-1/tenants//x/", S3Location("my.bucket-1", "tenants/x/")),
    ],
)
def test_s3_urls_parse(url: str, expected: S3Location) -> None:
    assert parse_s3(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/dir",
        "http://example/x",
        "exports",
        "s3://",
        "s3:///prefix",
        "s3://UPPER/x",
        "s3://a/x",
        "s3://bucket/../other",
        "s3://bucket/a/%2e%2e/b",
        "s3://bucket/x?versionId=1",
        "file://host/dir",
        "file://relative",
        "file:///",
        "file:///srv/../etc",
        "file:///srv/%2e%2e/etc",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(PermanentError) as caught:
        open_destination(url, SETTINGS)
    assert caught.value.reason == Reason.INVALID_DESTINATION
    assert "file:///absolute/dir or s3://bucket/prefix" in str(caught.value)


def test_a_file_url_names_its_directory() -> None:
    destination = open_destination("file:///srv/exports", SETTINGS)
    assert isinstance(destination, FileDestination)
    assert destination.location("a.tar") == "file:///srv/exports/a.tar"


@pytest.mark.parametrize(
    "name", ["", "../x.tar", "a/b.tar", ".hidden", "..", "a\x00.tar", "a b.tar", "x" * 300]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(PermanentError):
        check_name(name)
    with pytest.raises(PermanentError):
        FileDestination(PurePosixPath("/srv")).location(name or "/")


def test_a_request_bundle_name_is_accepted() -> None:
    name = "export-1-0b6c2d7e-1f2a-4b3c-9d8e-7f6a5b4c3d2e.tar"
    assert check_name(name) == name
