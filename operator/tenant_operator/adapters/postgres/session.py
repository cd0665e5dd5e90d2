"""Pools and transactions of the adapter: every unit of work is one transaction.

The operator logs in as its own role and runs each transaction ``SET LOCAL ROLE <owner>``
so that what it creates is owned by the owner role; RLS is FORCEd, so even the owner sees
tenant rows only inside that tenant's context (:func:`set_tenant`).
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from tenant_operator.adapters.postgres.errors import pg_errors, server_label
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

Pool = AsyncConnectionPool[AsyncConnection[TupleRow]]
Conn = AsyncConnection[TupleRow]


def make_pool(
    conninfo: str, settings: Settings, *, max_size: int | None = None, timeout: float = 30.0
) -> Pool:
    """An unopened pool of autocommit connections (``await pool.open()`` at startup).

    ``timeout`` bounds the wait for a connection; past it the adapter raises
    RetryableError ("PostgreSQL at host:port is unreachable ...").
    """
    return AsyncConnectionPool(
        conninfo,
        min_size=min(settings.pool_min_size, max_size or settings.pool_max_size),
        max_size=max_size or settings.pool_max_size,
        kwargs={"autocommit": True},
        open=False,
        timeout=timeout,
        name="tenant-operator",
    )


def label(pool: Pool) -> str:
    return server_label(pool.conninfo) if isinstance(pool.conninfo, str) else "the server"


@asynccontextmanager
async def transaction(
    pool: Pool,
    settings: Settings,
    *,
    lock: tuple[int, str] | None = None,
) -> AsyncIterator[Conn]:
    """One transaction ``SET LOCAL ROLE <owner>``, optionally under ``pg_advisory_xact_lock``."""
    async with pg_errors(lambda: label(pool)), pool.connection() as conn, conn.transaction():
        await conn.execute(q.set_role(settings.owner_role))
        if lock is not None:
            await conn.execute(q.ADVISORY_LOCK, lock)
        yield conn


async def set_tenant(conn: Conn, tenant_id: uuid.UUID | None) -> None:
    """Set (or, with None, clear) the transaction-local tenant context."""
    await conn.execute(q.SET_TENANT_CONTEXT, ["" if tenant_id is None else str(tenant_id)])


@dataclass(frozen=True)
class TenantRow:
    """A registered tenant as a transaction on its rows needs it."""

    tenant_id: uuid.UUID
    slug: str
    schema: str | None

    def tables_schema(self, settings: Settings) -> str:
        """Where its tenant tables are: its own schema, or the platform schema (shared)."""
        return self.schema or settings.platform_schema


@asynccontextmanager
async def tenant_transaction(
    pool: Pool, settings: Settings, tenant_id: uuid.UUID
) -> AsyncIterator[tuple[Conn, TenantRow]]:
    """A transaction locked on the tenant, with its context set (RLS confines it)."""
    p = settings.platform_schema
    async with transaction(pool, settings) as conn:
        row = await (await conn.execute(q.select_tenant_by_id(p), [tenant_id])).fetchone()
        if row is None:
            raise PermanentError(f"tenant {tenant_id} is not registered", reason=Reason.NOT_FOUND)
        slug, _, schema = row
        await conn.execute(q.ADVISORY_LOCK, (q.LOCK_TENANT, slug))
        await set_tenant(conn, tenant_id)
        yield conn, TenantRow(tenant_id, slug, schema)
