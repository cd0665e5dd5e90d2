"""Helpers for the platform's applications: tenant sessions and bcrypt passwords.

Applications connect as the application role (no BYPASSRLS) and must do all tenant work
inside :func:`tenant_session`, which opens one transaction of its own and sets the tenant
context for that transaction only (``set_config('integraci.tenant_id', ..., true)``): it can
never leak to the next transaction on a pooled connection, and outside it every tenant
table shows no rows::

    async with await psycopg.AsyncConnection.connect(APP_DSN) as conn:
        async with tenant_session(conn, tenant_id) as tx:
            await tx.execute("INSERT INTO integraci.pipeline_runs (tenant_id, pipeline,"
                             " status) VALUES (%s, %s, %s)", [tenant_id, "build", "queued"])

    stored = await ahash_password(password)        # bcrypt, cost 12, in a worker thread
    ok = await acheck_password(password, stored)

Safe under pooling, it refuses (:class:`TenantSessionError`) to start

- on a connection already in a transaction: psycopg would make it a savepoint, and the
  context set inside it would stay set for the rest of the caller's transaction;
- inside another ``tenant_session`` on the same connection (same reason: the inner tenant's
  context would replace the outer one for the rest of the outer block);
- on a connection carrying a session-level tenant context (``set_config(..., false)`` by
  earlier code), which would come back into force after the block, an open ``WITH HOLD``
  cursor (rows of an earlier session) or a ``LISTEN`` (notifications meant for an earlier
  session);

it rolls back (and raises) a block that leaves a ``WITH HOLD`` cursor open, which would
carry the tenant's rows past the transaction to the connection's next user, or that changed
the tenant context (a session-level one would stay on the connection); and it ends the
block with ``UNLISTEN *``: a ``LISTEN`` inside the block (PostgreSQL only shows it once
committed) would keep delivering to the connection's next user. Listen on a dedicated
connection, outside ``tenant_session``.

It also sets ``search_path`` for the transaction: ``<schema>, pg_catalog, pg_temp`` for the
``schema`` tier (pass ``schema=``; the ``shared`` tier may pass the platform schema too) and
``pg_catalog, pg_temp`` without ``schema``: ``pg_temp`` comes explicitly last, so a temporary
table left on a pooled connection can never shadow a tenant table, and a session-level
``search_path`` left by earlier code never applies. Without ``schema``, name tables with
their schema (``integraci.pipeline_runs``). The engine backs this up: the application role
cannot create temporary tables at all (see :mod:`tenant_operator.adapters.postgres.roles`).

Passwords longer than bcrypt's 72-byte limit are refused (bcrypt would silently ignore the
rest). ``accounts.password_hash`` has a CHECK that accepts only bcrypt of cost >= 12.
"""

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import bcrypt
import psycopg
from psycopg import pq, sql

from tenant_operator.domain.naming import validate_identifier
from tenant_operator.domain.vocabulary import TENANT_CONTEXT_SETTING

BCRYPT_COST = 12
BCRYPT_MAX_BYTES = 72
_SETTING = sql.Literal(TENANT_CONTEXT_SETTING)
_SET_CONTEXT = sql.SQL("SELECT set_config({}, %s, true)").format(_SETTING)
_SET_SEARCH_PATH = sql.SQL("SELECT set_config('search_path', %s, true)")
#: The context before this transaction sets it (non-empty only if set at session level),
#: and whether a WITH HOLD cursor is open on the connection.
_GET_CONTEXT = sql.SQL(
    "SELECT current_setting({}, true),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_cursors WHERE is_holdable),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_listening_channels())"
).format(_SETTING)
#: A LISTEN of the block would outlive it (listening is per connection, from the commit on).
_UNLISTEN = sql.SQL("UNLISTEN *")
#: At the end of the block: a WITH HOLD cursor open, and the tenant context now.
_HELD_CURSORS = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_cursors WHERE is_holdable),"
    " current_setting({}, true)"
).format(_SETTING)

#: Connections currently inside a tenant_session (to name nesting as such).
_ACTIVE: weakref.WeakSet[object] = weakref.WeakSet()


class TenantSessionError(RuntimeError):
    """``tenant_session`` misused: it would leak or carry a tenant context; nothing was set."""


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


