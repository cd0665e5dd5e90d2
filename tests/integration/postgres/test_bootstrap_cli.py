"""``tenant-operator bootstrap-roles`` against the session's real PostgreSQL.

The DBA's DSN is the superuser's; the operator role's password comes from the environment.
The session server trusts loopback, so the test makes this module's operator role (roles
are cluster-wide, their names are this module's own) authenticate with scram-sha-256: the
password the command set is then the one that works, and the only one.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devenv.postgres import PostgresServer
from tenant_operator.adapters.postgres.bootstrap_command import operator_dsn_shape
from tenant_operator.adapters.postgres.migrations import migrate
from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.cli import main
from tenant_operator.settings import Settings

pytestmark = pytest.mark.integration

DB = "db_bootstrap_cli"
ROLES = {
    "TENANT_OPERATOR_OWNER_ROLE": f"{DB}_owner",
    "TENANT_OPERATOR_APP_ROLE": f"{DB}_app",
    "TENANT_OPERATOR_OPERATOR_ROLE": f"{DB}_operator",
}
OPERATOR = ROLES["TENANT_OPERATOR_OPERATOR_ROLE"]
PASSWORD = "correct-horse-battery-staple-7f3a"  # planted: must never be printed


@pytest.fixture(scope="module")
def server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """The session server, with password authentication for this module's operator role."""
    hba = postgres_server.data_dir / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"host all {OPERATOR} 127.0.0.1/32 scram-sha-256\n{original}")
    reload(postgres_server)
    try:
        yield postgres_server
    finally:
        hba.write_text(original)
        reload(postgres_server)


@pytest.fixture
def fresh(server: PostgresServer) -> PostgresServer:
    """The module's database and roles made anew: each test bootstraps from nothing.

    So no test relies on the roles (and the password) an earlier one created.
    """
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        for role in ROLES.values():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    server.create_database(DB)
    return server


def reload(server: PostgresServer) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT pg_reload_conf()").fetchone() == (True,)
        rules = conn.execute("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")
        assert rules.fetchone() == (0,)


