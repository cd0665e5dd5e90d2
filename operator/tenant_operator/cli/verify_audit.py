"""``tenant-operator verify-audit``: check audit chains against their heads in OpenBao."""

import argparse


def cmd_verify_audit(args: argparse.Namespace) -> int:
    """Verify audit chains against their heads in OpenBao; name the first broken chain and seq."""
    import asyncio

    from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
    from tenant_operator.adapters.postgres.verify_command import verify_audit_command
    from tenant_operator.settings import Settings

    settings = Settings()
    dsn = settings.database_url.get_secret_value()
    vault = OpenBaoTenants(settings)  # the mirrored heads and digest keys
    try:
        return asyncio.run(
            verify_audit_command(
                dsn, settings, args.tenant, chain=args.chain, all_chains=args.all, vault=vault
            )
        )
    finally:
        vault.close()
