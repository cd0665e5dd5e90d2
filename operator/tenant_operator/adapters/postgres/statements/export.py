"""The SELECTs of an export: whole tenant or one subject, values always as parameters.

Each table is one inner SELECT of the columns exported. PostgreSQL itself renders the rows:
JSON Lines as ``row_to_json`` (column order kept, times ISO 8601 in UTC, jsonb nested),
CSV as ``COPY ... TO STDOUT (FORMAT csv)`` of each value's JSON text (the same text:
``true``/``false``, empty for null), both in the one snapshot; Python only hashes and
writes. ``password_hash`` and ``invite_token_sha256`` are never selected, nor the blind
index. Sealed columns are read as sealed (``*_enc``, hex in the JSON) and opened by the
adapter; the plaintext columns beside them are read too, for rows from before sealing.
"""

from collections.abc import Sequence

from psycopg import sql

BEGIN_SNAPSHOT = sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
#: Times in UTC; a seq scan from the table's start (the JSON and the CSV in one row order).
SNAPSHOT_SETTINGS = sql.SQL(
    "SELECT set_config('TimeZone', 'UTC', true), set_config('synchronize_seqscans', 'off', true)"
)

TENANT_COLUMNS = ("id", "slug", "organisation", "plan", "isolation", "created_at")
#: As read: the sealed organisation and the (legacy) plaintext one, then the rest.
SELECT_TENANT = (
    "SELECT id, slug, organisation_enc, organisation, plan, isolation, created_at"
    " FROM {p}.tenants WHERE id = %(tenant)s"
)

ACCOUNT_COLUMNS = (
    "id",
    "email",
    "name",
    "is_owner",
    "invited_at",
    "created_at",
    "last_login_at",
)
SELECT_ACCOUNTS = (
    "SELECT id, email_enc, email, name_enc, name, is_owner, invited_at, created_at,"
    " last_login_at FROM {s}.accounts WHERE tenant_id = %(tenant)s ORDER BY created_at, id"
)
SELECT_ACCOUNT = (
    "SELECT id, email_enc, email, name_enc, name, is_owner, invited_at, created_at,"
    " last_login_at FROM {s}.accounts WHERE tenant_id = %(tenant)s AND id = %(account)s"
)
FIND_SUBJECT_BY_EMAIL = (
    "SELECT id FROM {s}.accounts WHERE tenant_id = %(tenant)s AND (email_bidx = %(bidx)s"
    " OR (email_bidx IS NULL AND lower(email) = %(email)s))"
)
FIND_SUBJECT_BY_ID = "SELECT id FROM {s}.accounts WHERE tenant_id = %(tenant)s AND id = %(id)s"

CONNECTORS = (
    "connectors",
    ("name", "type", "config", "ref", "version", "updated_at"),
    "SELECT name, type, config, ref, version, updated_at FROM {s}.connectors"
    " WHERE tenant_id = %(tenant)s ORDER BY name",
)
_RUNS = ("id", "pipeline", "status", "started_at", "finished_at", "triggered_by")
_DEPLOYS = ("id", "environment", "version", "at", "deployed_by")
#: Whole-tenant tables after accounts: (table, columns, inner select).
TABLES = (
    CONNECTORS,
    (
        "pipeline_runs",
        _RUNS,
        "SELECT id, pipeline, status, started_at, finished_at, triggered_by"
        " FROM {s}.pipeline_runs WHERE tenant_id = %(tenant)s",
    ),
    (
        "deploy_events",
        _DEPLOYS,
        "SELECT id, environment, version, at, deployed_by FROM {s}.deploy_events"
        " WHERE tenant_id = %(tenant)s",
    ),
    (
        "usage_metrics",
        ("metric", "period_start", "quantity"),
        "SELECT metric, period_start, quantity FROM {s}.usage_metrics"
        " WHERE tenant_id = %(tenant)s ORDER BY metric, period_start",
    ),
    (
        "subprocessor_records",
        ("name", "state", "notified_at", "effective_at", "objected_at"),
        "SELECT name, state, notified_at, effective_at, objected_at"
        " FROM {p}.subprocessor_records WHERE tenant_id = %(tenant)s ORDER BY name",
    ),
)
#: A subject's rows beside their account: the runs they triggered, the deploys they made.
SUBJECT_TABLES = (
    (
        "pipeline_runs",
        _RUNS,
        "SELECT id, pipeline, status, started_at, finished_at, triggered_by"
        " FROM {s}.pipeline_runs WHERE tenant_id = %(tenant)s AND triggered_by = %(account)s",
    ),
    (
        "deploy_events",
        _DEPLOYS,
        "SELECT id, environment, version, at, deployed_by FROM {s}.deploy_events"
        " WHERE tenant_id = %(tenant)s AND deployed_by = %(account)s",
    ),
)

SUB_PROCESSORS = (
    "SELECT s.name, s.purpose, s.data_categories, s.location, s.transfer_mechanism, r.state"
    " FROM {p}.subprocessor_records r JOIN {p}.subprocessors s ON s.name = r.name"
    " WHERE r.tenant_id = %(tenant)s ORDER BY s.name"
)

AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "target",
    "detail",
    "detail_digest",
    "prev_hash",
    "hash",
)
AUDIT_ENTRIES = (
    "SELECT seq, at, actor, action, target, detail, detail_digest, prev_hash, hash"
    " FROM {p}.audit_log WHERE chain = %(chain)s AND seq <= %(seq)s ORDER BY seq"
)
#: A subject's entries: the target, or any text in the detail, names one of the needles.
AUDIT_SUBJECT_ENTRIES = (
    "SELECT seq, at, actor, action, target, detail, detail_digest, prev_hash, hash"
    " FROM {p}.audit_log WHERE chain = %(chain)s AND seq <= %(seq)s"
    " AND (target = ANY(%(needles)s) OR EXISTS (SELECT 1 FROM unnest(%(needles)s) n"
    " WHERE strpos(lower(detail::text), lower(n)) > 0)) ORDER BY seq"
)
AUDIT_HEAD = "SELECT seq, hash FROM {p}.audit_log WHERE chain = %(chain)s ORDER BY seq DESC LIMIT 1"


def render(template: str, platform: str, schema: str) -> sql.Composed:
    return sql.SQL(template).format(p=sql.Identifier(platform), s=sql.Identifier(schema))


def json_rows(inner: sql.Composable) -> sql.Composed:
    """One JSON object text per row of ``inner``, its columns in order."""
    return sql.SQL("SELECT row_to_json(t)::text FROM ({}) t").format(inner)


def csv_copy(inner: sql.Composable, columns: Sequence[str]) -> sql.Composed:
    """``COPY`` of ``inner`` as CSV (no header), each value the text :func:`json_rows` gives
    it (``to_json(v) #>> '{}'``; one call per value: ``row_to_json(t)->>'c'`` of a subquery
    would build the row's JSON once per column, ten times slower)."""
    fields = sql.SQL(", ").join(
        sql.SQL("to_json(t.{}) #>> '{{}}'").format(sql.Identifier(column)) for column in columns
    )
    return sql.SQL("COPY (SELECT {} FROM ({}) t) TO STDOUT (FORMAT csv)").format(fields, inner)
