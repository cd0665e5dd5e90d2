"""Shared pieces of the adapter's SQL: names, versioned steps, the RLS of a tenant table.

The ``statements`` package holds all SQL text of the PostgreSQL adapter: :mod:`platform`
(platform migrations), :mod:`template` (the tenant table template) and :mod:`queries`
(runtime statements). Identifiers go through ``sql.Identifier``, DDL values
through ``sql.Literal``; nothing is built with f-strings, ``%`` or ``+``.

Every tenant table, in the platform schema (``shared`` tier) and in each ``t_<slug>`` schema
(``schema`` tier), is ``ENABLE`` + ``FORCE ROW LEVEL SECURITY`` with the one fail-closed
policy :data:`POLICY_NAME`: an unset or empty ``integraci.tenant_id`` is NULL, so no rows.
"""

from dataclasses import dataclass

from psycopg import sql

from tenant_operator.domain.vocabulary import TENANT_CONTEXT_SETTING

#: classid of pg_advisory_xact_lock(int, int): one namespace per kind of serialization.
LOCK_MIGRATIONS = 0x1E7A0001
LOCK_TENANT = 0x1E7A0002
LOCK_AUDIT = 0x1E7A0003

POLICY_NAME = "tenant_isolation"
CONTEXT_SETTING = TENANT_CONTEXT_SETTING
#: The setting as an SQL string literal, for the statements that read or set it.
CONTEXT = sql.Literal(CONTEXT_SETTING)
#: The policy expression as PostgreSQL 15 deparses it (``pg_policies.qual``/``with_check``;
#: the setting's name written out, as the catalog shows it: a unit test checks it).
POLICY_EXPRESSION = (
    "(tenant_id = (NULLIF(current_setting('integraci.tenant_id'::text, true), ''::text))::uuid)"
)
#: bcrypt (``$2a$``/``$2b$``/``$2y$``) with a cost of 12..31 and its 53-char salt+digest.
BCRYPT_COST_12_PATTERN = r"^\$2[aby]\$(1[2-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$"
HEX_SHA256_PATTERN = "^[0-9a-f]{64}$"
#: The tables every tenant schema (and the platform schema) gets from the template.
TEMPLATE_TABLES = ("accounts", "connectors", "pipeline_runs", "deploy_events", "usage_metrics")
#: Tenant tables that exist only in the platform schema (operator-managed records).
PLATFORM_TENANT_TABLES = ("subprocessor_records", "tenant_keys")
#: Tenant tables whose rows only the operator writes: the application role reads them only
#: (a connector ``ref`` names an OpenBao path; a record holds a sub-processor decision; a
#: tenant key is a data key wrapped by the tenant's transit key).
OPERATOR_MANAGED_TABLES = ("connectors", "subprocessor_records", "tenant_keys")
#: ``accounts`` columns the application role may write: every column but ``is_owner`` (the
#: owner account is the operator's) and, from template v5, the plaintext ``email`` and
#: ``name`` (sealed values instead); ``tenant_id`` and ``id`` are set on INSERT only.
ACCOUNT_PLAINTEXT_COLUMNS = ("email", "name")
ACCOUNT_SEALED_COLUMNS = ("email_enc", "name_enc", "email_bidx", "key_version")
ACCOUNT_APP_UPDATE_COLUMNS = (
    *ACCOUNT_SEALED_COLUMNS,
    "password_hash",
    "invite_token_sha256",
    "invited_at",
    "updated_at",
    "last_login_at",
)
ACCOUNT_APP_INSERT_COLUMNS = ("tenant_id", "id", "created_at", *ACCOUNT_APP_UPDATE_COLUMNS)
#: The grants of template v3 and v4 (plaintext email and name, no sealed columns yet).
_ACCOUNT_APP_UPDATE_V3 = (
    *ACCOUNT_PLAINTEXT_COLUMNS,
    *ACCOUNT_APP_UPDATE_COLUMNS[len(ACCOUNT_SEALED_COLUMNS) :],
)
#: The CHECK of template v5: accounts hold sealed personal data only.
PII_SEALED = "accounts_pii_sealed"
#: The CHECK binding a ``schema``-tier table to its one tenant (template v3).
TENANT_CHECK_NAME = "tenant_rows_only"


