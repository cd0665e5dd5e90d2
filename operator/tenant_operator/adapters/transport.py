"""Encryption in transit (DPA s.4): whether the operator's connections verify their server.

PostgreSQL: the DSN's ``sslmode`` (or ``PGSSLMODE``, which libpq reads when the DSN names
none) must be ``verify-ca`` or ``verify-full``: anything lower either sends in plaintext or
encrypts to whoever answers. OpenBao: the address must be ``https://`` (its certificate is
verified against ``BAO_CACERT``, or the system's CAs). :func:`insecure_connections` says
what falls short and how to fix it; ``run`` refuses to start on it unless
``TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT`` is set.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

from psycopg.conninfo import conninfo_to_dict

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

VERIFYING = ("verify-ca", "verify-full")
ALLOW = "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT=true"


def sslmode(dsn: str, environ: Mapping[str, str]) -> str:
    """The sslmode libpq uses for ``dsn``: its own, else ``PGSSLMODE``, else ``prefer``."""
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 (psycopg raises ProgrammingError; the DSN is reported)
        raise PermanentError(
            "DATABASE_URL is not a libpq connection string or URI",
            reason=Reason.INVALID_SETTINGS,
        ) from None
    return str(params.get("sslmode") or environ.get("PGSSLMODE") or "prefer")


def insecure_connections(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Each connection that does not verify its server ("postgres", "openbao"): why and how
    to fix it (never a secret: the DSN's password is not quoted)."""
    found: dict[str, str] = {}
    mode = sslmode(settings.database_url.get_secret_value(), environ)
    if mode not in VERIFYING:
        found["postgres"] = (
            f"PostgreSQL sslmode is {mode!r}, which does not verify the server: add "
            "sslmode=verify-full and sslrootcert=<the server's CA file> to DATABASE_URL "
            "(the chart: database.caSecret)"
        )
    scheme = urlsplit(settings.bao_addr).scheme
    if scheme != "https":
        found["openbao"] = (
            f"OpenBao address {settings.bao_addr} is {scheme or 'not a URL'}, not https: serve "
            "OpenBao on a TLS listener, set BAO_ADDR to its https:// address and BAO_CACERT to "
            "its CA file (the chart: openbao.address and openbao.caSecret)"
        )
    return found


def require_secure(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The insecure connections, if the settings allow them; PermanentError otherwise."""
    found = insecure_connections(settings, environ)
    if found and not settings.allow_insecure_transport:
        raise PermanentError(
            "refusing to connect without verified TLS: "
            + "; ".join(found.values())
            + f" (for local development only, {ALLOW} allows it)",
            reason=Reason.INSECURE_TRANSPORT,
        )
    return found
