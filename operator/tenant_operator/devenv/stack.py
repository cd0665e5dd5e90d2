"""The local stack behind ``tenant-operator dev``: real services plus a ``.dev/env`` file."""

import contextlib
import logging
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tenant_operator.devenv.openbao import OpenBaoServer
from tenant_operator.devenv.postgres import PostgresServer

log = logging.getLogger(__name__)

DEV_DATABASE = "integraci"


@dataclass
class DevStack:
    """Running local services and the settings a user needs to look inside them."""

    postgres: PostgresServer
    openbao: OpenBaoServer
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.dsn(DEV_DATABASE),
            "BAO_ADDR": self.openbao.addr,
            "BAO_TOKEN": self.openbao.root_token,
            **self.extra_env,
        }


def render_env(env: Mapping[str, str]) -> str:
    """Shell-sourceable ``export`` lines."""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(render_env(env))


@contextlib.contextmanager
def dev_stack() -> Iterator[DevStack]:
    """Start PostgreSQL (durable) and OpenBao; stop both on exit."""
    with PostgresServer(durable=True) as pg, OpenBaoServer() as bao:
        pg.create_database(DEV_DATABASE)
        yield DevStack(postgres=pg, openbao=bao)
