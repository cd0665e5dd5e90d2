"""Session-scoped real services shared by every test tier.

PostgreSQL and OpenBao are started once per session on free loopback ports and torn down
at the end. A missing binary fails loudly with what to install; it never skips silently.
"""

from collections.abc import Iterator

import pytest

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer(durable=False) as server:
        yield server


@pytest.fixture(scope="session")
def openbao_server() -> Iterator[OpenBaoServer]:
    with OpenBaoServer() as server:
        yield server
