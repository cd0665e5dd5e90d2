"""Read-compare-write of one tenant's rows: owner account, connectors, sub-processor records.

Each function runs inside the caller's transaction, with the tenant context already set
(RLS is FORCEd, so nothing here could touch another tenant's rows), and returns a
human-readable list of what it changed.
"""

import hashlib
import secrets
import uuid
from collections.abc import Sequence

from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.session import Conn
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.types import (
    ConnectorRecord,
    OwnerState,
    SubProcessorEntry,
    SubProcessorRecord,
)

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


async def ensure_connectors(
    conn: Conn, schema: str, tenant_id: uuid.UUID, wanted: Sequence[ConnectorRecord]
) -> tuple[str, ...]:
    rows = await (await conn.execute(q.select_connectors(schema), [tenant_id])).fetchall()
    have = {row[0]: (row[1], dict(row[2]), row[3], row[4]) for row in rows}
    changed: list[str] = []
    for c in wanted:
        desired = (c.type, dict(c.config), c.ref, c.version)
        if have.get(c.name) == desired:
            continue
        await conn.execute(
            q.upsert_connector(schema),
            [tenant_id, c.name, c.type, Jsonb(dict(c.config)), c.ref, c.version],
        )
        changed.append(f"{'updated' if c.name in have else 'added'} connector {c.name}")
    for name in sorted(set(have) - {c.name for c in wanted}):
        await conn.execute(q.delete_connector(schema), [tenant_id, name])
        changed.append(f"removed connector {name}")
    return tuple(changed)


async def ensure_records(
    conn: Conn, platform: str, tenant_id: uuid.UUID, wanted: Sequence[SubProcessorRecord]
) -> tuple[str, ...]:
    rows = await (await conn.execute(q.select_records(platform), [tenant_id])).fetchall()
    have = {row[0]: tuple(row[1:]) for row in rows}
    changed: list[str] = []
    for r in wanted:
        desired = (r.state, r.notified_at, r.effective_at, r.objected_at)
        if have.get(r.name) == desired:
            continue
        await conn.execute(q.upsert_record(platform), [tenant_id, r.name, *desired])
        verb = "updated" if r.name in have else "added"
        changed.append(f"{verb} sub-processor record {r.name} ({r.state})")
    for name in sorted(set(have) - {r.name for r in wanted}):
        await conn.execute(q.delete_record(platform), [tenant_id, name])
        changed.append(f"removed sub-processor record {name}")
    return tuple(changed)


async def ensure_register_entry(conn: Conn, platform: str, e: SubProcessorEntry) -> tuple[str, ...]:
    row = await (await conn.execute(q.select_subprocessor(platform), [e.name])).fetchone()
    desired = (e.purpose, list(e.data_categories), e.location, e.transfer_mechanism, e.notice_days)
    if row is not None and tuple(row) == desired:
        return ()
    await conn.execute(q.upsert_subprocessor(platform), [e.name, *desired])
    return (f"{'updated' if row else 'registered'} sub-processor {e.name}",)
