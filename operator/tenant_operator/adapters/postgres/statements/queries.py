"""Runtime statements of the adapter: DML and catalog reads, values always as parameters.

Statements that name a schema are functions of it; the schema goes in as an Identifier.
"""

from collections.abc import Sequence

from psycopg import sql

# --- sessions and locks ---------------------------------------------------------------------
from tenant_operator.adapters.postgres.statements.common import CONTEXT
from tenant_operator.adapters.postgres.statements.common import LOCK_AUDIT as LOCK_AUDIT
from tenant_operator.adapters.postgres.statements.common import LOCK_MIGRATIONS as LOCK_MIGRATIONS
from tenant_operator.adapters.postgres.statements.common import LOCK_TENANT as LOCK_TENANT

ADVISORY_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(%s, hashtext(%s))")
SET_TENANT_CONTEXT = sql.SQL("SELECT set_config({}, %s, true)").format(CONTEXT)


def set_role(role: str) -> sql.Composed:
    return sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role))


def reset_role() -> sql.SQL:
    return sql.SQL("RESET ROLE")


# --- migrations -----------------------------------------------------------------------------


def applied_versions(platform: str) -> sql.Composed:
    return sql.SQL("SELECT version FROM {}.migrations WHERE component = %s").format(
        sql.Identifier(platform)
    )


def record_migration(platform: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {}.migrations (component, version, name) VALUES (%s, %s, %s)"
    ).format(sql.Identifier(platform))


ROLE_EXISTS = sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s")
SCHEMA_EXISTS = sql.SQL("SELECT 1 FROM pg_namespace WHERE nspname = %s")

# --- tenant registry ------------------------------------------------------------------------


def _p(template: str, platform: str) -> sql.Composed:
    return sql.SQL(template).format(p=sql.Identifier(platform))


def _pb(template: str, platform: str) -> sql.Composed:
    """Like _p, with ``{body}``: the canonical entry body (below) built in SQL."""
    return sql.SQL(template).format(p=sql.Identifier(platform), body=_AUDIT_BODY)


def select_tenant(platform: str) -> sql.Composed:
    return _p(
        "SELECT id, organisation, plan, isolation, schema_name, schema_version, k8s_uid,"
        " retained_at FROM {p}.tenants WHERE slug = %s",
        platform,
    )


def insert_tenant(platform: str) -> sql.Composed:
    """Register a tenant (no organisation: ensure_owner_account stores it sealed)."""
    return _p(
        "INSERT INTO {p}.tenants (slug, plan, isolation, schema_name, k8s_uid)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        platform,
    )


#: Names the tenant an adoption re-assigns (the registry's trigger refuses it otherwise).
SET_ADOPTING = sql.SQL("SELECT set_config('integraci.adopt_tenant', %s, true)")


def claim_tenant(platform: str) -> sql.Composed:
    """Record (params: uid, id) the Kubernetes object a tenant belongs to; clears retention."""
    return _p(
        "UPDATE {p}.tenants SET k8s_uid = %s, retained_at = NULL, updated_at = now() WHERE id = %s",
        platform,
    )


def retain_tenant(platform: str) -> sql.Composed:
    """Mark (params: uid, id) a tenant retained, recording its object if it had none."""
    return _p(
        "UPDATE {p}.tenants SET k8s_uid = coalesce(k8s_uid, %s),"
        " retained_at = coalesce(retained_at, now()), updated_at = now() WHERE id = %s",
        platform,
    )


def update_tenant(platform: str) -> sql.Composed:
    return _p(
        "UPDATE {p}.tenants SET plan = %s, updated_at = now() WHERE id = %s",
        platform,
    )


def set_schema_version(platform: str) -> sql.Composed:
    return _p(
        "UPDATE {p}.tenants SET schema_version = %s, updated_at = now() WHERE id = %s", platform
    )


def tenants_of_isolation(platform: str) -> sql.Composed:
    """The slugs of one isolation tier (the tier a parameter)."""
    return _p("SELECT slug FROM {p}.tenants WHERE isolation = %s ORDER BY slug", platform)


def delete_tenant(platform: str) -> sql.Composed:
    return _p("DELETE FROM {p}.tenants WHERE id = %s", platform)


# --- accounts -------------------------------------------------------------------------------


def _s(template: str, schema: str) -> sql.Composed:
    return sql.SQL(template).format(s=sql.Identifier(schema))


def select_owner(schema: str) -> sql.Composed:
    """The owner's (id, name_enc, email_bidx) (param: tenant)."""
    return _s(
        "SELECT id, name_enc, email_bidx FROM {s}.accounts WHERE tenant_id = %s AND is_owner",
        schema,
    )


