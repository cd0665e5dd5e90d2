"""``tenant-operator bootstrap-roles``: what a DBA runs once per database, as a superuser.

Runs :func:`~tenant_operator.adapters.postgres.roles.bootstrap_roles` with the DBA's DSN,
prints what it created and the shape of the operator's DSN to put into the operator's
Secret. Never prints a password or the DBA's DSN (only its ``host:port``).

Exit codes: 0 done (also when everything already existed), 2 it failed.
"""

import sys
from typing import TextIO

from psycopg.conninfo import conninfo_to_dict

from tenant_operator.adapters.postgres.errors import server_label
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.domain.errors import OperatorError
from tenant_operator.settings import Settings

#: The environment variable the operator role's password is read from (never echoed).
PASSWORD_ENV = "TENANT_OPERATOR_OPERATOR_PASSWORD"

EXIT_OK, EXIT_ERROR = 0, 2


def operator_dsn_shape(admin_dsn: str, settings: Settings) -> str:
    """The operator's DSN with the admin DSN's server and database, password elided."""
    params = conninfo_to_dict(admin_dsn)
    host, port = str(params.get("host") or "localhost"), str(params.get("port") or 5432)
    query = [f"{key}={params[key]}" for key in ("sslmode", "sslrootcert") if params.get(key)]
    if host.startswith("/"):  # a Unix socket directory
        query.insert(0, f"host={host}")
        host = ""
    else:
        host = f"{host}:{port}"
    tail = "?" + "&".join(query) if query else ""
    dbname = params.get("dbname") or params.get("user") or "postgres"
    return f"postgresql://{settings.operator_role}:<password>@{host}/{dbname}{tail}"


async def bootstrap_command(
    admin_dsn: str,
    settings: Settings,
    operator_password: str | None,
    *,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    server = server_label(admin_dsn)
    try:
        created = await bootstrap_roles(admin_dsn, settings, operator_password or None)
    except OperatorError as exc:
        # A one-shot command does not retry, whatever the operator would do.
        print(f"bootstrap-roles: failed: {exc.message.removesuffix('; will retry')}", file=out)
        return EXIT_ERROR
    print(f"bootstrap-roles: PostgreSQL at {server}", file=out)
    for line in created:
        print(f"  {line}", file=out)
    if not created:
        print("  roles and audit guard already present", file=out)
    print(
        f"  granted {settings.owner_role} and {settings.app_role} to {settings.operator_role}\n"
        f"  granted CREATE on the database to {settings.owner_role}\n"
        "  installed (or updated) the audit guard's functions and sealed the audit objects\n"
        "  installed (or updated) the RLS guard's functions and enrolled the tenant tables",
        file=out,
    )
    if not operator_password:
        print(
            f"  note: {PASSWORD_ENV} was not set: role {settings.operator_role} has no "
            "password from this command (set one with ALTER ROLE ... PASSWORD, unless it "
            "authenticates another way)",
            file=out,
        )
    elif f"created role {settings.operator_role}" not in created:
        print(
            f"  note: role {settings.operator_role} already existed: its password was not "
            "changed (ALTER ROLE ... PASSWORD to rotate it)",
            file=out,
        )
    print(
        "The operator's DATABASE_URL (put it into the operator's Secret; the host as the "
        f"operator's pods reach it):\n  {operator_dsn_shape(admin_dsn, settings)}",
        file=out,
    )
    return EXIT_OK