def _context_params(tenant_id: uuid.UUID, schema: str | None) -> tuple[str, str]:
    if not isinstance(tenant_id, uuid.UUID):
        raise TypeError("tenant_id must be a uuid.UUID")
    if schema is None:
        return str(tenant_id), "pg_catalog, pg_temp"
    schema = validate_identifier(schema, what="schema")
    # a bound value, not SQL: validate_identifier allows only [a-z0-9_], which needs no
    # quoting in a search_path; pg_temp explicitly last, so no temporary table shadows
    return str(tenant_id), ", ".join((schema, "pg_catalog", "pg_temp"))


def _check_free(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Refuse a connection inside a tenant_session or inside any open transaction."""
    if conn in _ACTIVE:
        raise TenantSessionError(
            "already inside tenant_session on this connection: a nested session would "
            "replace the outer tenant's context for the rest of the outer block; finish the "
            "outer block first, or use another connection for the other tenant"
        )
    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise TenantSessionError(
            f"the connection is already in a transaction ({status.name}): tenant_session "
            "must start its own transaction, or its tenant context would stay set after the "
            "block; commit or roll back first (or use a fresh connection from the pool)"
        )


def _check_no_session_context(row: tuple[Any, ...] | None) -> None:
    if row is not None and row[0]:
        raise TenantSessionError(
            "a session-level tenant context is set on this connection (set_config(..., "
            "false) or SET integraci.tenant_id): it would apply again after the block; "
            "RESET integraci.tenant_id (or discard the connection) and only use tenant_session"
        )
    if row is not None and row[1]:
        raise TenantSessionError(
            "a WITH HOLD cursor is open on this connection: it holds rows of an earlier "
            "session; CLOSE it (or discard the connection) before tenant_session"
        )
    if row is not None and row[2]:
        raise TenantSessionError(
            "this connection LISTENs (pg_listening_channels()): notifications meant for an "
            "earlier session would reach this one; UNLISTEN * (or discard the connection) "
            "before tenant_session, and listen on a dedicated connection"
        )


def _check_block_end(row: tuple[Any, ...] | None, context: str) -> None:
    if row is not None and row[1] != context:
        raise TenantSessionError(
            "the block changed the tenant context (set_config or SET integraci.tenant_id): "
            "its rows could belong to another tenant, and a session-level context would stay "
            "on the connection; the transaction was rolled back; open a new tenant_session "
            "for the other tenant instead"
        )
    if row is not None and row[0]:
        raise TenantSessionError(
            "the block left a WITH HOLD cursor open: it would carry this tenant's rows past "
            "the transaction to the connection's next user; the transaction was rolled back; "
            "use an ordinary cursor (without hold) inside tenant_session"
        )


@asynccontextmanager
async def tenant_session(
    conn: psycopg.AsyncConnection[Any], tenant_id: uuid.UUID, *, schema: str | None = None
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One new transaction in the tenant's context, with a search_path ending in pg_temp.

    Raises :class:`TenantSessionError` (before setting anything) inside an open
    transaction, inside another ``tenant_session``, with a session-level tenant context or
    a WITH HOLD cursor open; and (rolling back) if the block leaves a WITH HOLD cursor open.
    """
    context, search_path = _context_params(tenant_id, schema)
    _check_free(conn)
    _ACTIVE.add(conn)
    try:
        async with conn.transaction():
            _check_no_session_context(await (await conn.execute(_GET_CONTEXT)).fetchone())
            await conn.execute(_SET_CONTEXT, [context])
            await conn.execute(_SET_SEARCH_PATH, [search_path])
            yield conn
            await conn.execute(_UNLISTEN)
            _check_block_end(await (await conn.execute(_HELD_CURSORS)).fetchone(), context)
    finally:
        _ACTIVE.discard(conn)


@contextmanager
def tenant_session_sync(
    conn: psycopg.Connection[Any], tenant_id: uuid.UUID, *, schema: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """The synchronous twin of :func:`tenant_session` (same refusals)."""
    context, search_path = _context_params(tenant_id, schema)
    _check_free(conn)
    _ACTIVE.add(conn)
    try:
        with conn.transaction():
            _check_no_session_context(conn.execute(_GET_CONTEXT).fetchone())
            conn.execute(_SET_CONTEXT, [context])
            conn.execute(_SET_SEARCH_PATH, [search_path])
            yield conn
            conn.execute(_UNLISTEN)
            _check_block_end(conn.execute(_HELD_CURSORS).fetchone(), context)
    finally:
        _ACTIVE.discard(conn)
