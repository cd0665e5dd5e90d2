"""Encryption in transit: which DSNs and OpenBao addresses `run` refuses, and the message."""

import pytest
from pydantic import SecretStr

from tenant_operator.adapters.transport import insecure_connections, require_secure, sslmode
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

SECURE_DSN = "postgresql://op:pw@db:5432/integraci?sslmode=verify-full&sslrootcert=/ca.crt"


def settings(dsn: str = SECURE_DSN, addr: str = "https://bao:8200", **kw: object) -> Settings:
    return Settings(database_url=SecretStr(dsn), bao_addr=addr, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dsn", "environ", "mode"),
    [
        ("postgresql://db/x", {}, "prefer"),  # libpq's default: encrypts to anyone, or not
        ("postgresql://db/x?sslmode=require", {}, "require"),
        ("host=db dbname=x sslmode=verify-ca", {}, "verify-ca"),
        ("postgresql://db/x", {"PGSSLMODE": "verify-full"}, "verify-full"),
        ("postgresql://db/x?sslmode=disable", {"PGSSLMODE": "verify-full"}, "disable"),
    ],
)
def test_the_sslmode_is_the_dsns_then_pgsslmode_then_prefer(
    dsn: str, environ: dict[str, str], mode: str
) -> None:
    assert sslmode(dsn, environ) == mode


def test_verified_tls_to_both_is_accepted() -> None:
    assert insecure_connections(settings(), {}) == {}
    assert require_secure(settings(), {}) == {}


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_a_dsn_below_verify_ca_is_refused_saying_how_to_fix_it(mode: str) -> None:
    dsn = f"postgresql://op:hunter2@db/x?sslmode={mode}"
    with pytest.raises(PermanentError) as caught:
        require_secure(settings(dsn), {})
    message = str(caught.value)
    assert caught.value.reason == Reason.INSECURE_TRANSPORT
    assert f"sslmode is {mode!r}" in message and "sslmode=verify-full" in message
    assert "hunter2" not in message  # the DSN's password is never quoted
    assert "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT" in message


def test_a_plaintext_openbao_address_is_refused_saying_how_to_fix_it() -> None:
    with pytest.raises(PermanentError) as caught:
        require_secure(settings(addr="http://bao:8200"), {})
    message = str(caught.value)
    assert "http://bao:8200" in message and "BAO_CACERT" in message and "https://" in message


def test_allowed_insecure_transport_is_named_not_refused() -> None:
    allowed = settings("postgresql://db/x", "http://bao:8200", allow_insecure_transport=True)
    assert sorted(require_secure(allowed, {})) == ["openbao", "postgres"]


def test_a_dsn_that_does_not_parse_is_a_clear_error() -> None:
    with pytest.raises(PermanentError, match="not a libpq connection string"):
        sslmode("host='unterminated", {})
