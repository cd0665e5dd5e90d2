"""Translate hvac/requests exceptions into RetryableError / PermanentError.

Messages name the operation, HTTP method and path (never the token, a header or a request
body) and say what to do. Server error text is included only where the caller allows it
(``redact=False``); calls that carry secret values pass ``redact=True``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from hvac import exceptions as hv

from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

POLICY_HINT = (
    "apply the operator's policy (operator.hcl, or operator-mount.hcl for the mount layout; "
    "shipped with the chart) to the operator's token or role, and check that the token is "
    "valid and not expired"
)
#: Seconds before retrying after a permission problem (an administrator has to act).
DENIED_RETRY_DELAY = 60.0


def _where(exc: hv.VaultError) -> str:
    path = urlsplit(str(exc.url or "")).path
    return f"{(exc.method or '').upper()} {path}".strip()


def _detail(exc: hv.VaultError, redact: bool) -> str:
    if redact or not exc.errors:
        return ""
    text = "; ".join(" ".join(str(e).split()) for e in exc.errors)[:300]
    return f" (OpenBao said: {text})"


def is_missing_mount(exc: hv.VaultError) -> bool:
    """A 400 that means 'no mount here' (OpenBao answers 400, not 404, on sys/mounts/x)."""
    text = " ".join(str(e) for e in exc.errors or ()).lower()
    return "no secret engine mount" in text or "no auth engine" in text


def is_missing_namespace(exc: hv.VaultError) -> bool:
    return any("namespace not found" in str(e).lower() for e in exc.errors or ())


def _ssl_reason(exc: requests.exceptions.SSLError) -> str:
    """The verification failure named by OpenSSL (no URL, no response body)."""
    text = str(exc)
    for marker in ("certificate verify failed", "hostname mismatch", "wrong version number"):
        if marker in text:
            start = text.index(marker)
            return text[start:].split(" (_ssl")[0].split("'")[0].split(")")[0]
    return "TLS handshake failed"


def translate(
    exc: hv.VaultError | requests.RequestException, action: str, *, redact: bool = False
) -> OperatorError:
    """The operator error for ``exc`` raised while ``action`` (e.g. 'writing policy x')."""
    if isinstance(exc, requests.exceptions.SSLError):
        return RetryableError(
            f"OpenBao's TLS certificate does not verify while {action} ({_ssl_reason(exc)}): "
            "set BAO_CACERT to the file of the CA that signed it (the chart: "
            "openbao.caSecret), or fix OpenBao's certificate; retrying",
            reason=Reason.OPENBAO_UNREACHABLE,
            delay=DENIED_RETRY_DELAY,
        )
    if isinstance(exc, requests.RequestException):
        return RetryableError(
            f"OpenBao is unreachable while {action} ({type(exc).__name__}): check that it runs "
            "and that bao_addr points at it; retrying",
            reason=Reason.OPENBAO_UNREACHABLE,
        )
    where, detail = _where(exc), _detail(exc, redact)
    if isinstance(exc, hv.VaultDown):
        return RetryableError(
            f"OpenBao is sealed or not active while {action} ({where}): unseal it (or wait for "
            "a standby to take over); retrying",
            reason=Reason.OPENBAO_SEALED,
        )
    if isinstance(exc, hv.VaultNotInitialized):
        return RetryableError(
            f"OpenBao is not initialised ({where}): run `bao operator init`; retrying",
            reason=Reason.OPENBAO_NOT_INITIALIZED,
        )
    if isinstance(exc, hv.Forbidden | hv.Unauthorized):
        return RetryableError(
            f"the operator's OpenBao token may not do this while {action} ({where}): {POLICY_HINT}",
            reason=Reason.OPENBAO_PERMISSION_DENIED,
            delay=DENIED_RETRY_DELAY,
        )
    if isinstance(exc, hv.InvalidPath) and is_missing_namespace(exc):
        return RetryableError(
            f"an OpenBao namespace is missing while {action} ({where}): the tenant's secrets "
            "are provisioned first, and bao_namespace must name an existing namespace "
            "(OpenBao >= 2.6.3 with namespaces; use the mount layout on Vault OSS); retrying",
            reason=Reason.OPENBAO_NAMESPACE_MISSING,
        )
    if isinstance(exc, hv.RateLimitExceeded | hv.InternalServerError | hv.BadGateway):
        return RetryableError(
            f"OpenBao failed while {action} ({where}){detail}; retrying",
            reason=Reason.OPENBAO_ERROR,
        )
    if isinstance(exc, hv.InvalidRequest | hv.InvalidPath | hv.UnsupportedOperation):
        return PermanentError(
            f"OpenBao rejected {action} ({where}){detail}: check the OpenBao version "
            "(>= 2.6.3) and the operator's settings",
            reason=Reason.OPENBAO_REJECTED,
        )
    return RetryableError(
        f"OpenBao answered unexpectedly while {action} ({where}){detail}; retrying",
        reason=Reason.OPENBAO_ERROR,
    )


@contextmanager
def translated(action: str, *, redact: bool = False) -> Iterator[None]:
    """Raise hvac/requests errors inside the block as the operator's own errors.

    The original exception is not chained (``from None``): its text could carry a response
    body, and a traceback printer would show it.
    """
    try:
        yield
    except (hv.VaultError, requests.RequestException) as exc:
        raise translate(exc, action, redact=redact) from None