def bootstrap(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dsn: str,
    password: str | None = PASSWORD,
) -> tuple[int, str]:
    monkeypatch.setenv("DATABASE_URL", dsn)
    for name, value in ROLES.items():
        monkeypatch.setenv(name, value)
    if password is None:
        monkeypatch.delenv("TENANT_OPERATOR_OPERATOR_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("TENANT_OPERATOR_OPERATOR_PASSWORD", password)
    code = main(["bootstrap-roles"])
    out = capsys.readouterr()
    return code, out.out + out.err


def operator_dsn(server: PostgresServer, password: str) -> str:
    return f"postgresql://{OPERATOR}:{password}@127.0.0.1:{server.port}/{DB}{tls_of(server)}"


def tls_of(server: PostgresServer) -> str:
    """The DSN tail that verifies the server (what bootstrap-roles carries over)."""
    return f"?sslmode=verify-full&sslrootcert={server.ca_cert}"


def test_bootstrap_creates_the_roles_and_the_operator_logs_in_with_its_password(
    fresh: PostgresServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fresh
    # The server logs every statement of this session: the password must not be in one.
    logged = make_conninfo(server.dsn(DB), options="-c log_statement=all")
    code, out = bootstrap(monkeypatch, capsys, logged)

    assert code == 0, out
    assert PASSWORD not in out
    server_log = server.log_path.read_text()
    assert f'CREATE ROLE "{OPERATOR}" LOGIN NOBYPASSRLS PASSWORD \'SCRAM-SHA-256$' in server_log
    assert PASSWORD not in server_log
    for role in ROLES.values():
        assert f"created role {role}" in out
    assert "created event trigger integraci_audit_guard_ddl" in out
    assert "created event trigger integraci_audit_guard_drop" in out
    assert "created event trigger integraci_rls_guard_ddl (RLS guard)" in out
    assert "created event trigger integraci_rls_guard_drop (RLS guard)" in out
    assert (
        f"postgresql://{OPERATOR}:<password>@127.0.0.1:{server.port}/{DB}{tls_of(server)}\n" in out
    )

    with psycopg.connect(server.dsn(DB)) as conn:
        attrs = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcanlogin,"
            " pg_has_role(rolname, %s, 'MEMBER'), pg_has_role(rolname, %s, 'MEMBER')"
            " FROM pg_roles WHERE rolname = %s",
            [ROLES["TENANT_OPERATOR_OWNER_ROLE"], ROLES["TENANT_OPERATOR_APP_ROLE"], OPERATOR],
        ).fetchone()
        assert attrs == (False, False, True, True, True)
        triggers = conn.execute("SELECT evtname FROM pg_event_trigger ORDER BY 1").fetchall()
        assert triggers == [
            ("integraci_audit_guard_ddl",),
            ("integraci_audit_guard_drop",),
            ("integraci_rls_guard_ddl",),
            ("integraci_rls_guard_drop",),
        ]

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(operator_dsn(server, "wrong"), connect_timeout=5).close()

    # The operator, with its password, can do what it does at start: migrate the platform.
    settings = Settings(
        owner_role=ROLES["TENANT_OPERATOR_OWNER_ROLE"],
        app_role=ROLES["TENANT_OPERATOR_APP_ROLE"],
        operator_role=OPERATOR,
    )

    async def migrate_as_operator() -> int:
        async with make_pool(operator_dsn(server, PASSWORD), settings, max_size=1) as pool:
            return await migrate(pool, settings)

    assert asyncio.run(migrate_as_operator()) > 0


def test_rerunning_creates_nothing_and_keeps_the_password(
    fresh: PostgresServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fresh
    bootstrap(monkeypatch, capsys, server.dsn(DB))
    code, out = bootstrap(monkeypatch, capsys, server.dsn(DB), password="another-one-9c1d")

    assert code == 0, out
    assert "created" not in out and "another-one-9c1d" not in out
    assert "roles and audit guard already present" in out
    assert f"role {OPERATOR} already existed: its password was not changed" in out
    psycopg.connect(operator_dsn(server, PASSWORD), connect_timeout=5).close()


def test_without_a_password_it_says_so(
    fresh: PostgresServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fresh
    code, out = bootstrap(monkeypatch, capsys, server.dsn(DB), password=None)

    assert code == 0, out
    assert "TENANT_OPERATOR_OPERATOR_PASSWORD was not set" in out


def test_failure_names_the_server_but_not_the_dsn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # No server there: an empty Unix socket directory (no port to race for).
    dsn = f"postgresql://postgres:admin-secret-41b2@/{DB}?host={tmp_path}&connect_timeout=2&sslmode=verify-full"
    code, out = bootstrap(monkeypatch, capsys, dsn)

    assert code == 2
    assert f"bootstrap-roles: failed: PostgreSQL at {tmp_path}:5432" in out
    assert "admin-secret-41b2" not in out and PASSWORD not in out
    assert "will retry" not in out


@pytest.mark.parametrize(
    ("admin_dsn", "shape"),
    [
        (
            "postgresql://postgres:pw@db.example:6432/integraci?sslmode=verify-full",
            "postgresql://integraci_operator:<password>@db.example:6432/integraci"
            "?sslmode=verify-full",
        ),
        (
            "host=db dbname=app sslmode=verify-ca sslrootcert=/etc/pg/ca.crt",
            "postgresql://integraci_operator:<password>@db:5432/app"
            "?sslmode=verify-ca&sslrootcert=/etc/pg/ca.crt",
        ),
        ("host=db dbname=app user=dba", "postgresql://integraci_operator:<password>@db:5432/app"),
        (
            "postgresql:///integraci?host=/run/postgresql",
            "postgresql://integraci_operator:<password>@/integraci?host=/run/postgresql",
        ),
    ],
)
def test_operator_dsn_shape(admin_dsn: str, shape: str) -> None:
    assert operator_dsn_shape(admin_dsn, Settings()) == shape


@pytest.mark.parametrize("mode", ["prefer", "require", None])
def test_a_dsn_that_does_not_verify_the_server_is_refused_naming_the_fix(
    fresh: PostgresServer,
    mode: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("PGSSLMODE", raising=False)
    dsn = f"postgresql://postgres@127.0.0.1:{fresh.port}/{DB}" + (
        f"?sslmode={mode}" if mode else ""
    )
    code, out = bootstrap(monkeypatch, capsys, dsn)
    assert code == 2, out
    assert "refusing to connect" in out
    assert "sslmode=verify-full" in out and "sslrootcert" in out
    assert "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT=true" in out
    assert "created role" not in out
