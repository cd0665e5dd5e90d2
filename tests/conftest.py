"""Session-scoped real services shared by every test tier.

PostgreSQL and OpenBao are started once per session on free loopback ports and torn down
at the end. A missing binary fails loudly with what to install; it never skips silently.
"""

from collections.abc import Iterator
from pathlib import Path

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


#: Directories whose tests need real services, and the marker each of their tests carries.
TIER_MARKERS = ("integration", "e2e")
TESTS_ROOT = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration or tests/e2e with its tier, by path.

    So ``pytest -m "not e2e"`` (or ``"not e2e and not integration"``) selects without a
    ``pytestmark`` in every file, and a new file cannot forget it.
    """
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(TESTS_ROOT):
            tier = path.relative_to(TESTS_ROOT).parts[0]
            if tier in TIER_MARKERS:
                item.add_marker(tier)
