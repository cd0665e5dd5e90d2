"""Helpers for the platform's applications: tenant sessions, passwords, sealed personal data.

:mod:`.sessions` opens the only kind of transaction tenant work may run in
(:func:`tenant_session`) and hashes passwords with bcrypt; :mod:`.personal` reads and writes
the personal-data columns (sealed with the tenant's data key, looked up by blind index)
inside such a session. Everything is importable from here.
"""

from tenant_operator.appkit.personal import (
    Account,
    KeyUnwrapper,
    OpenBaoUnwrapper,
    find_account_by_email,
    find_account_by_email_sync,
    insert_account,
    insert_account_sync,
    open_account,
    tenant_keys,
    tenant_keys_sync,
)
from tenant_operator.appkit.sessions import (
    BCRYPT_COST,
    BCRYPT_MAX_BYTES,
    PasswordError,
    TenantSessionError,
    _context_params,
    acheck_password,
    ahash_password,
    check_password,
    hash_password,
    tenant_session,
    tenant_session_sync,
)

__all__ = [
    "BCRYPT_COST",
    "BCRYPT_MAX_BYTES",
    "Account",
    "KeyUnwrapper",
    "OpenBaoUnwrapper",
    "PasswordError",
    "TenantSessionError",
    "_context_params",
    "acheck_password",
    "ahash_password",
    "check_password",
    "find_account_by_email",
    "find_account_by_email_sync",
    "hash_password",
    "insert_account",
    "insert_account_sync",
    "open_account",
    "tenant_keys",
    "tenant_keys_sync",
    "tenant_session",
    "tenant_session_sync",
]
