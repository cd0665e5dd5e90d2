"""The audit chain across both stores: entries in real PostgreSQL, the head in real OpenBao.

One module database (as in tests/integration/postgres) and an OpenBao operator holding only
the shipped policy (as in tests/integration/openbao), ``namespace`` layout.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.audit import AuditLog
from tests.support.openbao import operator_token, settings_for
from tests.support.postgres import PgDatabase, make_database


@dataclass(frozen=True)
class ChainPorts:
    """The two ports ``chain.check_chain`` talks to, both real adapters."""

    audit: AuditLog
    bao: OpenBaoTenants


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> PgDatabase:
    return make_database(postgres_server, request.module.__name__)


@pytest.fixture(scope="module")
def bao(openbao_server: OpenBaoServer) -> Iterator[OpenBaoTenants]:
    settings = settings_for(openbao_server, "namespace")
    adapter = OpenBaoTenants(settings, token=operator_token(openbao_server, settings))
    yield adapter
    adapter.close()


def drive(pg: PgDatabase, bao: OpenBaoTenants, body: Any) -> Any:
    """Run ``body(ports)`` with a fresh pool on this event loop."""

    async def main() -> Any:
        async with pg.pool() as pool:
            return await body(ChainPorts(AuditLog(pool, pg.settings), bao))

    return asyncio.run(main())
