"""The rows the operator writes: the owner account, and the row sets of the others.

:func:`ensure_owner` runs inside the caller's transaction, with the tenant context already
set (RLS is FORCEd, so nothing here could touch another tenant's rows), and returns what it
changed; personal data (emails, names, the organisation) is written sealed with the
tenant's data keys (:mod:`tenant_operator.domain.envelope`), re-sealed under new keys by
:func:`reseal_accounts` / :func:`reseal_organisation`. A tenant's connectors and
sub-processor records, and a register entry, are declared here as :class:`~.rowsync.RowSet`
values, which :func:`~.rowsync.sync` makes equal to the wanted rows (one read-compare-write
path).
"""

import hashlib
import secrets
import uuid

import psycopg
from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.rowsync import RowSet, Verbs
from tenant_operator.adapters.postgres.session import Conn
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements import sealed as sealed_sql
from tenant_operator.adapters.postgres.types import OwnerState
from tenant_operator.domain import envelope
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.records import ConnectorRecord, SubProcessorEntry, SubProcessorRecord
from tenant_operator.domain.vocabulary import Reason

#: 256-bit invite tokens; Postgres keeps only their SHA-256 (a slow hash adds nothing here).
INVITE_TOKEN_BYTES = 32


async def ensure_owner(
    conn: Conn,
    schema: str,
    tenant_id: uuid.UUID,
    *,
    name: str,
    email: str,
    keys: KeyRing,
) -> OwnerState:
    """Create the owner account (its invite token returned once), rename it, or replace it.

    The owner is found by the blind index of ``email`` and its name compared by opening
    ``name_enc``; both are written sealed with ``keys`` (the tenant's data keys). Accounts
    of the tenant written in plaintext (before template v5) are sealed first, their
    plaintext nulled, in the caller's transaction.

    Another email is another person: the previous owner's account is deleted (its password
    hash, invite and personal data with it: it has no role but owner) and the new owner is
    invited afresh. A member account that already has the new email is promoted, without
    the password it had (the previous owner may have set it).
    """
    sealed = await seal_plaintext_accounts(conn, schema, tenant_id, keys)
    done = (f"sealed {sealed} account(s) stored in plaintext",) if sealed else ()
    indexes = keys.blind_indexes(email)
    version = keys.current.version
    name_enc = keys.seal(name, envelope.ACCOUNT_NAME)
    row = await (await conn.execute(q.select_owner(schema), [tenant_id])).fetchone()
    previous: uuid.UUID | None = None
    if row is not None:
        account_id, old_name, old_index = row
        if old_index in indexes:
            if _opens_to(keys, old_name, envelope.ACCOUNT_NAME, name):
                return OwnerState(account_id, changed=done)
            await conn.execute(q.update_owner(schema), [name_enc, version, tenant_id, account_id])
            return OwnerState(account_id, changed=(*done, "updated owner name"))
        await conn.execute(q.delete_account(schema), [tenant_id, account_id])
        previous = account_id
    token = secrets.token_urlsafe(INVITE_TOKEN_BYTES)
    digest = hashlib.sha256(token.encode()).digest()
    cur = await conn.execute(q.select_account_id(schema), [tenant_id, indexes])
    member = await cur.fetchone()
    if member is not None:
        new_id = member[0]
        await conn.execute(q.promote_owner(schema), [name_enc, version, digest, tenant_id, new_id])
    else:
        email_enc = keys.seal(email, envelope.ACCOUNT_EMAIL)
        values = [tenant_id, email_enc, name_enc, keys.blind_index(email), version, digest]
        inserted = await (await conn.execute(q.insert_owner(schema), values)).fetchone()
        assert inserted is not None  # INSERT ... RETURNING yields one row
        new_id = inserted[0]
    if previous is None:
        return OwnerState(new_id, token, changed=(*done, "created owner account"))
    what = "replaced the owner: deleted the previous owner's account, password and invite"
    return OwnerState(new_id, token, previous, (*done, what))


def _opens_to(keys: KeyRing, blob: bytes | None, column: str, want: str) -> bool:
    """Whether ``blob`` opens to ``want`` (one that does not open at all is rewritten)."""
    if blob is None:
        return False
    try:
        return keys.open(bytes(blob), column) == want
    except envelope.Unreadable:
        return False


def _sealed_row(keys: KeyRing, email: str, name: str) -> list[object]:
    """seal_account's leading values: email_enc, name_enc, email_bidx, key_version."""
    return [
        keys.seal(email, envelope.ACCOUNT_EMAIL),
        keys.seal(name, envelope.ACCOUNT_NAME),
        keys.blind_index(email),
        keys.current.version,
    ]


