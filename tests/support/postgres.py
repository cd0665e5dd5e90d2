"""Databases of their own on the session's real PostgreSQL server, and tenants in them.

:func:`make_database` gives a test module a fresh database with its own three roles (roles
are cluster-wide, so their names carry the database's name), bootstrapped as the superuser
and migrated as the operator; :func:`database_settings` are the settings naming those roles.
Tests are synchronous and drive the async adapter with ``asyncio.run``.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg

from devenv.postgres import PostgresServer
from tenant_operator.adapters.postgres.migrations import migrate
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.session import Pool, make_pool
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.domain.vocabulary import Isolation
from tenant_operator.settings import Settings


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

    @asynccontextmanager
    async def tenants(self, max_size: int = 4) -> AsyncIterator[PostgresTenants]:
        """The operator's PostgreSQL adapter over a pool of its own."""
        async with self.pool(max_size) as pool:
            yield PostgresTenants(pool, self.settings)

    def superuser(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.superuser_dsn, autocommit=True)


def database_settings(name: str, *, pool_max_size: int = 4) -> Settings:
    """Settings whose three roles are the database ``name``'s own."""
    return Settings(
        owner_role=f"{name}_owner",
        app_role=f"{name}_app",
        operator_role=f"{name}_operator",
        pool_min_size=1,
        pool_max_size=pool_max_size,
    )


def create_platform(server: PostgresServer, name: str, settings: Settings) -> None:
    """Database ``name``, the roles of ``settings`` bootstrapped, the platform migrated.

    Bootstrapped as the superuser (what a DBA runs once), migrated as the operator role
    (what the operator does at start); for tests and benches alike.
    """
    server.create_database(name)

    async def prepare() -> None:
        await bootstrap_roles(server.dsn(name), settings)
        pool = make_pool(server.dsn(name, settings.operator_role), settings, max_size=1)
        await pool.open(wait=True)
        try:
            await migrate(pool, settings)
        finally:
            await pool.close()

    asyncio.run(prepare())


def make_database(server: PostgresServer, module: str) -> PgDatabase:
    """A fresh database named for ``module``, with roles of its own and the platform."""
    name = "db_" + re.sub(r"[^a-z0-9_]", "_", module.rsplit(".", 1)[-1].lower())
    settings = database_settings(name)
    create_platform(server, name, settings)
    return PgDatabase(name, server, settings)


async def ensure_tenants(
    tenants: PostgresTenants, prefix: str, isolations: Mapping[str, str]
) -> dict[str, uuid.UUID]:
    """Tenants ``<prefix>-<key>`` on plan team, organisation ``KEY``, in the order given."""
    ids: dict[str, uuid.UUID] = {}
    for key, isolation in isolations.items():
        state = await tenants.ensure_tenant(
            f"{prefix}-{key}", organisation=key.upper(), plan="team", isolation=Isolation(isolation)
        )
        ids[key] = state.tenant_id
    return ids
