"""The append-only audit log: one SHA-256 chain per tenant plus the platform chain.

Hashing and verification rules are pure (:mod:`tenant_operator.domain.audit`); this module
stores and reads. Appends to one chain serialize on ``pg_advisory_xact_lock`` keyed on the
chain, so chains of different tenants append in parallel. The table refuses UPDATE, DELETE
and TRUNCATE by privilege and by trigger; :meth:`AuditLog.redact` calls the owner's
SECURITY DEFINER function, the only thing allowed to null ``detail``.

Chains: the platform's is ``_platform``; a tenant's chain is registered in ``audit_chains``
(its first chain is named by the bare slug, so chains from before keep their names). Erasure
closes it (:meth:`AuditLog.close`), and the slug's next entry opens ``<slug>@<id>`` from
genesis: a re-created tenant never continues the erased one's chain.

With a vault (OpenBao, :class:`AuditVault`), every append is keyed and mirrored: the detail
digest is an HMAC under the chain's key, which lives only in the vault, and the new head is
written to the vault after the append, unless the entries since the mirrored head do not
verify (then the mirror stays where it is: it is the evidence of what was removed).
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

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
    mirror_problem,
    split_body,
    verify_chain,
)
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import validate_slug
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

__all__ = ["AuditHead", "AuditLog", "AuditVault", "VerifyResult", "chain_of", "vault_name"]

log = logging.getLogger(__name__)


class AuditVault(Protocol):
    """Where chain heads are mirrored and digest keys live, outside PostgreSQL.

    Chains are named as in PostgreSQL, except the platform chain, which is None.
    """

    async def read_audit_head(self, slug: str | None) -> tuple[int, str] | None: ...
    async def mirror_audit_head(self, slug: str | None, seq: int, head: str) -> None: ...
    async def audit_key(self, chain: str | None) -> bytes: ...
    async def read_audit_key(self, chain: str | None) -> bytes | None: ...
    async def forget_audit_key(self, chain: str | None) -> None: ...
    async def mirrored_chains(self) -> list[str | None]: ...
    async def close_audit_head(self, chain: str) -> None: ...
    async def audit_head_closed(self, chain: str | None) -> bool: ...


def chain_of(tenant: str | None) -> str:
    """The name a tenant's first chain has (the slug), or the platform chain for None."""
    return PLATFORM_CHAIN if tenant is None else validate_slug(tenant)


def vault_name(chain: str) -> str | None:
    """The chain's name in the vault: the platform chain is None there."""
    return None if chain == PLATFORM_CHAIN else chain


async def _head(conn: Conn, platform: str, chain: str) -> AuditHead | None:
    row = await (await conn.execute(q.audit_head(platform), [chain])).fetchone()
    return None if row is None else AuditHead(int(row[0]), str(row[1]))


