"""The versioned tenant table template, used by both isolation tiers.

Version N is applied on top of N-1; the platform schema (``shared`` tier) and every
``t_<slug>`` schema (``schema`` tier) are built from the same steps. From v3 on, every table
of a ``t_<slug>`` schema has the CHECK :data:`TENANT_CHECK_NAME` binding ``tenant_id`` to
that one tenant (a later step adding a table must add it too); the platform schema, shared
by all ``shared`` tenants, has none. From v4 on that CHECK compares a SHA-256 of the id
(:func:`tenant_check_definition`), so the id, which opens the tenant's context to anyone who
knows it, is not readable in ``pg_constraint``; and no column has planner statistics (``SET
STATISTICS 0``), so ``EXPLAIN`` estimates reveal no other tenant's values or ids (leakproof
operators such as ``texteq`` and ``uuid_lt`` let the planner use statistics under RLS).
From v5 on, personal data is sealed (:mod:`tenant_operator.domain.envelope`): ``accounts``
keeps ``email_enc``, ``name_enc`` and the blind index ``email_bidx`` instead of the plaintext
``email`` and ``name``, which the CHECK :data:`PII_SEALED` (``NOT VALID``: enforced on every
new or updated row; rows written before are sealed by the operator) requires to be NULL;
``pipeline_runs.triggered_by`` and ``deploy_events.deployed_by`` name accounts by id.
"""

import hashlib
import uuid

from psycopg import sql

from tenant_operator.adapters.postgres.statements.common import (
    BCRYPT_COST_12_PATTERN,
    PII_SEALED,
    TEMPLATE_TABLES,
    TENANT_CHECK_NAME,
    Names,
    Step,
    app_grants,
    tenant_table,
)

# --- the tenant table template ------------------------------------------------------------

_TEMPLATE_V1 = (
    """CREATE TABLE {s}.accounts (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        email text NOT NULL,
        name text NOT NULL,
        is_owner boolean NOT NULL DEFAULT false,
        password_hash text CONSTRAINT password_hash_is_bcrypt_cost_12
            CHECK (password_hash ~ {bcrypt}),
        invite_token_sha256 bytea CHECK (octet_length(invite_token_sha256) = 32),
        invited_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, email))""",
    "CREATE UNIQUE INDEX accounts_one_owner ON {s}.accounts (tenant_id) WHERE is_owner",
    """CREATE TABLE {s}.connectors (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        name text NOT NULL,
        type text NOT NULL,
        config jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
        ref text NOT NULL CONSTRAINT ref_is_openbao CHECK (ref LIKE 'openbao://%'),
        version integer NOT NULL CHECK (version >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name))""",
    """CREATE TABLE {s}.pipeline_runs (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        id bigint GENERATED ALWAYS AS IDENTITY,
        pipeline text NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        PRIMARY KEY (tenant_id, id))""",
    "CREATE INDEX pipeline_runs_started ON {s}.pipeline_runs (tenant_id, started_at)",
    """CREATE TABLE {s}.deploy_events (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        id bigint GENERATED ALWAYS AS IDENTITY,
        environment text NOT NULL,
        version text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id))""",
    """CREATE TABLE {s}.usage_metrics (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        metric text NOT NULL,
        period_start timestamptz NOT NULL,
        quantity bigint NOT NULL CHECK (quantity >= 0),
        PRIMARY KEY (tenant_id, metric, period_start))""",
)

_TEMPLATE_V2 = (
    "ALTER TABLE {s}.accounts ADD COLUMN last_login_at timestamptz",
    "CREATE INDEX deploy_events_env_at ON {s}.deploy_events (tenant_id, environment, at)",
)


#: ids from one identity sequence (shared by all shared-tier tenants) let a tenant count
#: everyone's inserts: random uuids instead (existing rows get new random ids).
_TEMPLATE_V3_IDS = (
    "ALTER TABLE {t} ALTER COLUMN id DROP IDENTITY",
    "ALTER TABLE {t} ALTER COLUMN id SET DATA TYPE uuid USING gen_random_uuid()",
    "ALTER TABLE {t} ALTER COLUMN id SET DEFAULT gen_random_uuid()",
)
_TEMPLATE_V3 = (
    """CREATE TRIGGER accounts_owner_row_guard BEFORE DELETE ON {s}.accounts
        FOR EACH ROW WHEN (OLD.is_owner) EXECUTE FUNCTION {p}.guard_owner_account()""",
)


