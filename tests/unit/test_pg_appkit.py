"""The application helpers: password rules (bcrypt cost 12, no silent truncation), and
the search_path tenant_session sets (its misuse refusals are tested against PostgreSQL in
tests/integration/postgres/test_pg_tenant_session.py)."""

import asyncio
import re

import pytest

from tenant_operator.adapters.postgres.statements.common import BCRYPT_COST_12_PATTERN
from tenant_operator.appkit import (
    PasswordError,
    acheck_password,
    ahash_password,
    check_password,
    hash_password,
)


def test_hash_is_bcrypt_cost_12_and_matches_the_database_check() -> None:
    hashed = asyncio.run(ahash_password("correct horse battery staple"))
    assert hashed.startswith("$2b$12$")
    assert re.fullmatch(BCRYPT_COST_12_PATTERN, hashed)
    assert asyncio.run(acheck_password("correct horse battery staple", hashed))
    assert not check_password("wrong", hashed)


def test_over_72_bytes_is_refused_not_truncated() -> None:
    with pytest.raises(PasswordError, match=r"73 bytes.*at most 72"):
        hash_password("a" * 73)
    with pytest.raises(PasswordError, match="74 bytes"):
        hash_password("é" * 37)  # 37 chars, 74 bytes in UTF-8
    hashed = hash_password("a" * 72)
    assert check_password("a" * 72, hashed)
    assert not check_password("a" * 72 + "b", hashed)  # bcrypt alone would say True


@pytest.mark.parametrize("bad", ["", "nul\x00byte"])
def test_empty_and_nul_passwords_are_refused(bad: str) -> None:
    with pytest.raises(PasswordError):
        hash_password(bad)


def test_weaker_cost_is_refused_and_garbage_hashes_do_not_match() -> None:
    with pytest.raises(PasswordError, match="at least 12"):
        hash_password("pw", cost=10)
    assert not check_password("pw", "not-a-hash")
    assert not re.fullmatch(BCRYPT_COST_12_PATTERN, "$2b$10$" + "a" * 53)


def test_tenant_session_search_path_puts_pg_temp_explicitly_last() -> None:
    import uuid

    from tenant_operator.appkit import TenantSessionError, _context_params
    from tenant_operator.domain.errors import PermanentError

    tenant = uuid.uuid4()
    assert _context_params(tenant, "t_acme") == (str(tenant), "t_acme, pg_catalog, pg_temp")
    assert _context_params(tenant, None) == (str(tenant), "pg_catalog, pg_temp")
    with pytest.raises(PermanentError, match="not a valid identifier"):
        _context_params(tenant, "t_acme, public")
    with pytest.raises(TypeError, match=r"uuid\.UUID"):
        _context_params(str(tenant), None)  # type: ignore[arg-type]
    assert issubclass(TenantSessionError, RuntimeError)
