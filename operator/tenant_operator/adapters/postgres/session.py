"""Pools and transactions of the adapter: every unit of work is one transaction.

The operator logs in as its own role and runs each transaction ``SET LOCAL ROLE <owner>``
so that what it creates is owned by the owner role; RLS is FORCEd, so even the owner sees
tenant rows only inside that tenant's context (:func:`set_tenant`).
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from tenant_operator.adapters.postgres.errors import pg_errors, server_label
from tenant_operator.adapters.postgres.statements import queries as q
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
