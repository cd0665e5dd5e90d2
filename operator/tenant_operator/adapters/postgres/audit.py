"""The append-only audit log: one SHA-256 chain per tenant plus the platform chain.

Hashing and verification rules are pure (:mod:`tenant_operator.domain.audit`); this module
stores and reads. Appends to one chain serialize on ``pg_advisory_xact_lock`` keyed on the
chain, so chains of different tenants append in parallel. The table refuses UPDATE, DELETE
and TRUNCATE by privilege and by trigger; :meth:`AuditLog.redact` calls the owner's
SECURITY DEFINER function, the only thing allowed to null ``detail``.
"""

from collections.abc import Mapping
from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.errors import pg_errors
from tenant_operator.adapters.postgres.session import Conn, Pool, label, transaction
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.domain.audit import (
    PLATFORM_CHAIN,
    AuditHead,
    ChainRow,
    VerifyResult,
    detail_digest,
    entry_hash,
    split_body,
    verify_chain,
)
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import validate_slug
from tenant_operator.settings import Settings

__all__ = ["AuditHead", "AuditLog", "VerifyResult", "chain_of"]


def chain_of(tenant: str | None) -> str:
    """The chain key: the tenant slug, or the platform chain for None."""
    return PLATFORM_CHAIN if tenant is None else validate_slug(tenant)


async def _head(conn: Conn, platform: str, chain: str) -> AuditHead | None:
    row = await (await conn.execute(q.audit_head(platform), [chain])).fetchone()
    return None if row is None else AuditHead(int(row[0]), str(row[1]))


class AuditLog:
    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def append(
        self,
        tenant: str | None,
        *,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, object],
    ) -> AuditHead:
        """Append one entry to the tenant's chain (None: the platform chain)."""
        chain = chain_of(tenant)
        digest = detail_digest(detail)  # refuses non-canonical detail before any SQL
        at = datetime.now(UTC)
        before, after = split_body(at=at, actor=actor, action=action, target=target, digest=digest)
        args = [chain, at, actor, action, target, Jsonb(dict(detail)), digest, before, after]
        async with pg_errors(lambda: label(self.pool)), self.pool.connection() as conn:
            cur = await conn.execute(q.audit_append(self.settings.platform_schema), args)
            row = await cur.fetchone()
        assert row is not None  # the function returns exactly one row
        seq, prev, stored = int(row[0]), str(row[1]), str(row[2])
        expected = entry_hash(
            prev, seq=seq, at=at, actor=actor, action=action, target=target, digest=digest
        )
        if stored != expected:
            raise PermanentError(
                f"audit chain {chain}: the database hashed entry {seq} differently "
                "from the operator; verify-audit will flag it",
                reason="AuditHashMismatch",
            )
        return AuditHead(seq, stored)

    async def head(self, tenant: str | None) -> AuditHead | None:
        chain = chain_of(tenant)
        async with transaction(self.pool, self.settings) as conn:
            return await _head(conn, self.settings.platform_schema, chain)

    async def rows(self, tenant: str | None, *, since: int = 1) -> list[ChainRow]:
        """The chain's entries with ``seq >= since``, in order (one index range read)."""
        chain = chain_of(tenant)
        async with transaction(self.pool, self.settings) as conn:
            statement = q.audit_rows(self.settings.platform_schema)
            cur = await conn.execute(statement, [chain, since, q.LAST_SEQ])
            return [ChainRow(*row) for row in await cur.fetchall()]

    async def verify(
        self, tenant: str | None, *, expected_head: AuditHead | None = None
    ) -> VerifyResult:
        """Verify the chain; ``expected_head`` (the mirrored head) also catches a cut tail."""
        return verify_chain(await self.rows(tenant), expected_head=expected_head)

    async def redact(self, tenant: str | None) -> int:
        """Null ``detail`` of every entry of the chain (erasure); return how many."""
        chain = chain_of(tenant)
        async with transaction(self.pool, self.settings, lock=(q.LOCK_AUDIT, chain)) as conn:
            row = await (
                await conn.execute(q.audit_redact(self.settings.platform_schema), [chain])
            ).fetchone()
        return int(row[0]) if row else 0
