"""Personal data for the platform's application: sealed accounts inside a tenant session.

Accounts keep no plaintext email or name (template v5: a CHECK refuses it, and the
application role has no privilege on those columns): each is sealed with the tenant's data
key, the email also indexed by a keyed blind index for look-ups. The data keys are in
``<platform>.tenant_keys`` as OpenBao transit wrapped them; :func:`tenant_keys` reads them
and has a :class:`KeyUnwrapper` unwrap them (:class:`OpenBaoUnwrapper`: the application's
OpenBao token, holding the tenant's ``tenant-<slug>-data-key`` policy, decrypts them with
the tenant's transit key). The plaintext keys live in memory only::

    unwrap = OpenBaoUnwrapper("https://openbao:8200", "acme", token=TOKEN)
    async with tenant_session(conn, tenant_id) as tx:
        keys = await tenant_keys(tx, unwrap)
        account_id = await insert_account(tx, keys, schema="integraci",
                                          email="ann@acme.example", name="Ann")
        found = await find_account_by_email(tx, keys, "ANN@acme.example", schema="integraci")

Every helper that touches the database refuses (:class:`TenantSessionError`) outside
:func:`tenant_session` (whose guarantees it relies on: one transaction, the tenant's
context set for it only). Destroying the tenant's transit key (erasure) leaves every
wrapped key, so every sealed value in every copy, unreadable.
"""

import asyncio
import base64
import binascii
import json
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import sql

from tenant_operator.appkit.sessions import _ACTIVE, TenantSessionError
from tenant_operator.domain import envelope
from tenant_operator.domain.envelope import DataKey, KeyRing, Unreadable
from tenant_operator.domain.naming import validate_identifier, validate_slug
from tenant_operator.domain.vocabulary import TENANT_CONTEXT_SETTING

DEFAULT_PLATFORM_SCHEMA = "integraci"
DEFAULT_TRANSIT_MOUNT = "transit"

_CONTEXT = sql.SQL("SELECT nullif(current_setting({}, true), '')").format(
    sql.Literal(TENANT_CONTEXT_SETTING)
)


class KeyUnwrapper(Protocol):
    """Unwraps one tenant's data keys (``vault:vN:...``) into their 32 plaintext bytes."""

    def unwrap(self, wrapped: str) -> bytes: ...


@dataclass(frozen=True)
class OpenBaoUnwrapper:
    """Unwraps with OpenBao transit: ``POST <addr>/v1/<transit>/decrypt/tenant-<slug>``.

    ``token`` needs only the tenant's data-key policy. ``namespace`` is the operator's
    OpenBao namespace (where the transit mount is), if any. TLS is verified (``cafile``:
    the CA to verify with); ``http://`` is refused unless ``allow_plaintext``.
    """

    addr: str
    slug: str
    token: str = field(repr=False)
    transit: str = DEFAULT_TRANSIT_MOUNT
    namespace: str | None = None
    cafile: str | None = None
    allow_plaintext: bool = False
    timeout: float = 10.0

    def __post_init__(self) -> None:
        validate_slug(self.slug)
        if not self.addr.startswith("https://") and not (
            self.allow_plaintext and self.addr.startswith("http://")
        ):
            raise ValueError("OpenBao address must be https:// (or allow_plaintext for http://)")

    def unwrap(self, wrapped: str) -> bytes:
        url = f"{self.addr.rstrip('/')}/v1/{self.transit}/decrypt/tenant-{self.slug}"
        headers = {"X-Vault-Token": self.token, "Content-Type": "application/json"}
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        body = json.dumps({"ciphertext": wrapped}).encode()
        # the scheme is http(s) only (checked in __post_init__)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        context = (
            ssl.create_default_context(cafile=self.cafile) if url.startswith("https") else None
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout, context=context
            ) as answer:
                plaintext = json.load(answer)["data"]["plaintext"]
            return base64.b64decode(plaintext, validate=True)
        except urllib.error.HTTPError as exc:  # no body: it could echo what was sent
            raise Unreadable(
                f"OpenBao refused to unwrap a data key of tenant {self.slug} "
                f"(HTTP {exc.code}): the token lacks its data-key policy, or the key is gone"
            ) from None
        except (urllib.error.URLError, OSError, KeyError, TypeError, binascii.Error) as exc:
            raise Unreadable(
                f"no data key of tenant {self.slug} from OpenBao at {self.addr}: "
                f"{type(exc).__name__}"
            ) from None


@dataclass(frozen=True)
class Account:
    """An account as the application sees it: its personal data opened."""

    id: uuid.UUID
    email: str
    name: str
    is_owner: bool
    password_hash: str | None = field(default=None, repr=False)


def _in_session(conn: object) -> None:
    if conn not in _ACTIVE:
        raise TenantSessionError(
            "personal data is read and written only inside tenant_session (its transaction "
            "and tenant context); open one on this connection first"
        )


def _keys_query(platform: str) -> sql.Composed:
    return sql.SQL("SELECT version, wrapped FROM {} WHERE tenant_id = %s ORDER BY version").format(
        sql.Identifier(validate_identifier(platform, what="schema"), "tenant_keys")
    )


