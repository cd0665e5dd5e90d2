"""Per-module PostgreSQL databases for the adapter's tests, on the session's real server.

Each test module gets a fresh database with its own three roles (roles are cluster-wide,
so their names carry the module's name), bootstrapped as the superuser and migrated as the
operator. Tests are synchronous and drive the async adapter with ``asyncio.run``.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
import pytest

from devenv.postgres import PostgresServer
from tenant_operator.adapters.postgres.migrations import migrate
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.session import Pool, make_pool
from tenant_operator.settings import Settings

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class PgDatabase:
    name: str
    server: PostgresServer
    settings: Settings

    @property
    def superuser_dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def operator_dsn(self) -> str:
        return self.server.dsn(self.name, self.settings.operator_role)

    @property
    def app_dsn(self) -> str:
        return self.server.dsn(self.name, self.settings.app_role)

    @asynccontextmanager
    async def pool(self, max_size: int = 4) -> AsyncIterator[Pool]:
        pool = make_pool(self.operator_dsn, self.settings, max_size=max_size)
        await pool.open(wait=True)
        try:
            yield pool
        finally:
            await pool.close()

    def superuser(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.superuser_dsn, autocommit=True)


def make_database(server: PostgresServer, module: str) -> PgDatabase:
    name = "db_" + re.sub(r"[^a-z0-9_]", "_", module.rsplit(".", 1)[-1].lower())
    server.create_database(name)
    settings = Settings(
        owner_role=f"{name}_owner",
        app_role=f"{name}_app",
        operator_role=f"{name}_operator",
        pool_min_size=1,
        pool_max_size=4,
    )
    db = PgDatabase(name, server, settings)

    async def prepare() -> None:
        await bootstrap_roles(db.superuser_dsn, settings)
        async with db.pool(1) as pool:
            await migrate(pool, settings)

    asyncio.run(prepare())
    return db


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> PgDatabase:
    return make_database(postgres_server, request.module.__name__)
