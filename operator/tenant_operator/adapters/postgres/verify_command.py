"""``tenant-operator verify-audit [--tenant SLUG | --chain NAME | --all]``: verify, report.

Every entry is verified from genesis, in parallel chunks over ``WORKERS`` connections
(:mod:`.audit_verify`); memory stays flat whatever the chain's length. Then the chain is
compared with its head mirrored outside PostgreSQL (the vault, OpenBao): the mirrored entry
must still be there with the same hash, so a cut tail, a chain cut whole and a rewrite that
recomputed every hash are all named. ``--all`` verifies every chain PostgreSQL knows of and
every chain with a mirrored head (a chain whose rows are all gone shows only there), one
line per chain.

Exit codes: 0 every chain verifies, 1 one is broken (its line names the chain, the first
broken seq and why), 2 a chain could not be read (bad name, database or OpenBao
unreachable, not migrated).
"""

import sys
from typing import TextIO

from tenant_operator.adapters.postgres.audit import AuditLog, AuditVault, chain_of, vault_name
from tenant_operator.adapters.postgres.audit_verify import ChainVerifier
from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.domain.audit import PLATFORM_CHAIN, AuditHead, VerifyResult
from tenant_operator.domain.errors import OperatorError
from tenant_operator.domain.naming import validate_chain
from tenant_operator.settings import Settings

EXIT_OK, EXIT_BROKEN, EXIT_ERROR = 0, 1, 2
#: Connections (PostgreSQL backends, so cores) that verify chunks at once.
WORKERS = 2


def _against_mirror(
    result: VerifyResult,
    head: AuditHead | None,
    mirrored: AuditHead | None,
    stored_hash: str | None,
    closed: bool = False,
) -> VerifyResult:
    """The verdict once the chain (verified on its own) is compared with its mirrored head."""
    if not result.ok or mirrored is None:
        return result
    if closed and stored_hash == mirrored.hash and head is not None and head.seq > mirrored.seq:
        return VerifyResult(
            False,
            mirrored.seq,
            mirrored.seq + 1,
            f"appended after the chain was closed at seq {mirrored.seq} (the tenant was erased)",
        )
    if stored_hash is None:
        first = head.seq + 1 if head else 1
        return VerifyResult(
            False,
            result.checked,
            first,
            f"missing: entries {first} to {mirrored.seq} were removed (the head recorded "
            f"outside PostgreSQL is seq {mirrored.seq})",
        )
    if stored_hash != mirrored.hash:
        return VerifyResult(
            False,
            result.checked,
            mirrored.seq,
            "rewritten: the entry differs from the head recorded outside PostgreSQL",
        )
    return result


async def verify_audit_command(
    dsn: str,
    settings: Settings,
    tenant: str | None,
    *,
    chain: str | None = None,
    all_chains: bool = False,
    vault: AuditVault | None = None,
    out: TextIO | None = None,
) -> int:
    """Verify the tenant's current chain (None: the platform's), ``chain``, or every chain.

    Without a ``vault`` nothing is compared with a mirror and keyed digests cannot be
    checked (the CLI always passes the operator's OpenBao).
    """
    out = out or sys.stdout
    if all_chains:
        what = "every chain"
    else:
        what = repr(chain) if chain else ("platform" if tenant is None else f"tenant {tenant!r}")
    codes: list[int] = []
    try:
        if chain is not None and chain != PLATFORM_CHAIN:
            validate_chain(chain)
        elif tenant is not None:
            chain_of(tenant)
        async with make_pool(dsn, settings, max_size=WORKERS, timeout=10.0) as pool:
            log = AuditLog(pool, settings)
            if all_chains:
                names = set(await log.chains())
                if vault is not None:
                    names |= {c or PLATFORM_CHAIN for c in await vault.mirrored_chains()}
                targets = sorted(names)
            else:
                targets = [chain or await log.chain_name(tenant)]
            for name in targets:
                codes.append(await _verify_one(settings, log, vault, name, out))
    except OperatorError as exc:
        print(f"audit chain of {what}: cannot verify: {exc.message}", file=out)
        return EXIT_ERROR
    if not codes:
        print("no audit chain found", file=out)
    return max(codes, default=EXIT_OK)


async def _verify_one(
    settings: Settings, log: AuditLog, vault: AuditVault | None, chain: str, out: TextIO
) -> int:
    key = await vault.read_audit_key(vault_name(chain)) if vault else None
    mirrored: AuditHead | None = None
    closed = False
    if vault is not None:
        raw = await vault.read_audit_head(vault_name(chain))
        mirrored = AuditHead(*raw) if raw else None
        closed = mirrored is not None and await vault.audit_head_closed(vault_name(chain))
    verifier = ChainVerifier(log.pool, settings, workers=WORKERS)
    result = await verifier.verify_chain(chain, key, closed=closed)
    head = await log.head_of(chain)
    stored = await log.row_at(chain, mirrored.seq) if mirrored else None
    result = _against_mirror(result, head, mirrored, stored.hash if stored else None, closed)
    if result.ok and mirrored is not None and not closed and await log.closed_in_registry(chain):
        # erasure marks the mirror closed before PostgreSQL: never closed here alone
        result = VerifyResult(
            False,
            result.checked,
            (head.seq if head else 0) + 1,
            "closed in PostgreSQL but not outside it: the chain was closed behind the "
            "operator's back (its tenant's next entries went to a new chain)",
        )
    if result.ok:
        tail = f", head seq {head.seq} sha256:{head.hash}" if head else " (empty chain)"
        if vault is None:
            mirror = ", not compared with a mirror"
        else:
            mirror = f", mirrored seq {mirrored.seq}" if mirrored else ", no mirrored head"
        print(
            f"audit chain {chain!r}: OK, {result.checked} entries verified{tail}{mirror}",
            file=out,
        )
        return EXIT_OK
    print(
        f"audit chain {chain!r}: BROKEN at seq {result.first_bad_seq}: {result.reason} "
        f"({result.checked} entries verified before it)",
        file=out,
    )
    return EXIT_BROKEN