def insert_owner(schema: str) -> sql.Composed:
    """The owner account (params: tenant, email_enc, name_enc, email_bidx, key_version,
    invite digest)."""
    return _s(
        "INSERT INTO {s}.accounts (tenant_id, email_enc, name_enc, email_bidx, key_version,"
        " is_owner, invite_token_sha256, invited_at)"
        " VALUES (%s, %s, %s, %s, %s, true, %s, now()) RETURNING id",
        schema,
    )


def update_owner(schema: str) -> sql.Composed:
    """Rename the owner (params: name_enc, key_version, tenant, id)."""
    return _s(
        "UPDATE {s}.accounts SET name_enc = %s, key_version = %s, updated_at = now()"
        " WHERE tenant_id = %s AND id = %s",
        schema,
    )


def delete_account(schema: str) -> sql.Composed:
    return _s("DELETE FROM {s}.accounts WHERE tenant_id = %s AND id = %s", schema)


def select_account_id(schema: str) -> sql.Composed:
    """The account whose blind index is one of the given (params: tenant, indexes)."""
    return _s("SELECT id FROM {s}.accounts WHERE tenant_id = %s AND email_bidx = ANY (%s)", schema)


def promote_owner(schema: str) -> sql.Composed:
    """Make a member (params: name_enc, key_version, invite digest, tenant, id) the owner:
    invited afresh, with no password (one its previous owner may have set for it)."""
    return _s(
        "UPDATE {s}.accounts SET name_enc = %s, key_version = %s, is_owner = true,"
        " password_hash = NULL,"
        " invite_token_sha256 = %s, invited_at = now(), updated_at = now()"
        " WHERE tenant_id = %s AND id = %s",
        schema,
    )


# --- connectors -----------------------------------------------------------------------------


def select_connectors(schema: str) -> sql.Composed:
    return _s(
        "SELECT name, type, config, ref, version FROM {s}.connectors WHERE tenant_id = %s", schema
    )


def upsert_connector(schema: str) -> sql.Composed:
    return _s(
        "INSERT INTO {s}.connectors (tenant_id, name, type, config, ref, version)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, name) DO UPDATE SET"
        " type = excluded.type, config = excluded.config, ref = excluded.ref,"
        " version = excluded.version, updated_at = now()",
        schema,
    )


def delete_connector(schema: str) -> sql.Composed:
    return _s("DELETE FROM {s}.connectors WHERE tenant_id = %s AND name = %s", schema)


# --- sub-processors -------------------------------------------------------------------------


def select_subprocessor(platform: str) -> sql.Composed:
    """The register entry of a name (param: name), its name first like the other row sets."""
    return _p(
        "SELECT name, purpose, data_categories, location, transfer_mechanism, notice_days"
        " FROM {p}.subprocessors WHERE name = %s",
        platform,
    )


def upsert_subprocessor(platform: str) -> sql.Composed:
    return _p(
        "INSERT INTO {p}.subprocessors (name, purpose, data_categories, location,"
        " transfer_mechanism, notice_days) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET purpose = excluded.purpose,"
        " data_categories = excluded.data_categories, location = excluded.location,"
        " transfer_mechanism = excluded.transfer_mechanism,"
        " notice_days = excluded.notice_days, updated_at = now()",
        platform,
    )


def select_records(platform: str) -> sql.Composed:
    return _p(
        "SELECT name, state, notified_at, effective_at, objected_at"
        " FROM {p}.subprocessor_records WHERE tenant_id = %s",
        platform,
    )


def upsert_record(platform: str) -> sql.Composed:
    return _p(
        "INSERT INTO {p}.subprocessor_records (tenant_id, name, state, notified_at,"
        " effective_at, objected_at) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, name) DO UPDATE SET state = excluded.state,"
        " notified_at = excluded.notified_at, effective_at = excluded.effective_at,"
        " objected_at = excluded.objected_at, updated_at = now()",
        platform,
    )


def delete_record(platform: str) -> sql.Composed:
    return _p("DELETE FROM {p}.subprocessor_records WHERE tenant_id = %s AND name = %s", platform)


# --- audit log ------------------------------------------------------------------------------


def audit_head(platform: str) -> sql.Composed:
    return _p(
        "SELECT seq, hash FROM {p}.audit_log WHERE chain = %s ORDER BY seq DESC LIMIT 1",
        platform,
    )


def audit_append(platform: str) -> sql.Composed:
    return _p(
        "SELECT seq, prev_hash, hash FROM {p}.append_audit(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        platform,
    )


#: The upper bound of :func:`audit_rows` when the caller wants every entry from a seq on.
LAST_SEQ = 2**63 - 1


