"""``tenant-operator bootstrap-roles``: the operator's roles and the audit guard, once."""

import argparse
import sys


def cmd_bootstrap_roles(_args: argparse.Namespace) -> int:
    """Create the operator's roles and the audit guard (run once, with a superuser's DSN)."""
    import asyncio
    import os

    from tenant_operator.adapters.postgres.bootstrap_command import (
        PASSWORD_ENV,
        bootstrap_command,
    )
    from tenant_operator.adapters.transport import ALLOW, insecure_connections
    from tenant_operator.settings import Settings

    settings = Settings()
    weak = insecure_connections(settings, os.environ).get("postgres")
    if weak and not settings.allow_insecure_transport:
        print(
            f"bootstrap-roles: refusing to connect: {weak} "
            f"(for local development only, {ALLOW} allows it)",
            file=sys.stderr,
        )
        return 2
    dsn = settings.database_url.get_secret_value()
    return asyncio.run(bootstrap_command(dsn, settings, os.environ.get(PASSWORD_ENV)))