async def _seal_rows(
    conn: Conn, schema: str, tenant_id: uuid.UUID, rows: list[tuple[uuid.UUID, list[object]]]
) -> int:
    try:
        for account_id, values in rows:
            await conn.execute(sealed_sql.seal_account(schema), [*values, tenant_id, account_id])
    except psycopg.errors.UniqueViolation:
        raise PermanentError(
            f"tenant {tenant_id}: two accounts have emails that differ only in case or "
            "surrounding space (one blind index); a DBA must merge or delete one of them "
            f"(schema {schema}), then sealing resumes; nothing was changed",
            reason=Reason.INVALID_DATA,
        ) from None
    return len(rows)


async def seal_plaintext_accounts(
    conn: Conn, schema: str, tenant_id: uuid.UUID, keys: KeyRing
) -> int:
    """Seal the tenant's accounts written before template v5 and null their plaintext."""
    cur = await conn.execute(sealed_sql.plaintext_accounts(schema), [tenant_id])
    rows = [
        (account_id, _sealed_row(keys, email or "", name or ""))
        for account_id, email, name in await cur.fetchall()
    ]
    return await _seal_rows(conn, schema, tenant_id, rows)


async def reseal_accounts(
    conn: Conn, schema: str, tenant_id: uuid.UUID, old: KeyRing, new: KeyRing
) -> int:
    """Re-seal every sealed account of the tenant under ``new`` (opened with ``old``)."""
    cur = await conn.execute(sealed_sql.sealed_accounts(schema), [tenant_id])
    rows = [
        (
            account_id,
            _sealed_row(
                new,
                old.open(bytes(email_enc), envelope.ACCOUNT_EMAIL),
                old.open(bytes(name_enc), envelope.ACCOUNT_NAME),
            ),
        )
        for account_id, email_enc, name_enc in await cur.fetchall()
    ]
    return await _seal_rows(conn, schema, tenant_id, rows)


async def ensure_organisation(
    conn: Conn, platform: str, tenant_id: uuid.UUID, organisation: str, keys: KeyRing
) -> tuple[str, ...]:
    """The registry's organisation sealed with ``keys`` (the plaintext of an older row goes)."""
    row = await (
        await conn.execute(sealed_sql.select_organisation(platform), [tenant_id])
    ).fetchone()
    if row is None:
        return ()
    plaintext, stored = row
    if plaintext is None and _opens_to(keys, stored, envelope.ORGANISATION, organisation):
        return ()
    blob = keys.seal(organisation, envelope.ORGANISATION)
    await conn.execute(sealed_sql.seal_organisation(platform), [blob, tenant_id])
    if plaintext is not None:
        return ("sealed the organisation stored in plaintext",)
    return ("stored the organisation" if stored is None else "updated organisation",)


async def reseal_organisation(
    conn: Conn, platform: str, tenant_id: uuid.UUID, old: KeyRing, new: KeyRing
) -> int:
    """Re-seal the registry's organisation under ``new``; 1 if there was one, else 0."""
    row = await (
        await conn.execute(sealed_sql.select_organisation(platform), [tenant_id])
    ).fetchone()
    if row is None or row[1] is None:
        return 0
    value = old.open(bytes(row[1]), envelope.ORGANISATION)
    blob = new.seal(value, envelope.ORGANISATION)
    await conn.execute(sealed_sql.seal_organisation(platform), [blob, tenant_id])
    return 1


def connectors(schema: str, tenant_id: uuid.UUID) -> RowSet[ConnectorRecord]:
    """The tenant's connector rows (in ``schema``), one per connector name."""
    return RowSet(
        noun="connector",
        select=q.select_connectors(schema),
        upsert=q.upsert_connector(schema),
        delete=q.delete_connector(schema),
        scope=(tenant_id,),
        compared=lambda c: (c.type, dict(c.config), c.ref, c.version),
        written=lambda c: (c.type, Jsonb(dict(c.config)), c.ref, c.version),
    )


def subprocessor_records(platform: str, tenant_id: uuid.UUID) -> RowSet[SubProcessorRecord]:
    """The tenant's sub-processor records (in the platform schema), one per register entry."""
    return RowSet(
        noun="sub-processor record",
        select=q.select_records(platform),
        upsert=q.upsert_record(platform),
        delete=q.delete_record(platform),
        scope=(tenant_id,),
        compared=lambda r: (r.state, r.notified_at, r.effective_at, r.objected_at),
        note=lambda r: f" ({r.state})",
    )


def register_entry(platform: str, name: str) -> RowSet[SubProcessorEntry]:
    """The register entry ``name`` (platform-wide); other entries are left alone."""
    return RowSet(
        noun="sub-processor",
        select=q.select_subprocessor(platform),
        upsert=q.upsert_subprocessor(platform),
        delete=None,
        scope=(),
        select_params=(name,),
        compared=lambda e: (
            e.purpose,
            list(e.data_categories),
            e.location,
            e.transfer_mechanism,
            e.notice_days,
        ),
        verbs=Verbs(added="registered"),
    )
