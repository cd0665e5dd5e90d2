"""Verify a whole chain from genesis, fast: PostgreSQL recomputes, the operator judges.

The chain ``[1, head]`` is cut into chunks of seqs; each chunk gets three checks, spread
over ``workers`` connections so that several PostgreSQL backends (cores) work at once:

* hashes: PostgreSQL rebuilds every entry's canonical body from its columns
  (``queries._AUDIT_BODY``, byte for byte :func:`domain.audit.entry_hash`'s, tested) and
  compares ``sha256(prev_hash || body)`` with the stored hash;
* links: every seq is present and every ``prev_hash`` is the hash of the entry before it
  (the row before the chunk is read too, so chunks join without gaps);
* details: each distinct (detail, digest) of the chunk is re-digested here, with the
  domain's canonical JSON (details repeat a lot; distinct ones are cached).

Only aggregates travel (a first suspect seq per chunk, and the distinct details), so
memory stays flat whatever the chain's length. Chunks only say *where* to look: the first
suspect entry and the one before it are then read and judged by
:func:`domain.audit.verify_chain`, which names the reason exactly as before. Should the two
ever disagree, the chain from there on is verified by the domain rules alone.

Trust: the database computes the hashes here, so this catches changes made behind the
operator's back that did not recompute the chain. A rewrite that recomputes hashes, or a
database that lies, is caught only against the head mirrored outside PostgreSQL, which
the reconcile checks (:func:`tenant_operator.controller.reconcile.check_chain`).
"""

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.session import Conn, Pool, transaction
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.domain.audit import (
    GENESIS,
    ChainRow,
    VerifyResult,
    detail_digest,
    verify_chain,
)
from tenant_operator.settings import Settings

#: Seqs per chunk: small enough to balance two workers, large enough to amortise a query.
CHUNK = 50_000
#: Distinct details remembered across chunks (then forgotten: memory stays bounded).
DETAIL_CACHE = 65_536
#: Above every seq (no keyed entry seen yet).
LAST_SEQ = q.LAST_SEQ
#: Rows per read when the domain rules verify a stretch of the chain themselves.
BATCH = 10_000

Check = Callable[[Conn], Coroutine[Any, Any, int | None]]