def audit_rows(platform: str) -> sql.Composed:
    """Entries of a chain in a seq range (params: chain, first, last): a primary-key range.

    Bounded on both sides on purpose: for a generic plan (psycopg prepares a statement
    after five runs) PostgreSQL estimates ``seq >= $2`` as a third of the chain and picks a
    parallel bitmap scan and sort (7 ms for one row of a 100,000-entry chain), while
    ``seq BETWEEN $2 AND $3`` is estimated small and stays an index range scan.
    """
    return _p(
        "SELECT seq, at, actor, action, target, detail, detail_digest, prev_hash, hash"
        " FROM {p}.audit_log WHERE chain = %s AND seq BETWEEN %s AND %s ORDER BY seq",
        platform,
    )


#: For the chunk checks of verify-audit: short range scans gain nothing from JIT compiling.
NO_JIT = sql.SQL("SET LOCAL jit = off")

#: The canonical entry body of domain.audit (keys sorted, no whitespace, strings escaped as
#: JSON, ``at`` in UTC with microseconds) built from the row's columns; tested byte for byte
#: against domain.audit on hostile strings. ``detail_digest`` is hex by CHECK constraint.
_AUDIT_BODY = sql.SQL(
    "'{\"action\":' || pg_catalog.to_json(action)::text"
    " || ',\"actor\":' || pg_catalog.to_json(actor)::text"
    " || ',\"at\":\"' || pg_catalog.to_char(at AT TIME ZONE 'UTC',"
    ' \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
    ' || \'","detail_digest":"\' || detail_digest'
    ' || \'","seq":\' || seq::text'
    " || ',\"target\":' || pg_catalog.to_json(target)::text || '}'"
)


def audit_bodies(platform: str) -> sql.Composed:
    """(seq, canonical body) of a chain's entries from a seq on (params: chain, first seq)."""
    return _pb(
        "SELECT seq, {body} FROM {p}.audit_log WHERE chain = %s AND seq >= %s ORDER BY seq",
        platform,
    )


def audit_chunk_hashes(platform: str) -> sql.Composed:
    """The first seq in [lo, hi] whose fields do not hash to its stored hash (chain, lo, hi).

    Timestamps outside years 1000-9999 (and infinities) are reported too: there the text of
    ``to_char`` and of Python's ``strftime`` may differ, so the operator judges those
    entries itself. (The test as an aggregate FILTER is markedly cheaper than in WHERE, and
    apart from the window of :func:`audit_chunk_links`: together they cost several times
    more, measured on PostgreSQL 15.)
    """
    return _pb(
        "SELECT min(seq) FILTER (WHERE pg_catalog.sha256(pg_catalog.convert_to("
        "prev_hash || {body}, 'UTF8')) <> pg_catalog.decode(hash, 'hex')"
        " OR at < '1000-01-01 00:00:00+00' OR at >= '10000-01-01 00:00:00+00')"
        " FROM {p}.audit_log WHERE chain = %s AND seq BETWEEN %s AND %s",
        platform,
    )


def audit_chunk_links(platform: str) -> sql.Composed:
    """Links of the seqs [lo, hi], the row before lo included (chain, lo, before, hi, genesis).

    Returns (rows in [lo, hi], their max seq, the first suspect seq): a missing seq, or a row
    whose ``prev_hash`` is not the hash of the row before it (genesis for seq 1). Missing
    seqs at the end of [lo, hi] show only in the count (the caller checks it); a missing
    row ``lo - 1`` makes ``lo - 1`` the suspect (the previous chunk's count names the first).
    """
    return _p(
        "SELECT count(*) FILTER (WHERE seq >= %(lo)s), max(seq), min(CASE"
        " WHEN lag_seq IS NULL AND seq <> 1 THEN greatest(%(before)s, 1)"
        " WHEN lag_seq IS NULL AND prev_hash <> %(genesis)s THEN seq"
        " WHEN lag_seq IS NULL THEN NULL"
        " WHEN seq <> lag_seq + 1 THEN lag_seq + 1"
        " WHEN prev_hash <> lag_hash THEN seq END) FILTER (WHERE seq >= %(lo)s)"
        " FROM (SELECT seq, prev_hash, lag(seq) OVER w AS lag_seq, lag(hash) OVER w AS lag_hash"
        " FROM {p}.audit_log WHERE chain = %(chain)s AND seq BETWEEN %(before)s AND %(hi)s"
        " WINDOW w AS (ORDER BY seq)) c",
        platform,
    )


def audit_chunk_details(platform: str) -> sql.Composed:
    """Distinct (detail as text or NULL, digest, first seq, last seq) of the seqs [lo, hi]."""
    return _p(
        "SELECT detail::text, detail_digest, min(seq), max(seq) FROM {p}.audit_log"
        " WHERE chain = %s AND seq BETWEEN %s AND %s"
        " GROUP BY detail, detail_digest",
        platform,
    )


