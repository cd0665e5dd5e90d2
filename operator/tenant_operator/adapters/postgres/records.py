"""The rows the operator writes: the owner account, and the row sets of the others.

:func:`ensure_owner` runs inside the caller's transaction, with the tenant context already
set (RLS is FORCEd, so nothing here could touch another tenant's rows), and returns what it
changed. A tenant's connectors and sub-processor records, and a register entry, are
declared here as :class:`~.rowsync.RowSet` values, which :func:`~.rowsync.sync` makes
equal to the wanted rows (one read-compare-write path).
"""

import hashlib
import secrets
import uuid

from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.rowsync import RowSet, Verbs
from tenant_operator.adapters.postgres.session import Conn
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.types import OwnerState
from tenant_operator.domain.records import ConnectorRecord, SubProcessorEntry, SubProcessorRecord

#: 256-bit invite tokens; Postgres keeps only their SHA-256 (a slow hash adds nothing here).
INVITE_TOKEN_BYTES = 32


async def ensure_owner(
    conn: Conn, schema: str, tenant_id: uuid.UUID, *, name: str, email: str
) -> OwnerState:
    """Create the owner account (its invite token returned once), rename it, or replace it.

    Another email is another person: the previous owner's account is deleted (its password
    hash, invite and personal data with it: it has no role but owner) and the new owner is
    invited afresh. A member account that already has the new email is promoted, without
    the password it had (the previous owner may have set it).
    """
    row = await (await conn.execute(q.select_owner(schema), [tenant_id])).fetchone()
    previous: uuid.UUID | None = None
    if row is not None:
        account_id, old_name, old_email = row
        if old_email == email:
            if old_name == name:
                return OwnerState(account_id)
            await conn.execute(q.update_owner(schema), [name, tenant_id, account_id])
            return OwnerState(account_id, changed=("updated owner name",))
        await conn.execute(q.delete_account(schema), [tenant_id, account_id])
        previous = account_id
    token = secrets.token_urlsafe(INVITE_TOKEN_BYTES)
    digest = hashlib.sha256(token.encode()).digest()
    member = await (await conn.execute(q.select_account_id(schema), [tenant_id, email])).fetchone()
    if member is not None:
        new_id = member[0]
        await conn.execute(q.promote_owner(schema), [name, digest, tenant_id, new_id])
    else:
        cur = await conn.execute(q.insert_owner(schema), [tenant_id, name, email, digest])
        inserted = await cur.fetchone()
        assert inserted is not None  # INSERT ... RETURNING yields one row
        new_id = inserted[0]
    if previous is None:
        return OwnerState(new_id, token, changed=("created owner account",))
    what = "replaced the owner: deleted the previous owner's account, password and invite"
    return OwnerState(new_id, token, previous, (what,))


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
