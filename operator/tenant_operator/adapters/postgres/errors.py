"""Translate psycopg exceptions into the operator's RetryableError / PermanentError.

Messages name the server as ``host:port`` (never the DSN, which may hold a password) and
say what to do. Use :func:`pg_errors` around every database call of the adapter.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
from psycopg import errors as pg
from psycopg.conninfo import conninfo_to_dict

from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

#: SQLSTATE classes / errors that go away by themselves: retry with backoff.
_RETRYABLE = (
    pg.SerializationFailure,
    pg.DeadlockDetected,
    pg.LockNotAvailable,
    pg.QueryCanceled,
    pg.AdminShutdown,
    pg.CannotConnectNow,
    pg.TooManyConnections,
)


def server_label(conninfo: str) -> str:
    """``host:port`` of a libpq conninfo, without user or password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the configured server"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    return f"{host}:{params.get('port') or 5432}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def translate(exc: psycopg.Error, server: str) -> OperatorError:
    """The operator error for ``exc`` (``server`` is a ``host:port`` label)."""
    if isinstance(exc, pg.InsufficientPrivilege):
        return PermanentError(
            f"PostgreSQL at {server} refused: {_first_line(exc)}; check the roles' grants "
            "(see adapters.postgres.roles)",
            reason=Reason.PERMISSION_DENIED,
        )
    if isinstance(exc, _RETRYABLE):
        return RetryableError(
            f"PostgreSQL at {server} is busy: {_first_line(exc)}", reason=Reason.DATABASE_BUSY
        )
    if isinstance(exc, psycopg.OperationalError):
        return RetryableError(
            f"PostgreSQL at {server} is unreachable or dropped the connection "
            f"({_first_line(exc)}); will retry",
            reason=Reason.DATABASE_UNAVAILABLE,
        )
    if isinstance(exc, pg.UndefinedTable | pg.InvalidSchemaName | pg.UndefinedFunction):
        return RetryableError(
            f"PostgreSQL at {server}: {_first_line(exc)}; the platform migrations have not "
            "run yet (the operator applies them at start)",
            reason=Reason.DATABASE_NOT_MIGRATED,
        )
    if isinstance(exc, psycopg.IntegrityError):
        return PermanentError(
            f"PostgreSQL at {server} rejected the data: {_first_line(exc)}",
            reason=Reason.INVALID_DATA,
        )
    return PermanentError(
        f"PostgreSQL at {server}: {_first_line(exc)}", reason=Reason.DATABASE_ERROR
    )


@asynccontextmanager
async def pg_errors(server: str | Callable[[], str]) -> AsyncIterator[None]:
    """Re-raise psycopg errors inside the block as operator errors.

    ``server`` is the ``host:port`` label, or a callable computing it only on error.
    """
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc, server if isinstance(server, str) else server()) from exc