class AuditLog:
    def __init__(self, pool: Pool, settings: Settings, vault: AuditVault | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.vault = vault
        self._keys: dict[str, bytes] = {}

    async def chain_name(self, tenant: str | None, *, open_: bool = False) -> str:
        """The tenant's current chain (``open_``: opened if it has none); None: the platform."""
        chain = chain_of(tenant)
        if tenant is None:
            return chain
        statement = q.audit_open_chain if open_ else q.audit_chain_of
        async with transaction(self.pool, self.settings) as conn:
            row = await (
                await conn.execute(statement(self.settings.platform_schema), [chain])
            ).fetchone()
        return str(row[0]) if row else chain

    async def key(self, chain: str) -> bytes | None:
        """The chain's digest key (None without a vault: legacy unkeyed digests)."""
        if self.vault is None:
            return None
        if chain not in self._keys:
            self._keys[chain] = await self.vault.audit_key(vault_name(chain))
        return self._keys[chain]

    async def digest_key(self, tenant: str | None) -> bytes | None:
        """The digest key of the tenant's current chain, to verify its details."""
        return await self.key(await self.chain_name(tenant))

    async def append(
        self,
        tenant: str | None,
        *,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, object],
    ) -> AuditHead:
        """Append one entry to the tenant's chain (None: the platform chain), then mirror it."""
        detail_digest(detail)  # refuses non-canonical detail before any I/O
        chain = await self.chain_name(tenant, open_=True)
        digest = detail_digest(detail, await self.key(chain))
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
                reason=Reason.AUDIT_HASH_MISMATCH,
            )
        head = AuditHead(seq, stored)
        await self._mirror(chain, head, prev)
        return head

    async def _mirror(self, chain: str, head: AuditHead, prev: str) -> None:
        """Move the vault's head to ``head`` if the chain still extends the mirrored one."""
        if self.vault is None:
            return
        name = vault_name(chain)
        raw = await self.vault.read_audit_head(name)
        mirrored = AuditHead(*raw) if raw else None
        follows = (mirrored is None and head.seq == 1) or (
            mirrored is not None and head.seq == mirrored.seq + 1 and prev == mirrored.hash
        )
        if not follows:  # the mirror lags (or entries vanished): verify what lies between
            first = mirrored.seq if mirrored else 1
            rows = await self._rows(chain, first)
            result = verify_chain(rows, first_seq=first, key=await self.key(chain))
            problem = mirror_problem(rows, mirrored) or (None if result.ok else result.reason)
            if problem is not None:
                log.warning(
                    "audit chain %s: the mirrored head (seq %s) is kept, not moved to seq %d: %s",
                    chain,
                    mirrored.seq if mirrored else None,
                    head.seq,
                    problem,
                )
                return
        await self.vault.mirror_audit_head(name, head.seq, head.hash)

    async def head(self, tenant: str | None) -> AuditHead | None:
        return await self.head_of(await self.chain_name(tenant))

    async def head_of(self, chain: str) -> AuditHead | None:
        async with transaction(self.pool, self.settings) as conn:
            return await _head(conn, self.settings.platform_schema, chain)

    async def rows(self, tenant: str | None, *, since: int = 1) -> list[ChainRow]:
        """The chain's entries with ``seq >= since``, in order (one index range read)."""
        return await self._rows(await self.chain_name(tenant), since)

    async def _rows(self, chain: str, since: int, last: int = q.LAST_SEQ) -> list[ChainRow]:
        async with transaction(self.pool, self.settings) as conn:
            statement = q.audit_rows(self.settings.platform_schema)
            cur = await conn.execute(statement, [chain, since, last])
            return [ChainRow(*row) for row in await cur.fetchall()]

    async def row_at(self, chain: str, seq: int) -> ChainRow | None:
        found = await self._rows(chain, seq, seq)
        return found[0] if found else None

    async def chains(self) -> list[str]:
        """Every chain PostgreSQL knows of (registered or holding entries), sorted."""
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(q.audit_chains(self.settings.platform_schema))
            return [str(row[0]) for row in await cur.fetchall()]

    async def closed_in_registry(self, chain: str) -> bool:
        """Whether ``audit_chains`` says the chain is closed (its tenant erased)."""
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(q.audit_chain_closed(self.settings.platform_schema), [chain])
            row = await cur.fetchone()
        return bool(row and row[0])

    async def verify(
        self, tenant: str | None, *, expected_head: AuditHead | None = None
    ) -> VerifyResult:
        """Verify the chain; ``expected_head`` (the mirrored head) also catches a cut tail."""
        chain = await self.chain_name(tenant)
        key = await self.key(chain)
        return verify_chain(await self._rows(chain, 1), expected_head=expected_head, key=key)

    async def redact(self, tenant: str | None) -> int:
        """Null ``detail`` of every entry of the tenant's current chain; return how many."""
        return await self._redact(await self.chain_name(tenant))

    async def _redact(self, chain: str) -> int:
        async with transaction(self.pool, self.settings, lock=(q.LOCK_AUDIT, chain)) as conn:
            row = await (
                await conn.execute(q.audit_redact(self.settings.platform_schema), [chain])
            ).fetchone()
        return int(row[0]) if row else 0

    async def close(self, tenant: str) -> str | None:
        """Erasure's last step: redact the tenant's chain, destroy its key, close it.

        The erasure entry itself is redacted too (its twin on the platform chain keeps the
        detail), so the chain still verifies once its key is gone; the mirrored head is
        marked closed (an entry appended after it is reported), and the slug's next entry
        opens a new chain. Returns the closed chain (None: it had none open).
        """
        chain = await self.chain_name(tenant)
        await self._redact(chain)
        if self.vault is not None and chain != PLATFORM_CHAIN:
            await self.vault.forget_audit_key(chain)
            self._keys.pop(chain, None)
            await self.vault.close_audit_head(chain)
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(
                q.audit_close_chain(self.settings.platform_schema), [chain_of(tenant)]
            )
            row = await cur.fetchone()
        return str(row[0]) if row else None
