"""Tenants with sealed personal data for export tests and the bench (template v5 columns).

Until the encrypted schema (template v5, platform v7) is on main, :func:`add_v5_columns`
adds its columns to a test database, as the design names them; with them already there it
changes nothing. :func:`seal_rows` seals what ``ensure_owner_account`` wrote in plaintext,
as the operator's conversion does.
"""

import uuid

import psycopg
from psycopg import sql

from tenant_operator.domain import envelope
from tenant_operator.domain.envelope import KeyRing

V5_COLUMNS = (
    "ALTER TABLE {s}.accounts ADD COLUMN IF NOT EXISTS email_enc bytea,"
    " ADD COLUMN IF NOT EXISTS name_enc bytea, ADD COLUMN IF NOT EXISTS email_bidx bytea,"
    " ADD COLUMN IF NOT EXISTS key_version integer,"
    " ALTER COLUMN email DROP NOT NULL, ALTER COLUMN name DROP NOT NULL",
    "ALTER TABLE {s}.pipeline_runs ADD COLUMN IF NOT EXISTS triggered_by uuid",
    "ALTER TABLE {s}.deploy_events ADD COLUMN IF NOT EXISTS deployed_by uuid",
)
PLATFORM_V7 = (
    "ALTER TABLE {s}.tenants ADD COLUMN IF NOT EXISTS organisation_enc bytea,"
    " ALTER COLUMN organisation DROP NOT NULL",
)


def add_v5_columns(
    conn: psycopg.Connection[tuple[object, ...]], schema: str, *, platform: bool
) -> None:
    for text in V5_COLUMNS + (PLATFORM_V7 if platform else ()):
        conn.execute(sql.SQL(text).format(s=sql.Identifier(schema)))


def new_key_ring(tenant_id: uuid.UUID) -> KeyRing:
    import os

    return KeyRing(tenant_id, envelope.DataKey(1, os.urandom(32)))
