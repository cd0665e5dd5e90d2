"""Run the operator itself against local services, as a subprocess (tests and ``make dev``).

It gets what a production install gets: its own PostgreSQL role (bootstrapped by a
superuser, as a DBA would), an OpenBao token holding only the shipped operator policy,
and a kubeconfig. Its log goes to a file so tests can search it.
"""

import asyncio
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Self

import hvac
import psycopg
from psycopg import sql

from devenv import process
from devenv.kube import KubeApi
from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.openbao.policies import POLICY_FILES
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.settings import Settings

OPERATOR_POLICY = "tenant-operator"


def prepare_database(pg: PostgresServer, dbname: str, settings: Settings) -> str:
    """Create ``dbname`` and the roles (idempotent); return the operator's DSN."""
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    asyncio.run(bootstrap_roles(pg.dsn(dbname), settings))
    return pg.dsn(dbname, settings.operator_role)


def operator_token(bao: OpenBaoServer, settings: Settings) -> str:
    """A token holding only the shipped operator policy (not the root token)."""
    root = hvac.Client(url=bao.addr, verify=str(bao.ca_cert), token=bao.root_token)
    root.sys.create_or_update_acl_policy(
        OPERATOR_POLICY, POLICY_FILES[settings.secrets_layout].read_text()
    )
    answer = root.auth.token.create(policies=[OPERATOR_POLICY], ttl="24h")
    return str(answer["auth"]["client_token"])


def operator_env(
    *,
    database_url: str,
    bao_addr: str,
    bao_cacert: Path,
    bao_token: str,
    kubeconfig: Path,
    **extra: str,
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "KUBECONFIG": str(kubeconfig),
        "DATABASE_URL": database_url,
        "BAO_ADDR": bao_addr,
        "BAO_CACERT": str(bao_cacert),
        "BAO_TOKEN": bao_token,
        "TENANT_OPERATOR_METRICS_PORT": str(process.free_port()),
        "TENANT_OPERATOR_LIVENESS_PORT": str(process.free_port()),
        "TENANT_OPERATOR_POOL_TIMEOUT_SECONDS": "3",
    }
    env.update({f"TENANT_OPERATOR_{k.upper()}": v for k, v in extra.items()})
    return env


class OperatorProcess(process.Service):
    """``tenant-operator run`` as a child process (standalone unless told), log in ``log_path``."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *, standalone: bool = True, priority: int = 0
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.standalone = standalone
        self.priority = priority
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The operator's process id while it runs (``None`` when stopped)."""
        return self._proc.pid if self._proc else None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['TENANT_OPERATOR_METRICS_PORT']}/metrics"

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.env['TENANT_OPERATOR_LIVENESS_PORT']}/healthz"

    def start(self) -> Self:
        argv = [sys.executable, "-m", "tenant_operator.cli", "run", f"--priority={self.priority}"]
        if self.standalone:
            argv.append("--standalone")
        self._proc = process.spawn(argv, None, log_path=self.log_path, env=self.env)
        process.wait_until(
            self._alive, what="tenant-operator", proc=self._proc, log_path=self.log_path
        )
        return self

    def _alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.liveness_url, timeout=2) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        process.stop(self._proc, timeout=30)
        self._proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def ensure_namespaces(kube: KubeApi, names: Iterable[str]) -> None:
    """Create the namespaces that do not exist yet (no controller-manager makes them)."""
    for name in names:
        made = kube.kubectl("create", "namespace", name)
        if made.returncode != 0 and "AlreadyExists" not in made.stderr:
            raise process.ServiceError(f"cannot create namespace {name}: {made.stderr}")


def operator_for(
    pg: PostgresServer,
    bao: OpenBaoServer,
    kube: KubeApi,
    *,
    dbname: str,
    log_path: Path,
    settings: Settings | None = None,
    **extra: str,
) -> OperatorProcess:
    """An operator wired as production wires it: own role, least-privilege token.

    Creates the database, roles and the allowed Secret namespaces; ``extra`` become
    ``TENANT_OPERATOR_*`` settings. Start it with ``with operator_for(...) as op``.
    """
    settings = settings or Settings()
    ensure_namespaces(kube, settings.allowed_secret_namespaces)
    env = operator_env(
        database_url=prepare_database(pg, dbname, settings),
        bao_addr=bao.addr,
        bao_cacert=bao.ca_cert,
        bao_token=operator_token(bao, settings),
        kubeconfig=kube.kubeconfig,
        **extra,
    )
    return OperatorProcess(env, log_path)