#: Personal data sealed: the plaintext columns stay only for rows written before v5 (the
#: operator seals them, then nulls them); a blind index replaces the email's uniqueness.
_TEMPLATE_V5 = (
    """ALTER TABLE {s}.accounts
        ADD COLUMN email_enc bytea,
        ADD COLUMN name_enc bytea,
        ADD COLUMN email_bidx bytea CONSTRAINT accounts_email_bidx_length
            CHECK (octet_length(email_bidx) = 32),
        ADD COLUMN key_version integer CHECK (key_version > 0),
        ALTER COLUMN email DROP NOT NULL,
        ALTER COLUMN name DROP NOT NULL""",
    """ALTER TABLE {s}.accounts ADD CONSTRAINT {sealed} CHECK (email IS NULL AND name IS NULL
        AND email_enc IS NOT NULL AND name_enc IS NOT NULL AND email_bidx IS NOT NULL) NOT VALID""",
    """ALTER TABLE {s}.accounts DROP CONSTRAINT IF EXISTS accounts_tenant_id_email_key,
        ADD CONSTRAINT accounts_tenant_id_email_bidx_key UNIQUE (tenant_id, email_bidx)""",
    "ALTER TABLE {s}.pipeline_runs ADD COLUMN triggered_by uuid",
    "ALTER TABLE {s}.deploy_events ADD COLUMN deployed_by uuid",
    """ALTER TABLE {s}.accounts ALTER COLUMN email_enc SET STATISTICS 0,
        ALTER COLUMN name_enc SET STATISTICS 0, ALTER COLUMN email_bidx SET STATISTICS 0,
        ALTER COLUMN key_version SET STATISTICS 0""",
    "ALTER TABLE {s}.pipeline_runs ALTER COLUMN triggered_by SET STATISTICS 0",
    "ALTER TABLE {s}.deploy_events ALTER COLUMN deployed_by SET STATISTICS 0",
)


def tenant_checks(schema: str, tenant_id: uuid.UUID) -> tuple[sql.Composed, ...]:
    """CHECK (tenant_id = <tenant>) on every template table of a ``schema``-tier schema."""
    return tuple(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (tenant_id = {}::uuid)").format(
            sql.Identifier(schema, table),
            sql.Identifier(TENANT_CHECK_NAME),
            sql.Literal(str(tenant_id)),
        )
        for table in TEMPLATE_TABLES
    )


#: The columns of each template table, which get no planner statistics (template v4), with
#: their types: ``ALTER COLUMN ... TYPE`` to the same type drops the statistics ANALYZE took
#: before (the data and defaults are unchanged). None: the type cannot be re-set (tenant_id
#: is in the policy, is_owner in a trigger's WHEN); their old statistics stay in pg_statistic
#: until the bootstrap, re-run as a superuser, deletes them (``DROP_STALE_STATISTICS``).
NO_STATISTICS_COLUMNS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "accounts": (
        ("tenant_id", None),
        ("id", "uuid"),
        ("email", "text"),
        ("name", "text"),
        ("is_owner", None),
        ("password_hash", "text"),
        ("invite_token_sha256", "bytea"),
        ("invited_at", "timestamptz"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
        ("last_login_at", "timestamptz"),
        ("email_enc", "bytea"),
        ("name_enc", "bytea"),
        ("email_bidx", "bytea"),
        ("key_version", "integer"),
    ),
    "connectors": (
        ("tenant_id", None),
        ("name", "text"),
        ("type", "text"),
        ("config", "jsonb"),
        ("ref", "text"),
        ("version", "integer"),
        ("updated_at", "timestamptz"),
    ),
    "pipeline_runs": (
        ("tenant_id", None),
        ("id", "uuid"),
        ("pipeline", "text"),
        ("status", "text"),
        ("started_at", "timestamptz"),
        ("finished_at", "timestamptz"),
        ("triggered_by", "uuid"),
    ),
    "deploy_events": (
        ("tenant_id", None),
        ("id", "uuid"),
        ("environment", "text"),
        ("version", "text"),
        ("at", "timestamptz"),
        ("deployed_by", "uuid"),
    ),
    "usage_metrics": (
        ("tenant_id", None),
        ("metric", "text"),
        ("period_start", "timestamptz"),
        ("quantity", "bigint"),
    ),
}


#: The columns template v5 adds (v4's step, fixed once applied, does not name them).
SEALED_COLUMNS = frozenset(
    {"email_enc", "name_enc", "email_bidx", "key_version", "triggered_by", "deployed_by"}
)


def tenant_check_digest(tenant_id: uuid.UUID) -> str:
    """Hex SHA-256 of the tenant id's 16 bytes (what ``sha256(uuid_send(tenant_id))`` is)."""
    return hashlib.sha256(tenant_id.bytes).hexdigest()