def _ring(tenant_id: uuid.UUID, rows: list[Any], unwrap: KeyUnwrapper) -> KeyRing:
    if not rows:
        raise Unreadable(f"tenant {tenant_id} has no data key yet (the operator makes it)")
    return KeyRing.of(tenant_id, [DataKey(int(v), unwrap.unwrap(str(w))) for v, w in rows])


def _context(row: tuple[Any, ...] | None) -> uuid.UUID:
    assert row is not None and row[0]  # tenant_session set it
    return uuid.UUID(str(row[0]))


async def tenant_keys(
    conn: psycopg.AsyncConnection[Any],
    unwrap: KeyUnwrapper,
    *,
    platform: str = DEFAULT_PLATFORM_SCHEMA,
) -> KeyRing:
    """The session's tenant's data keys, unwrapped (in a worker thread: it is blocking I/O)."""
    _in_session(conn)
    tenant_id = _context(await (await conn.execute(_CONTEXT)).fetchone())
    rows = await (await conn.execute(_keys_query(platform), [tenant_id])).fetchall()
    return await asyncio.to_thread(_ring, tenant_id, rows, unwrap)


def tenant_keys_sync(
    conn: psycopg.Connection[Any], unwrap: KeyUnwrapper, *, platform: str = DEFAULT_PLATFORM_SCHEMA
) -> KeyRing:
    """The synchronous twin of :func:`tenant_keys`."""
    _in_session(conn)
    tenant_id = _context(conn.execute(_CONTEXT).fetchone())
    return _ring(tenant_id, conn.execute(_keys_query(platform), [tenant_id]).fetchall(), unwrap)


def _insert(
    keys: KeyRing, schema: str, email: str, name: str, password_hash: str | None
) -> tuple[sql.Composed, list[object]]:
    query = sql.SQL(
        "INSERT INTO {} (tenant_id, email_enc, name_enc, email_bidx, key_version, password_hash)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
    ).format(sql.Identifier(validate_identifier(schema, what="schema"), "accounts"))
    values: list[object] = [
        keys.tenant_id,
        keys.seal(email, envelope.ACCOUNT_EMAIL),
        keys.seal(name, envelope.ACCOUNT_NAME),
        keys.blind_index(email),
        keys.current.version,
        password_hash,
    ]
    return query, values


def _find(keys: KeyRing, schema: str, email: str) -> tuple[sql.Composed, list[object]]:
    query = sql.SQL(
        "SELECT id, email_enc, name_enc, is_owner, password_hash FROM {}"
        " WHERE tenant_id = %s AND email_bidx = ANY (%s)"
    ).format(sql.Identifier(validate_identifier(schema, what="schema"), "accounts"))
    return query, [keys.tenant_id, keys.blind_indexes(email)]


def open_account(keys: KeyRing, row: tuple[Any, ...]) -> Account:
    """An account row ``(id, email_enc, name_enc, is_owner, password_hash)`` opened.

    :class:`~tenant_operator.domain.envelope.Unreadable` when its values are not this
    tenant's (copied from another tenant's row or column) or their key is gone.
    """
    account_id, email_enc, name_enc, is_owner, password_hash = row
    return Account(
        account_id,
        keys.open(bytes(email_enc), envelope.ACCOUNT_EMAIL),
        keys.open(bytes(name_enc), envelope.ACCOUNT_NAME),
        bool(is_owner),
        password_hash,
    )


def _inserted(row: tuple[Any, ...] | None) -> uuid.UUID:
    assert row is not None  # INSERT ... RETURNING yields one row
    return uuid.UUID(str(row[0]))


async def insert_account(
    conn: psycopg.AsyncConnection[Any],
    keys: KeyRing,
    *,
    schema: str,
    email: str,
    name: str,
    password_hash: str | None = None,
) -> uuid.UUID:
    """Insert a (non-owner) account with its email and name sealed; returns its id.

    ``schema``: the tenant's schema (``schema`` tier) or the platform schema (``shared``).
    """
    _in_session(conn)
    query, values = _insert(keys, schema, email, name, password_hash)
    return _inserted(await (await conn.execute(query, values)).fetchone())


def insert_account_sync(
    conn: psycopg.Connection[Any],
    keys: KeyRing,
    *,
    schema: str,
    email: str,
    name: str,
    password_hash: str | None = None,
) -> uuid.UUID:
    """The synchronous twin of :func:`insert_account`."""
    _in_session(conn)
    query, values = _insert(keys, schema, email, name, password_hash)
    return _inserted(conn.execute(query, values).fetchone())


async def find_account_by_email(
    conn: psycopg.AsyncConnection[Any], keys: KeyRing, email: str, *, schema: str
) -> Account | None:
    """The account with ``email`` (case and surrounding space ignored), by blind index."""
    _in_session(conn)
    row = await (await conn.execute(*_find(keys, schema, email))).fetchone()
    return None if row is None else open_account(keys, row)


def find_account_by_email_sync(
    conn: psycopg.Connection[Any], keys: KeyRing, email: str, *, schema: str
) -> Account | None:
    """The synchronous twin of :func:`find_account_by_email`."""
    _in_session(conn)
    row = conn.execute(*_find(keys, schema, email)).fetchone()
    return None if row is None else open_account(keys, row)
