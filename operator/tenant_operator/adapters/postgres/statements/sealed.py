"""SQL of sealed personal data: the tenants' wrapped data keys (platform v7) and sealed rows.

``tenant_keys`` holds each tenant's data keys in the form OpenBao transit wrapped them
(``vault:vN:...``); the plaintext of a data key never reaches PostgreSQL. It is a tenant
table like any other (FORCE RLS, fail-closed) that only the operator writes. The registry's
``organisation`` becomes ``organisation_enc`` (sealed with the tenant's data key); the
plaintext column stays only for rows written before v7, and every UPDATE of such a row
drops it (a trigger): the Tenant's spec holds it, and the operator seals it again.

Account rows are sealed, re-sealed and looked up by blind index with the statements below,
always inside a transaction with the tenant context set.
"""

from psycopg import sql

from tenant_operator.adapters.postgres.statements.common import Names, app_grants, tenant_table

ORGANISATION_SEALED = "tenants_organisation_sealed"

_V7 = (
    """CREATE TABLE {p}.tenant_keys (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version > 0),
        wrapped text NOT NULL CONSTRAINT tenant_keys_wrapped_by_transit
            CHECK (wrapped LIKE 'vault:v%'),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, version))""",
    """ALTER TABLE {p}.tenant_keys ALTER COLUMN tenant_id SET STATISTICS 0,
        ALTER COLUMN version SET STATISTICS 0, ALTER COLUMN wrapped SET STATISTICS 0,
        ALTER COLUMN created_at SET STATISTICS 0""",
    """ALTER TABLE {p}.tenants ADD COLUMN organisation_enc bytea,
        ALTER COLUMN organisation DROP NOT NULL""",
    """ALTER TABLE {p}.tenants ADD CONSTRAINT {org_sealed}
        CHECK (organisation IS NULL) NOT VALID""",
    """CREATE FUNCTION {p}.tenants_drop_plaintext_organisation() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        NEW.organisation := NULL;
        RETURN NEW;
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.tenants_drop_plaintext_organisation() FROM PUBLIC",
    """CREATE TRIGGER tenants_drop_plaintext_organisation BEFORE UPDATE ON {p}.tenants
        FOR EACH ROW WHEN (NEW.organisation IS NOT NULL)
        EXECUTE FUNCTION {p}.tenants_drop_plaintext_organisation()""",
)


def v7(names: Names) -> tuple[sql.Composed, ...]:
    """Platform v7: ``tenant_keys`` (RLS, operator-managed) and the sealed organisation."""
    rendered = tuple(
        names.fmt(sql.SQL(text), org_sealed=sql.Identifier(ORGANISATION_SEALED)) for text in _V7
    )
    return (
        rendered[:2]
        + tenant_table(names, names.platform, "tenant_keys")
        + app_grants(names, names.platform, "tenant_keys")
        + rendered[2:]
    )


def _p(text: str, platform: str) -> sql.Composed:
    return sql.SQL(text).format(p=sql.Identifier(platform))


def _s(text: str, schema: str) -> sql.Composed:
    return sql.SQL(text).format(s=sql.Identifier(schema))


# --- data keys (the tenant context set) -------------------------------------------------------


def select_keys(platform: str) -> sql.Composed:
    """(version, wrapped) of the tenant's data keys (param: tenant), oldest first."""
    return _p(
        "SELECT version, wrapped FROM {p}.tenant_keys WHERE tenant_id = %s ORDER BY version",
        platform,
    )


def insert_key(platform: str) -> sql.Composed:
    """Record a wrapped data key (params: tenant, version, wrapped); no row if it exists."""
    return _p(
        "INSERT INTO {p}.tenant_keys (tenant_id, version, wrapped) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, version) DO NOTHING RETURNING version",
        platform,
    )


def delete_other_keys(platform: str) -> sql.Composed:
    """Forget every data key of the tenant but one (params: tenant, the version kept)."""
    return _p("DELETE FROM {p}.tenant_keys WHERE tenant_id = %s AND version <> %s", platform)


# --- the organisation ---------------------------------------------------------------------------


def select_organisation(platform: str) -> sql.Composed:
    """(plaintext organisation of a row before v7, sealed organisation) of a tenant (id)."""
    return _p("SELECT organisation, organisation_enc FROM {p}.tenants WHERE id = %s", platform)


def seal_organisation(platform: str) -> sql.Composed:
    """Store the sealed organisation (params: sealed, tenant id); the plaintext goes."""
    return _p(
        "UPDATE {p}.tenants SET organisation = NULL, organisation_enc = %s, updated_at = now()"
        " WHERE id = %s",
        platform,
    )


#: Drop the plaintext organisation of a row written before v7 (param: id).
def drop_plaintext_organisation(platform: str) -> sql.Composed:
    return _p(
        "UPDATE {p}.tenants SET organisation = NULL WHERE id = %s AND organisation IS NOT NULL",
        platform,
    )


# --- accounts -------------------------------------------------------------------------------


def plaintext_accounts(schema: str) -> sql.Composed:
    """Accounts written before template v5 (param: tenant): (id, email, name), locked."""
    return _s(
        "SELECT id, email, name FROM {s}.accounts WHERE tenant_id = %s"
        " AND (email IS NOT NULL OR name IS NOT NULL) ORDER BY id FOR UPDATE",
        schema,
    )


def sealed_accounts(schema: str) -> sql.Composed:
    """Sealed accounts (param: tenant): (id, email_enc, name_enc), locked."""
    return _s(
        "SELECT id, email_enc, name_enc FROM {s}.accounts WHERE tenant_id = %s"
        " AND email_enc IS NOT NULL ORDER BY id FOR UPDATE",
        schema,
    )


def seal_account(schema: str) -> sql.Composed:
    """Store an account's sealed email and name, its blind index and key version (params:
    email_enc, name_enc, email_bidx, key_version, tenant, id); the plaintext goes."""
    return _s(
        "UPDATE {s}.accounts SET email = NULL, name = NULL, email_enc = %s, name_enc = %s,"
        " email_bidx = %s, key_version = %s, updated_at = now() WHERE tenant_id = %s AND id = %s",
        schema,
    )


def validate_sealed(schema: str, constraint: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
        sql.Identifier(schema, "accounts"), sql.Identifier(constraint)
    )


#: Whether the accounts table's CHECK of template v5 is validated (params: table, name).
SEALED_VALIDATED = sql.SQL(
    "SELECT convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s"
)