class _Details:
    """Digests (legacy and keyed) of a detail given as jsonb text, with a bounded cache."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key
        self.cache: dict[str, tuple[str, ...]] = {}

    def digests(self, text: str) -> tuple[str, ...]:
        if text in self.cache:
            return self.cache[text]
        if len(self.cache) >= DETAIL_CACHE:
            self.cache.clear()
        try:
            detail = json.loads(text)
            found: tuple[str, ...] = (detail_digest(detail),)
            if self.key is not None:
                found += (detail_digest(detail, self.key),)
        except TypeError:  # not canonical (a float, say): never what the operator wrote
            found = ()
        self.cache[text] = found
        return found


class ChainVerifier:
    """Every entry of one chain, verified in parallel chunks (see the module docstring)."""

    def __init__(
        self, pool: Pool, settings: Settings, *, workers: int = 2, chunk: int = CHUNK
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.workers = workers
        self.chunk = chunk
        self.platform = settings.platform_schema
        self.details = _Details()
        self.key: bytes | None = None
        self.closed = False
        self.keyed_first, self.legacy_last = LAST_SEQ, 0

    async def verify(self, tenant: str | None) -> VerifyResult:
        """Verify the tenant's current chain (None: the platform's), legacy digests only."""
        return await self.verify_chain(await AuditLog(self.pool, self.settings).chain_name(tenant))

    async def verify_chain(
        self, chain: str, key: bytes | None = None, *, closed: bool = False
    ) -> VerifyResult:
        """Verify the chain named ``chain``; ``key`` is its digest key (None: legacy only).

        ``closed``: the vault marks the chain closed (erased), so redacted entries are due.
        """
        self.details = _Details(key)
        self.key = key
        self.closed = closed
        self.keyed_first, self.legacy_last = LAST_SEQ, 0
        head = await AuditLog(self.pool, self.settings).head_of(chain)
        if head is None:
            return VerifyResult(ok=True, checked=0)
        suspect = await self._first_suspect(chain, head.seq)
        if suspect is None and self.legacy_last > self.keyed_first:
            # a legacy digest after a keyed one (DOWNGRADED): judged from the first keyed
            suspect = self.keyed_first + 1
        if suspect is None:
            return VerifyResult(ok=True, checked=head.seq)
        return await self._judge(chain, suspect)

    async def _first_suspect(self, chain: str, last: int) -> int | None:
        checks: list[tuple[int, Check]] = []
        for lo in range(1, last + 1, self.chunk):
            hi = min(lo + self.chunk - 1, last)
            checks += [
                (lo, self._hashes(chain, lo, hi)),
                (lo, self._links(chain, lo, hi)),
                (lo, self._details(chain, lo, hi)),
            ]
        found: list[int] = []

        async def worker() -> None:
            while checks:
                lo, check = checks.pop(0)
                if found and lo > min(found):  # a chunk after a known problem: not needed
                    continue
                async with transaction(self.pool, self.settings) as conn:
                    await conn.execute(q.NO_JIT)
                    seq = await check(conn)
                if seq is not None:
                    found.append(seq)

        await asyncio.gather(*(worker() for _ in range(self.workers)))
        return min(found) if found else None

    def _hashes(self, chain: str, lo: int, hi: int) -> Check:
        async def check(conn: Conn) -> int | None:
            cur = await conn.execute(q.audit_chunk_hashes(self.platform), [chain, lo, hi])
            row = await cur.fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return check

    def _links(self, chain: str, lo: int, hi: int) -> Check:
        async def check(conn: Conn) -> int | None:
            params = {"chain": chain, "lo": lo, "before": lo - 1, "hi": hi, "genesis": GENESIS}
            cur = await conn.execute(q.audit_chunk_links(self.platform), params)
            row = await cur.fetchone()
            assert row is not None  # an aggregate returns one row
            count, last, suspect = int(row[0]), row[1], row[2]
            if suspect is not None:
                return int(suspect)
            if count < hi - lo + 1:  # seqs missing at the chunk's end (or the whole chunk)
                return lo if last is None or int(last) < lo else int(last) + 1
            return None

        return check

    def _details(self, chain: str, lo: int, hi: int) -> Check:
        async def check(conn: Conn) -> int | None:
            cur = await conn.execute(q.audit_chunk_details(self.platform), [chain, lo, hi])
            bad: list[int] = []
            for text, digest, first, last in await cur.fetchall():
                if text is None:  # redacted: only once the key is destroyed (REDACTED_OPEN)
                    if self.key is not None and not self.closed:
                        bad.append(int(first))
                    continue
                found = self.details.digests(str(text))
                if digest not in found:
                    bad.append(int(first))
                elif self.key is not None and digest == found[0]:  # a legacy digest
                    self.legacy_last = max(self.legacy_last, int(last))
                elif self.key is not None:
                    self.keyed_first = min(self.keyed_first, int(first))
            return min(bad) if bad else None

        return check

    async def _judge(self, chain: str, suspect: int) -> VerifyResult:
        """The domain's verdict on the first suspect entry (the one before it verified)."""
        start = max(1, suspect - 1)
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(q.audit_rows_page(self.platform), [chain, start, 2])
            rows = [ChainRow(*row) for row in await cur.fetchall()]
            elsewhere: dict[str, int] = {}
            for row in rows[1:]:
                found = await (
                    await conn.execute(q.audit_seq_of_hash(self.platform), [chain, row.prev_hash])
                ).fetchone()
                if found is not None:
                    elsewhere[row.prev_hash] = int(found[0])
        result = verify_chain(
            rows, first_seq=start, elsewhere=elsewhere, key=self.key, closed=self.closed
        )
        if result.ok:  # PostgreSQL and the domain disagree: the domain rules decide alone
            result = await self._verify_by_domain(chain, start)
        if result.ok or result.first_bad_seq is None:
            return result
        return VerifyResult(False, result.first_bad_seq - 1, result.first_bad_seq, result.reason)

    async def _verify_by_domain(self, chain: str, start: int) -> VerifyResult:
        """The chain from ``start`` (already verified) on, by the domain rules, in batches."""
        while True:
            async with transaction(self.pool, self.settings) as conn:
                cur = await conn.execute(q.audit_rows_page(self.platform), [chain, start, BATCH])
                rows = [ChainRow(*row) for row in await cur.fetchall()]
            result = verify_chain(rows, first_seq=start, key=self.key, closed=self.closed)
            if not result.ok:
                return result
            if len(rows) < BATCH:
                return VerifyResult(ok=True, checked=rows[-1].seq if rows else start - 1)
            start = rows[-1].seq