def audit_seq_of_hash(platform: str) -> sql.Composed:
    """Where an entry with this hash is stored in the chain (chain, hash): names a reorder."""
    return _p("SELECT seq FROM {p}.audit_log WHERE chain = %s AND hash = %s LIMIT 1", platform)


def audit_rows_page(platform: str) -> sql.Composed:
    """At most n entries of a chain from a seq on (params: chain, first seq, n)."""
    return _p(
        "SELECT seq, at, actor, action, target, detail, detail_digest, prev_hash, hash"
        " FROM {p}.audit_log WHERE chain = %s AND seq >= %s ORDER BY seq LIMIT %s",
        platform,
    )


def audit_redact(platform: str) -> sql.Composed:
    return _p("SELECT {p}.redact_audit(%s)", platform)


def audit_open_chain(platform: str) -> sql.Composed:
    """The tenant's open chain, opened now if it has none (param: slug)."""
    return _p("SELECT {p}.open_audit_chain(%s)", platform)


def audit_chain_of(platform: str) -> sql.Composed:
    """The tenant's open chain, else its latest closed one (param: slug); no row: none yet."""
    return _p(
        "SELECT chain FROM {p}.audit_chains WHERE slug = %s"
        " ORDER BY closed_at IS NULL DESC, opened_at DESC LIMIT 1",
        platform,
    )


def audit_chain_closed(platform: str) -> sql.Composed:
    """Whether the chain is registered closed (param: chain); no row: not registered."""
    return _p("SELECT closed_at IS NOT NULL FROM {p}.audit_chains WHERE chain = %s", platform)


def audit_close_chain(platform: str) -> sql.Composed:
    """Close the tenant's open chain (param: slug): its next entry opens a new chain."""
    return _p(
        "UPDATE {p}.audit_chains SET closed_at = now()"
        " WHERE slug = %s AND closed_at IS NULL RETURNING chain",
        platform,
    )


def audit_chains(platform: str) -> sql.Composed:
    """Every chain PostgreSQL knows of: registered, or holding entries."""
    return _p(
        "SELECT chain FROM {p}.audit_chains UNION SELECT DISTINCT chain FROM {p}.audit_log"
        " ORDER BY 1",
        platform,
    )


# --- isolation verifier ---------------------------------------------------------------------

#: Every table of a schema that carries a tenant_id column, with its RLS flags.
TENANT_TABLES = sql.SQL(
    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
    " AND NOT a.attisdropped"
    " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname"
)
POLICIES = sql.SQL(
    "SELECT policyname, permissive, roles::text[], cmd, qual, with_check"
    " FROM pg_policies WHERE schemaname = %s AND tablename = %s"
)
ROLE_FLAGS = sql.SQL("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s")


#: Views and materialized views of a schema with a tenant_id column that the given role can
#: read (they have no RLS of their own: one owned by a superuser shows every tenant's rows).
TENANT_VIEWS = sql.SQL(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
    " AND NOT a.attisdropped"
    " WHERE n.nspname = %s AND c.relkind IN ('v', 'm')"
    " AND has_table_privilege(%s, c.oid, 'SELECT') ORDER BY c.relname"
)


def insert_canary(schema: str, table: str, columns: Sequence[str]) -> sql.Composed:
    """Insert one row (tenant_id first, then ``columns``) and return its ctid as text."""
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING ctid::text").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(sql.Identifier(c) for c in ("tenant_id", *columns)),
        sql.SQL(", ").join(sql.Placeholder() for _ in range(len(columns) + 1)),
    )


def probe_visibility(schema: str, relations: Sequence[tuple[str, bool]]) -> sql.Composed:
    """One row per relation: its name, whether it shows rows outside the context, and
    whether the canary is visible.

    ``relations`` are (name, with_canary); per relation the parameters are its name, the
    context twice (NULL: any visible row counts) and, if ``with_canary``, the canary's ctid.
    """
    parts = []
    for name, with_canary in relations:
        rel = sql.Identifier(schema, name)
        canary = (
            sql.SQL("EXISTS (SELECT 1 FROM {} WHERE ctid = %s::tid)").format(rel)
            if with_canary
            else sql.SQL("false")
        )
        parts.append(
            sql.SQL(
                "SELECT %s::text, EXISTS (SELECT 1 FROM {} WHERE %s::uuid IS NULL"
                " OR tenant_id IS DISTINCT FROM %s::uuid), {}"
            ).format(rel, canary)
        )
    return sql.SQL(" UNION ALL ").join(parts)


def select_tenant_by_id(platform: str) -> sql.Composed:
    return _p("SELECT slug, isolation, schema_name FROM {p}.tenants WHERE id = %s", platform)