def tenant_check_definition(tenant_id: uuid.UUID, version: int) -> str:
    """``pg_get_constraintdef`` of :data:`TENANT_CHECK_NAME` at template ``version`` (>= 3)."""
    if version < 4:
        return f"CHECK ((tenant_id = '{tenant_id}'::uuid))"
    return f"CHECK ((sha256(uuid_send(tenant_id)) = '\\x{tenant_check_digest(tenant_id)}'::bytea))"


def hashed_tenant_checks(schema: str, tenant_id: uuid.UUID) -> tuple[sql.Composed, ...]:
    """Replace each table's tenant CHECK by one on the id's digest (template v4)."""
    return tuple(
        sql.SQL(
            "ALTER TABLE {t} DROP CONSTRAINT {c}, ADD CONSTRAINT {c}"
            " CHECK (sha256(uuid_send(tenant_id)) = {digest}::bytea)"
        ).format(
            t=sql.Identifier(schema, table),
            c=sql.Identifier(TENANT_CHECK_NAME),
            digest=sql.Literal("\\x" + tenant_check_digest(tenant_id)),
        )
        for table in TEMPLATE_TABLES
    )


def no_statistics(schema: str) -> tuple[sql.Composed, ...]:
    """No planner statistics on the tenants' values (template v4), old ones dropped."""
    out = []
    for table in TEMPLATE_TABLES:
        clauses = [
            sql.SQL("ALTER COLUMN {c} SET STATISTICS 0").format(c=sql.Identifier(column))
            if type_ is None
            else sql.SQL("ALTER COLUMN {c} SET STATISTICS 0, ALTER COLUMN {c} TYPE {t}").format(
                c=sql.Identifier(column), t=sql.SQL(type_)
            )
            for column, type_ in NO_STATISTICS_COLUMNS[table]
            if column not in SEALED_COLUMNS  # added by v5, with no statistics from the start
        ]
        out.append(
            sql.SQL("ALTER TABLE {} ").format(sql.Identifier(schema, table))
            + sql.SQL(", ").join(clauses)
        )
    return tuple(out)


def template_steps(
    names: Names, schema: str, tenant_id: uuid.UUID | None = None
) -> tuple[Step, ...]:
    """The versioned tenant table template rendered for ``schema`` (oldest first).

    ``tenant_id`` is the tenant a ``schema``-tier schema belongs to (None: the platform
    schema of the ``shared`` tier).
    """

    def render(texts: tuple[str, ...]) -> tuple[sql.Composed, ...]:
        return tuple(
            names.fmt(
                sql.SQL(text),
                s=sql.Identifier(schema),
                bcrypt=sql.Literal(BCRYPT_COST_12_PATTERN),
                sealed=sql.Identifier(PII_SEALED),
            )
            for text in texts
        )

    rls = tuple(stmt for table in TEMPLATE_TABLES for stmt in tenant_table(names, schema, table))
    return (
        Step(1, "tenant tables with RLS", render(_TEMPLATE_V1) + rls),
        Step(2, "accounts.last_login_at, deploy_events by environment", render(_TEMPLATE_V2)),
        Step(
            3,
            "random uuid ids, operator-managed rows read-only, schema bound to its tenant",
            tuple(
                names.fmt(sql.SQL(text), t=sql.Identifier(schema, table))
                for table in ("pipeline_runs", "deploy_events")
                for text in _TEMPLATE_V3_IDS
            )
            + render(_TEMPLATE_V3)
            + tuple(
                stmt
                for table in TEMPLATE_TABLES
                for stmt in app_grants(names, schema, table, sealed=False)
            )
            + (() if tenant_id is None else tenant_checks(schema, tenant_id)),
        ),
        Step(
            4,
            "tenant ids out of the catalog, no planner statistics on tenant values",
            no_statistics(schema)
            + (() if tenant_id is None else hashed_tenant_checks(schema, tenant_id)),
        ),
        Step(
            5,
            "personal data sealed (email, name), accounts named by id in runs and deploys",
            render(_TEMPLATE_V5) + app_grants(names, schema, "accounts"),
        ),
    )


def create_tenant_schema(names: Names, schema: str) -> tuple[sql.Composed, ...]:
    """A dedicated schema only the owner and the application role can use."""
    s = sql.Identifier(schema)
    return (
        names.fmt(sql.SQL("CREATE SCHEMA {s} AUTHORIZATION {owner}"), s=s),
        names.fmt(sql.SQL("REVOKE ALL ON SCHEMA {s} FROM PUBLIC"), s=s),
        names.fmt(sql.SQL("GRANT USAGE ON SCHEMA {s} TO {app}"), s=s),
    )


def drop_tenant_schema(schema: str) -> sql.Composed:
    return sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
