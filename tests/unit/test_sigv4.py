"""SigV4 for S3 against AWS's published example (the S3 API reference, "Signature
Calculations for the Authorization Header", GET Object); the real server checks the rest
(tests/integration/storage/test_s3_destination.py)."""

from datetime import UTC, datetime

from tenant_operator.adapters.storage.sigv4 import EMPTY_SHA256, Credentials, sign

EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def test_the_aws_get_object_example_signs_as_published() -> None:
    headers = sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        region="us-east-1",
        credentials=EXAMPLE,
        payload_sha256=EMPTY_SHA256,
        at=datetime(2013, 5, 24, tzinfo=UTC),
        headers={"Range": "bytes=0-9"},
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["x-amz-date"] == "20130524T000000Z"


def test_the_secret_key_is_not_in_the_repr() -> None:
    assert EXAMPLE.secret_key not in repr(EXAMPLE)
