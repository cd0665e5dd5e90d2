"""One verification of a tenant's audit chain against the head mirrored in OpenBao.

Called by the reconcile's audit step and by the drift scanner; its cost follows what is
new since the mirrored head, not the chain's history.
"""

import logging
from dataclasses import dataclass

from tenant_operator.controller.ports import Ports
from tenant_operator.domain import audit as chain
from tenant_operator.domain.vocabulary import Reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainCheck:
    """One verification of a tenant's chain against the head mirrored in OpenBao.

    ``head`` is the newest entry in PostgreSQL (what the status shows), ``mirrored`` the
    checkpoint read from OpenBao, ``checked`` how many entries this check verified and
    ``problem``, if any, (reason, message).
    """

    head: chain.AuditHead | None
    mirrored: chain.AuditHead | None
    checked: int
    problem: tuple[str, str] | None


async def check_chain(ports: Ports, slug: str) -> ChainCheck:
    """Verify the entries since the mirrored head: the cost follows what is new, not history.

    The head mirrored in OpenBao (written only after a verification passed) is the
    checkpoint; it is read first, so an append racing this check can only add rows after it.
    Only the rows with ``seq >=`` the checkpoint are read (a primary-key range), the row at
    the checkpoint must still carry the mirrored hash and hash to it, and every later row
    must link to the one before. No mirror yet: verify from genesis. A cut below the
    checkpoint leaves no row there: AuditHeadMismatch. Entries *before* the checkpoint are
    not re-read: rewriting them is seen here only if their hashes were recomputed up to the
    checkpoint (which changes its hash); a change that leaves the hashes alone is found by
    ``tenant-operator verify-audit``, which verifies every entry from genesis.
    """
    raw = await ports.bao.read_audit_head(await ports.audit.chain_name(slug))
    mirrored = chain.AuditHead(*raw) if raw else None
    first = mirrored.seq if mirrored else 1
    rows = await ports.audit.rows(slug, since=first)
    if rows:
        head: chain.AuditHead | None = chain.AuditHead(rows[-1].seq, rows[-1].hash)
    else:  # nothing from the checkpoint on: the status still shows what PostgreSQL holds
        stored = await ports.audit.head(slug) if mirrored else None
        head = chain.AuditHead(stored.seq, stored.hash) if stored else None
    result = chain.verify_chain(rows, first_seq=first, key=await ports.audit.digest_key(slug))
    log.debug("tenant %s: %d audit entries verified from seq %d", slug, result.checked, first)
    if not result.ok:
        broken = f"entry {result.first_bad_seq}: {result.reason}"
        return ChainCheck(head, mirrored, result.checked, (Reason.AUDIT_CHAIN_BROKEN, broken))
    problem = chain.mirror_problem(rows, mirrored)
    return ChainCheck(
        head, mirrored, result.checked, (Reason.AUDIT_HEAD_MISMATCH, problem) if problem else None
    )
