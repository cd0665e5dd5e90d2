"""Exports from real PostgreSQL, signed by real OpenBao transit (operator policy only)."""

from collections.abc import Iterator

import pytest

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tests.support.openbao import operator_token, settings_for
from tests.support.postgres import PgDatabase, make_database


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> PgDatabase:
    return make_database(postgres_server, request.module.__name__)


@pytest.fixture(scope="module")
def bao(openbao_server: OpenBaoServer) -> Iterator[OpenBaoTenants]:
    settings = settings_for(openbao_server, "namespace")
    adapter = OpenBaoTenants(settings, token=operator_token(openbao_server, settings))
    yield adapter
    adapter.close()
