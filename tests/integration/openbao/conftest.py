"""OpenBao adapter fixtures on top of the session ``openbao_server`` (a real dev server).

The helpers (both layouts' settings, operator and tenant tokens) are in
``tests.support.openbao``. Every log record of these tests is captured at DEBUG (root,
hvac, urllib3) into ``bao_log_records``; secrets the tests use are collected in
``bao_secrets``; after each test, no secret known so far may be in a record it logged.
"""

import logging
from collections.abc import Iterator

import hvac
import pytest

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.settings import Settings
from tests.support.logs import capture, leaked, record_text
from tests.support.openbao import LAYOUTS, REVIEWER_JWT, operator_token, settings_for


@pytest.fixture(scope="session")
def bao_log_records() -> Iterator[list[logging.LogRecord]]:
    with capture(("hvac", "urllib3")) as records:
        yield records


@pytest.fixture(scope="session")
def bao_secrets() -> set[str]:
    """Every token and secret value the OpenBao tests use (checked against the logs)."""
    return {REVIEWER_JWT}


@pytest.fixture(autouse=True)
def _capture_logs(
    bao_log_records: list[logging.LogRecord], bao_secrets: set[str]
) -> Iterator[None]:
    """Make every OpenBao test log into the session capture; none of its records leaks.

    Checked after each test (its own records, against every secret known by then), so the
    check holds in any order, not only for tests that ran before a last one.
    """
    start = len(bao_log_records)
    yield
    found = leaked(bao_secrets, map(record_text, bao_log_records[start:]))
    assert found == [], f"{len(found)} secret(s) in this test's log lines"


@pytest.fixture(scope="session")
def bao_root(openbao_server: OpenBaoServer, bao_secrets: set[str]) -> hvac.Client:
    bao_secrets.add(openbao_server.root_token)
    return hvac.Client(
        url=openbao_server.addr, verify=str(openbao_server.ca_cert), token=openbao_server.root_token
    )


@pytest.fixture(scope="session")
def operator_tokens(openbao_server: OpenBaoServer, bao_secrets: set[str]) -> dict[str, str]:
    tokens = {
        layout: operator_token(openbao_server, settings_for(openbao_server, layout))
        for layout in LAYOUTS
    }
    bao_secrets.update(tokens.values())
    return tokens


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(openbao_server: OpenBaoServer, layout: str) -> Settings:
    return settings_for(openbao_server, layout)


@pytest.fixture
def tenants(settings: Settings, operator_tokens: dict[str, str]) -> Iterator[OpenBaoTenants]:
    adapter = OpenBaoTenants(settings, token=operator_tokens[settings.secrets_layout])
    yield adapter
    adapter.close()
