"""``tenant-operator bootstrap-roles``: the operator's roles and the audit guard, once."""

import argparse


def cmd_bootstrap_roles(_args: argparse.Namespace) -> int:
    """Create the operator's roles and the audit guard (run once, with a superuser's DSN)."""
    import asyncio
    import os

    from tenant_operator.adapters.postgres.bootstrap_command import (
        PASSWORD_ENV,
        bootstrap_command,
    )
    from tenant_operator.settings import Settings

    settings = Settings()
    dsn = settings.database_url.get_secret_value()
    return asyncio.run(bootstrap_command(dsn, settings, os.environ.get(PASSWORD_ENV)))
