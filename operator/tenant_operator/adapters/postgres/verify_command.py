"""``tenant-operator verify-audit [--tenant SLUG]``: verify one chain, print a report.

Every entry is verified from genesis, in parallel chunks over ``WORKERS`` connections
(:mod:`.audit_verify`); memory stays flat whatever the chain's length.

Exit codes: 0 the chain verifies, 1 it is broken (the report names the first broken seq
and why), 2 the chain could not be read (bad name, database unreachable, not migrated).
"""

import sys
from typing import TextIO

from tenant_operator.adapters.postgres.audit import AuditLog, chain_of
from tenant_operator.adapters.postgres.audit_verify import ChainVerifier
from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.domain.errors import OperatorError
from tenant_operator.settings import Settings

EXIT_OK, EXIT_BROKEN, EXIT_ERROR = 0, 1, 2
#: Connections (PostgreSQL backends, so cores) that verify chunks at once.
WORKERS = 2


async def verify_audit_command(
    dsn: str, settings: Settings, tenant: str | None, *, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    what = "platform" if tenant is None else f"tenant {tenant!r}"
    try:
        chain_of(tenant)
        async with make_pool(dsn, settings, max_size=WORKERS, timeout=10.0) as pool:
            result = await ChainVerifier(pool, settings, workers=WORKERS).verify(tenant)
            head = await AuditLog(pool, settings).head(tenant)
    except OperatorError as exc:
        print(f"audit chain of {what}: cannot verify: {exc.message}", file=out)
        return EXIT_ERROR
    if result.ok:
        tail = f", head seq {head.seq} sha256:{head.hash}" if head else " (empty chain)"
        print(f"audit chain of {what}: OK, {result.checked} entries verified{tail}", file=out)
        return EXIT_OK
    print(
        f"audit chain of {what}: BROKEN at seq {result.first_bad_seq}: {result.reason} "
        f"({result.checked} entries verified before it)",
        file=out,
    )
    return EXIT_BROKEN
