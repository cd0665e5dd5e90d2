"""psycopg exceptions become RetryableError/PermanentError without leaking the DSN."""

import psycopg
import pytest
from psycopg import errors as pg

from tenant_operator.adapters.postgres.errors import server_label, translate
from tenant_operator.domain.errors import PermanentError, RetryableError


@pytest.mark.parametrize(
    ("dsn", "label"),
    [
        ("postgresql://op:hunter2@db.example:6432/x", "db.example:6432"),
        ("host=10.0.0.1 password=hunter2 dbname=x", "10.0.0.1:5432"),
        ("not a dsn ===", "the configured server"),
    ],
)
def test_server_label_never_contains_the_password(dsn: str, label: str) -> None:
    assert server_label(dsn) == label


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (psycopg.OperationalError("connection refused"), RetryableError, "DatabaseUnavailable"),
        (pg.DeadlockDetected("deadlock"), RetryableError, "DatabaseBusy"),
        (pg.UndefinedTable("no table"), RetryableError, "DatabaseNotMigrated"),
        (pg.InsufficientPrivilege("denied"), PermanentError, "PermissionDenied"),
        (pg.CheckViolation("check"), PermanentError, "InvalidData"),
        (pg.SyntaxError("syntax"), PermanentError, "DatabaseError"),
    ],
)
def test_translation(exc: psycopg.Error, kind: type, reason: str) -> None:
    err = translate(exc, "db:5432")
    assert isinstance(err, kind) and err.reason == reason
    assert "db:5432" in err.message


def test_unreachable_message_names_host_and_port() -> None:
    err = translate(psycopg.OperationalError("connection refused"), "db.example:6432")
    assert err.message.startswith("PostgreSQL at db.example:6432 is unreachable")
