"""SQL of data-subject requests: their record (platform v8) and the subject's erasure.

``data_requests`` is the operator's record of each request (one row per Kubernetes object,
by uid): when it was received, how far it got, what it erased and where its bundle went;
never the subject's email or name. Only the owner role touches it. Its ``registry_id`` is
the tenant's id as a plain column, not ``tenant_id``: the record outlives the tenant (an
erased tenant's requests stay on record) and is no tenant row, so it is not RLS-policied.
Erasing a subject runs in one transaction with the tenant context set, so RLS confines
every statement to the tenant.
"""

from psycopg import sql

from tenant_operator.adapters.postgres.statements.common import Names

_V8 = (
    """CREATE TABLE {p}.data_requests (
        uid uuid PRIMARY KEY,
        name text NOT NULL,
        slug text NOT NULL,
        registry_id uuid,
        type text NOT NULL CHECK (type IN ('Export', 'Erasure')),
        received_at timestamptz NOT NULL DEFAULT now(),
        phase text NOT NULL DEFAULT 'received',
        account_id uuid,
        result jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof(result) = 'object'),
        completed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    "REVOKE ALL ON {p}.data_requests FROM PUBLIC",
    # Redact the entries of a chain whose detail names the subject (its account id, email
    # or name): `detail` set to NULL, the one change the append-only trigger allows; the
    # chain still verifies through detail_digest.
    """CREATE FUNCTION {p}.redact_audit_naming(p_chain text, p_needles text[]) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        n bigint;
    BEGIN
        UPDATE {p}.audit_log a SET detail = NULL
            WHERE a.chain = p_chain AND a.detail IS NOT NULL
              AND EXISTS (SELECT 1 FROM unnest(p_needles) AS needle
                          WHERE needle <> '' AND strpos(lower(a.detail::text), lower(needle)) > 0);
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.redact_audit_naming(text, text[]) FROM PUBLIC",
)


def v8(names: Names) -> tuple[sql.Composed, ...]:
    return tuple(names.fmt(sql.SQL(text)) for text in _V8)


def _p(text: str, platform: str) -> sql.Composed:
    return sql.SQL(text).format(p=sql.Identifier(platform))


def receive(platform: str) -> sql.Composed:
    """Record a request the first time it is seen; either way return its row."""
    return _p(
        """WITH new AS (
            INSERT INTO {p}.data_requests (uid, name, slug, type)
            VALUES (%(uid)s, %(name)s, %(slug)s, %(type)s)
            ON CONFLICT (uid) DO NOTHING
            RETURNING uid, name, slug, type, received_at, phase, account_id, result, completed_at)
        SELECT * FROM new
        UNION ALL
        SELECT uid, name, slug, type, received_at, phase, account_id, result, completed_at
            FROM {p}.data_requests WHERE uid = %(uid)s""",
        platform,
    )


def advance(platform: str) -> sql.Composed:
    """Move a request to a phase, merging ``result`` into what it recorded; never back:
    a request past ``phase`` already (``order``: every phase, first to last) is returned
    as it is, unchanged (a replay, or a run that raced another)."""
    return _p(
        """WITH moved AS (
            UPDATE {p}.data_requests SET phase = %(phase)s,
                result = result || %(result)s,
                registry_id = coalesce(%(tenant_id)s, registry_id),
                account_id = coalesce(%(account_id)s, account_id),
                completed_at = CASE WHEN %(phase)s = 'completed'
                                    THEN coalesce(completed_at, now()) ELSE completed_at END,
                updated_at = now()
            WHERE uid = %(uid)s AND array_position(%(order)s::text[], phase)
                                    <= array_position(%(order)s::text[], %(phase)s::text)
            RETURNING uid, name, slug, type, received_at, phase, account_id, result, completed_at)
        SELECT * FROM moved
        UNION ALL
        SELECT uid, name, slug, type, received_at, phase, account_id, result, completed_at
            FROM {p}.data_requests WHERE uid = %(uid)s AND NOT EXISTS (SELECT 1 FROM moved)""",
        platform,
    )


def lock_request(platform: str) -> sql.Composed:
    """The request's phase, its row locked until the transaction ends."""
    return _p("SELECT phase FROM {p}.data_requests WHERE uid = %s FOR UPDATE", platform)


def find_account(schema: str) -> sql.Composed:
    """An account of the tenant (context set) by id or by the blind index of its email."""
    return sql.SQL(
        "SELECT id, is_owner, email_enc, name_enc FROM {} WHERE tenant_id = %(tenant_id)s"
        " AND (id = %(account_id)s OR email_bidx = %(bidx)s)"
    ).format(sql.Identifier(schema, "accounts"))


def anonymise(schema: str, table: str, column: str) -> sql.Composed:
    """Keep the tenant's record, drop who did it (the row must stay for the tenant)."""
    return sql.SQL("UPDATE {t} SET {c} = NULL WHERE tenant_id = %s AND {c} = %s").format(
        t=sql.Identifier(schema, table), c=sql.Identifier(column)
    )


def delete_account(schema: str) -> sql.Composed:
    return sql.SQL("DELETE FROM {} WHERE tenant_id = %s AND id = %s AND NOT is_owner").format(
        sql.Identifier(schema, "accounts")
    )


def redact_naming(platform: str) -> sql.Composed:
    return _p("SELECT {p}.redact_audit_naming(%s, %s)", platform)


def processors_of(platform: str) -> sql.Composed:
    """The register entries processing the tenant's data (context set): not objected to."""
    return _p(
        """SELECT s.name, s.purpose, s.data_categories, s.location, s.transfer_mechanism,
                  s.notice_days
           FROM {p}.subprocessors s JOIN {p}.subprocessor_records r ON r.name = s.name
           WHERE r.tenant_id = %s AND r.state <> 'Objected' ORDER BY s.name""",
        platform,
    )
