"""Translation of hvac/requests exceptions (constructed, not mocked: no hvac call is faked)."""

import pytest
import requests
from hvac import exceptions as hv

from tenant_operator.adapters.openbao.client import BaoClients
from tenant_operator.adapters.openbao.errors import translate
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.settings import Settings

URL = "http://bao:8200/v1/kv/data/connectors/github"


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (requests.ConnectionError("refused"), RetryableError, "OpenBaoUnreachable"),
        (requests.Timeout("slow"), RetryableError, "OpenBaoUnreachable"),
        (
            hv.VaultDown(errors=["Vault is sealed"], method="get", url=URL),
            RetryableError,
            "OpenBaoSealed",
        ),
        (
            hv.Forbidden(errors=["permission denied"], method="post", url=URL),
            RetryableError,
            "OpenBaoPermissionDenied",
        ),
        (
            hv.InvalidPath(errors=["namespace not found"], method="get", url=URL),
            RetryableError,
            "OpenBaoNamespaceMissing",
        ),
        (
            hv.InternalServerError(errors=["boom"], method="get", url=URL),
            RetryableError,
            "OpenBaoError",
        ),
        (
            hv.InvalidRequest(errors=["bad"], method="post", url=URL),
            PermanentError,
            "OpenBaoRejected",
        ),
    ],
)
def test_translation(exc: Exception, kind: type[Exception], reason: str) -> None:
    assert isinstance(exc, hv.VaultError | requests.RequestException)
    error = translate(exc, "writing a thing")
    assert isinstance(error, kind)
    assert error.reason == reason
    assert "writing a thing" in error.message or reason == "OpenBaoNotInitialized"


def test_denied_says_what_to_do() -> None:
    error = translate(hv.Forbidden(errors=["permission denied"], method="get", url=URL), "x")
    assert "operator.hcl" in error.message and "/v1/kv/data/connectors/github" in error.message


def test_redacted_errors_drop_server_text() -> None:
    exc = hv.InvalidRequest(errors=["value hunter2 rejected"], method="post", url=URL)
    assert "hunter2" in translate(exc, "x").message
    assert "hunter2" not in translate(exc, "x", redact=True).message


def test_token_never_in_repr() -> None:
    clients = BaoClients(Settings(), "s.very-secret-token")
    assert "very-secret" not in repr(clients)
    with pytest.raises(PermanentError, match="no OpenBao token"):
        BaoClients(Settings(bao_token=None))
