"""A throwaway PostgreSQL server: ``initdb`` into a temp dir, ``postgres`` on a free port."""

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Self

import psycopg

from devenv import certs, process

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, postgres) were not found on PATH or in "
    "/usr/lib/postgresql/*/bin. Install them with `apt-get install postgresql-15` "
    "(`make test` does this for you)."
)


def find_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``postgres``, preferring PostgreSQL 15."""
    override = os.environ.get("TENANT_OPERATOR_PG_BIN")
    candidates = [override] if override else []
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    candidates += ["/usr/lib/postgresql/15/bin", *map(str, versions)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "postgres").exists():
            return path
    raise process.ServiceError(INSTALL_HINT)


class PostgresServer(process.Service):
    """A PostgreSQL cluster in a temp dir, listening on 127.0.0.1 only.

    ``durable=False`` (the test default) turns fsync off: fast, and fine for data that is
    thrown away. Authentication is ``trust`` on loopback: this server is local and throwaway.
    """

    superuser = "postgres"

    def __init__(self, *, durable: bool = False, port: int | None = None) -> None:
        self.durable = durable
        self.port = port or process.free_port()
        self.bin_dir = find_bin_dir()
        self.user = process.unprivileged_user("postgres")
        self.root = Path(tempfile.mkdtemp(prefix="tenantop-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "postgres.log"
        self.tls = certs.server_tls(self.root / "tls", "postgres")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def ca_cert(self) -> Path:
        """The CA file that verifies the server's certificate (``sslrootcert``)."""
        return self.tls.ca_cert

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        """A libpq URI that verifies the server (TLS, ``sslmode=verify-full``)."""
        return (
            f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{dbname}"
            f"?sslmode=verify-full&sslrootcert={self.ca_cert}"
        )

    def start(self) -> Self:
        self.socket_dir.mkdir()
        self.log_path.touch()
        process.chown_tree(self.root, self.user)
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
        if not self.data_dir.exists():
            process.run_as(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.superuser,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                self.user,
                log_path=self.log_path,
                env=env,
            )
        self.resume()
        return self

    def resume(self) -> None:
        """(Re)start the server process on the same data dir and port."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "200",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "log_min_messages": "warning",
            "ssl": "on",
            "ssl_cert_file": str(self.tls.cert),
            "ssl_key_file": str(self.tls.key),
            "ssl_min_protocol_version": "TLSv1.2",
        }
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
        self._proc = process.spawn(argv, self.user, log_path=self.log_path, env=env)
        process.wait_until(
            self._accepts_connections, what="postgres", proc=self._proc, log_path=self.log_path
        )
        log.info("PostgreSQL listening on 127.0.0.1:%d (data in %s)", self.port, self.data_dir)

    def pause(self) -> None:
        """Stop the server process but keep its data (to test outages)."""
        process.stop(self._proc, sig=signal.SIGINT)
        self._proc = None

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        """Create a fresh database and return its DSN (as the superuser)."""
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)
