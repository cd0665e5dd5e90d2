"""The session's SeaweedFS S3 server answers on loopback and refuses anonymous requests."""

import urllib.error
import urllib.request

import pytest

from devenv.s3 import S3Server


def test_the_s3_gateway_requires_credentials(s3_server: S3Server) -> None:
    assert s3_server.endpoint.startswith("http://127.0.0.1:")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(s3_server.endpoint + "/", timeout=5)
    assert caught.value.code == 403