@dataclass(frozen=True)
class Names:
    """The identifiers DDL is rendered with."""

    platform: str
    owner: str
    app: str

    def fmt(self, template: sql.SQL, **extra: sql.Composable) -> sql.Composed:
        return template.format(
            p=sql.Identifier(self.platform),
            owner=sql.Identifier(self.owner),
            app=sql.Identifier(self.app),
            **extra,
        )


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    statements: tuple[sql.Composed, ...]


#: Policies on a table other than the fail-closed one (drift to remove).
FOREIGN_POLICIES = sql.SQL(
    "SELECT policyname FROM pg_policies WHERE schemaname = %s AND tablename = %s"
    " AND policyname <> %s"
)


def drop_policy(schema: str, table: str, policy: str) -> sql.Composed:
    return sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(
        sql.Identifier(policy), sql.Identifier(schema, table)
    )


def repair_table(names: Names, schema: str, table: str) -> tuple[sql.Composed, ...]:
    """Re-apply ENABLE + FORCE and recreate the fail-closed policy of one tenant table."""
    return (drop_policy(schema, table, POLICY_NAME), *tenant_table(names, schema, table))


def tenant_table(names: Names, schema: str, table: str) -> tuple[sql.Composed, ...]:
    """RLS (ENABLE + FORCE + the fail-closed policy) and grants of one tenant table."""
    t = sql.Identifier(schema, table)
    return tuple(
        names.fmt(sql.SQL(text), t=t, policy=sql.Identifier(POLICY_NAME), setting=CONTEXT)
        for text in (
            "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
            "CREATE POLICY {policy} ON {t} AS PERMISSIVE FOR ALL TO PUBLIC"
            " USING (tenant_id = nullif(current_setting({setting}, true), '')::uuid)"
            " WITH CHECK (tenant_id = nullif(current_setting({setting}, true), '')::uuid)",
            "REVOKE ALL ON {t} FROM PUBLIC",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {app}",
        )
    )


def app_grants(
    names: Names, schema: str, table: str, *, sealed: bool = True
) -> tuple[sql.Composed, ...]:
    """The application role's privileges on one tenant table from template v3 / platform v4.

    Operator-managed tables: SELECT only. ``accounts``: SELECT, DELETE, and INSERT/UPDATE of
    every column but ``is_owner`` (deleting the owner row is refused by a trigger) and, when
    ``sealed`` (template v5 on), but the plaintext ``email`` and ``name``. Others: SELECT,
    INSERT, UPDATE, DELETE. The REVOKE also drops any earlier column grants.
    """
    t = sql.Identifier(schema, table)
    texts: tuple[str, ...]
    columns: dict[str, sql.Composable] = {}
    if table in OPERATOR_MANAGED_TABLES:
        texts = ("GRANT SELECT ON {t} TO {app}",)
    elif table == "accounts":
        texts = (
            "GRANT SELECT, DELETE ON {t} TO {app}",
            "GRANT INSERT ({insert}) ON {t} TO {app}",
            "GRANT UPDATE ({update}) ON {t} TO {app}",
        )
        update = ACCOUNT_APP_UPDATE_COLUMNS if sealed else _ACCOUNT_APP_UPDATE_V3
        insert = (
            ACCOUNT_APP_INSERT_COLUMNS if sealed else ("tenant_id", "id", "created_at", *update)
        )
        columns = {
            "insert": sql.SQL(", ").join(map(sql.Identifier, insert)),
            "update": sql.SQL(", ").join(map(sql.Identifier, update)),
        }
    else:
        texts = ("GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {app}",)
    return tuple(
        names.fmt(sql.SQL(text), t=t, **columns)
        for text in ("REVOKE ALL ON {t} FROM {app}", *texts)
    )
