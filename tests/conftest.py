"""Session-scoped real services shared by every test tier.

PostgreSQL and OpenBao are started once per session on free loopback ports and torn down
at the end. A missing binary fails loudly with what to install; it never skips silently.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from devenv.s3 import S3Server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer(durable=False) as server:
        yield server


@pytest.fixture(scope="session")
def openbao_server() -> Iterator[OpenBaoServer]:
    with OpenBaoServer() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """SeaweedFS ``weed server -s3`` (``make s3-bins``); started only by tests that ask."""
    with S3Server() as server:
        yield server


#: Test directories whose tests carry their directory's name as a marker: the tiers that
#: need real services, and the checks of the shipped files (helm, hadolint, gitops-health).
TIER_MARKERS = ("integration", "e2e", "repo")
TESTS_ROOT = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration, tests/e2e or tests/repo with its tier, by path.

    So ``pytest -m "not e2e"`` (or ``"not e2e and not integration"``) selects without a
    ``pytestmark`` in every file, and a new file cannot forget it.
    """
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(TESTS_ROOT):
            tier = path.relative_to(TESTS_ROOT).parts[0]
            if tier in TIER_MARKERS:
                item.add_marker(tier)
