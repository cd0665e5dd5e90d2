"""Helpers for the platform's applications: tenant sessions and bcrypt passwords.

Applications connect as the application role (no BYPASSRLS) and must do all tenant work
inside :func:`tenant_session`, which sets the tenant context for one transaction only
(``set_config('integraci.tenant_id', ..., true)``): it can never leak to the next
transaction on a pooled connection, and outside it every tenant table shows no rows::

    async with await psycopg.AsyncConnection.connect(APP_DSN) as conn:
        async with tenant_session(conn, tenant_id) as tx:
            await tx.execute("INSERT INTO integraci.pipeline_runs (tenant_id, pipeline,"
                             " status) VALUES (%s, %s, %s)", [tenant_id, "build", "queued"])

    stored = await ahash_password(password)        # bcrypt, cost 12, in a worker thread
    ok = await acheck_password(password, stored)

Passwords longer than bcrypt's 72-byte limit are refused (bcrypt would silently ignore the
rest). ``accounts.password_hash`` has a CHECK that accepts only bcrypt of cost >= 12.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import bcrypt
import psycopg
from psycopg import sql

from tenant_operator.domain.naming import validate_identifier

BCRYPT_COST = 12
BCRYPT_MAX_BYTES = 72
_SET_CONTEXT = sql.SQL("SELECT set_config('integraci.tenant_id', %s, true)")
_SET_SEARCH_PATH = sql.SQL("SELECT set_config('search_path', %s, true)")


class PasswordError(ValueError):
    """A password bcrypt cannot hash faithfully (too long, or containing NUL)."""


def _password_bytes(password: str) -> bytes:
    data = password.encode("utf-8")
    if len(data) > BCRYPT_MAX_BYTES:
        raise PasswordError(
            f"password is {len(data)} bytes in UTF-8; bcrypt uses at most "
            f"{BCRYPT_MAX_BYTES} bytes, so longer passwords are refused rather than truncated"
        )
    if b"\x00" in data or not data:
        raise PasswordError("password must be non-empty and must not contain NUL characters")
    return data


def hash_password(password: str, *, cost: int = BCRYPT_COST) -> str:
    """bcrypt hash (cost >= 12) of ``password``; blocking, see :func:`ahash_password`."""
    if cost < BCRYPT_COST:
        raise PasswordError(f"bcrypt cost must be at least {BCRYPT_COST}")
    return bcrypt.hashpw(_password_bytes(password), bcrypt.gensalt(rounds=cost)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    """True if ``password`` matches ``hashed``; never truncates (too long is a mismatch)."""
    try:
        data = _password_bytes(password)
    except PasswordError:
        return False
    try:
        return bcrypt.checkpw(data, hashed.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


async def ahash_password(password: str, *, cost: int = BCRYPT_COST) -> str:
    """:func:`hash_password` in a worker thread, off the event loop."""
    return await asyncio.to_thread(hash_password, password, cost=cost)


async def acheck_password(password: str, hashed: str) -> bool:
    """:func:`check_password` in a worker thread, off the event loop."""
    return await asyncio.to_thread(check_password, password, hashed)


def _context_params(tenant_id: uuid.UUID, schema: str | None) -> tuple[str, str | None]:
    if not isinstance(tenant_id, uuid.UUID):
        raise TypeError("tenant_id must be a uuid.UUID")
    return str(tenant_id), None if schema is None else validate_identifier(schema, what="schema")


@asynccontextmanager
async def tenant_session(
    conn: psycopg.AsyncConnection[Any], tenant_id: uuid.UUID, *, schema: str | None = None
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One transaction in the tenant's context (and, for ``schema`` tier, its search_path)."""
    context, search_path = _context_params(tenant_id, schema)
    async with conn.transaction():
        await conn.execute(_SET_CONTEXT, [context])
        if search_path is not None:
            await conn.execute(_SET_SEARCH_PATH, [search_path])
        yield conn


@contextmanager
def tenant_session_sync(
    conn: psycopg.Connection[Any], tenant_id: uuid.UUID, *, schema: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """The synchronous twin of :func:`tenant_session`."""
    context, search_path = _context_params(tenant_id, schema)
    with conn.transaction():
        conn.execute(_SET_CONTEXT, [context])
        if search_path is not None:
            conn.execute(_SET_SEARCH_PATH, [search_path])
        yield conn
