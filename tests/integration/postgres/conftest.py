"""Per-module PostgreSQL databases for the adapter's tests, on the session's real server.

Each test module gets a fresh database (``tests.support.postgres.make_database``) with its
own three roles, bootstrapped as the superuser and migrated as the operator. Tests are
synchronous and drive the async adapter with ``asyncio.run``.
"""

import pytest

from devenv.postgres import PostgresServer
from tests.support.postgres import PgDatabase, make_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> PgDatabase:
    return make_database(postgres_server, request.module.__name__)
