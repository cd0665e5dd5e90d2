"""Platform migrations: the registry, the sub-processor register, records and the audit log.

The migrations table itself is created (idempotently) by :func:`bootstrap_statements`
before any versioned step runs, under the migration advisory lock.
"""

from psycopg import sql

from tenant_operator.adapters.postgres.statements import requests, sealed
from tenant_operator.adapters.postgres.statements.common import (
    HEX_SHA256_PATTERN,
    LOCK_AUDIT,
    Names,
    Step,
    app_grants,
    tenant_table,
)
from tenant_operator.domain.audit import GENESIS, PLATFORM_CHAIN


def bootstrap_statements(names: Names) -> tuple[sql.Composed, ...]:
    return (
        names.fmt(sql.SQL("CREATE SCHEMA IF NOT EXISTS {p} AUTHORIZATION {owner}")),
        names.fmt(
            sql.SQL(
                """CREATE TABLE IF NOT EXISTS {p}.migrations (
                component text NOT NULL,
                version integer NOT NULL,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (component, version))"""
            )
        ),
    )


_V1 = (
    "GRANT USAGE ON SCHEMA {p} TO {app}",
    """CREATE TABLE {p}.tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL UNIQUE CHECK (slug ~ {slug_re} AND length(slug) <= 40),
        organisation text NOT NULL,
        plan text NOT NULL CHECK (plan IN ('free', 'team', 'enterprise')),
        isolation text NOT NULL CHECK (isolation IN ('shared', 'schema')),
        schema_name text,
        schema_version integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((isolation = 'schema') = (schema_name IS NOT NULL)))""",
    "REVOKE ALL ON {p}.tenants FROM PUBLIC",
    """CREATE TABLE {p}.subprocessors (
        name text PRIMARY KEY,
        purpose text NOT NULL,
        data_categories text[] NOT NULL,
        location text NOT NULL,
        transfer_mechanism text NOT NULL,
        notice_days integer NOT NULL CHECK (notice_days >= 0),
        updated_at timestamptz NOT NULL DEFAULT now())""",
    "REVOKE ALL ON {p}.subprocessors FROM PUBLIC",
    """CREATE TABLE {p}.subprocessor_records (
        tenant_id uuid NOT NULL REFERENCES {p}.tenants (id) ON DELETE CASCADE,
        name text NOT NULL REFERENCES {p}.subprocessors (name),
        state text NOT NULL CHECK (state IN ('Active', 'PendingNotice', 'Objected')),
        notified_at timestamptz,
        effective_at timestamptz,
        objected_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name))""",
)

_AUDIT = (
    """CREATE TABLE {p}.audit_log (
        chain text NOT NULL,
        seq bigint NOT NULL CHECK (seq >= 1),
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        detail jsonb,
        detail_digest text NOT NULL CHECK (detail_digest ~ {hex}),
        prev_hash text NOT NULL CHECK (prev_hash ~ {hex}),
        hash text NOT NULL CHECK (hash ~ {hex}),
        PRIMARY KEY (chain, seq))""",
    # Trigger: refuse everything but setting `detail` to NULL, even for a superuser.
    """CREATE FUNCTION {p}.audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.detail IS NULL
           AND (NEW.chain, NEW.seq, NEW.at, NEW.actor, NEW.action, NEW.target,
                NEW.detail_digest, NEW.prev_hash, NEW.hash)
               IS NOT DISTINCT FROM
               (OLD.chain, OLD.seq, OLD.at, OLD.actor, OLD.action, OLD.target,
                OLD.detail_digest, OLD.prev_hash, OLD.hash) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % refused (only redaction of detail)',
            TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {p}.audit_log
        FOR EACH ROW EXECUTE FUNCTION {p}.audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {p}.audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION {p}.audit_log_append_only()""",
    # The one way to erase: null `detail` of a chain; the chain verifies via detail_digest.
    """CREATE FUNCTION {p}.redact_audit(p_chain text) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        n bigint;
    BEGIN
        UPDATE {p}.audit_log SET detail = NULL WHERE chain = p_chain AND detail IS NOT NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.redact_audit(text) FROM PUBLIC",
    # Privilege: nobody may UPDATE/DELETE/TRUNCATE, the owner may only touch `detail`.
    "REVOKE ALL ON {p}.audit_log FROM PUBLIC",
    "REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER ON {p}.audit_log FROM {owner}",
    "GRANT UPDATE (detail) ON {p}.audit_log TO {owner}",
)


_AUDIT_APPEND = (
    # One round trip per append: lock the chain, read its head, hash, insert. The caller
    # passes the canonical JSON of the entry split around its seq (see AuditLog.append), so
    # the hash is exactly domain.audit.entry_hash; the caller re-checks the returned hash.
    """CREATE FUNCTION {p}.append_audit(
            p_chain text, p_at timestamptz, p_actor text, p_action text, p_target text,
            p_detail jsonb, p_digest text, p_before_seq text, p_after_seq text,
            OUT seq bigint, OUT prev_hash text, OUT hash text)
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({lock_class}, hashtext(p_chain));
        SELECT a.seq + 1, a.hash INTO seq, prev_hash FROM {p}.audit_log a
            WHERE a.chain = p_chain ORDER BY a.seq DESC LIMIT 1;
        IF NOT FOUND THEN
            seq := 1;
            prev_hash := {genesis};
        END IF;
        hash := encode(sha256(convert_to(
            prev_hash || p_before_seq || seq::text || p_after_seq, 'UTF8')), 'hex');
        INSERT INTO {p}.audit_log (chain, seq, at, actor, action, target, detail,
                                   detail_digest, prev_hash, hash)
            VALUES (p_chain, seq, p_at, p_actor, p_action, p_target, p_detail,
                    p_digest, prev_hash, hash);
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.append_audit"
    "(text, timestamptz, text, text, text, jsonb, text, text, text) FROM PUBLIC",
)


_OPERATOR_ROWS = (
    # The owner account is the operator's: the application role has no privilege on
    # accounts.is_owner (template v3), and this trigger refuses it deleting the owner row.
    # current_user is the owner role in the operator's transactions and in FK cascades.
    """CREATE FUNCTION {p}.guard_owner_account() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        IF NOT pg_has_role(current_user, {owner_name}, 'USAGE') THEN
            RAISE EXCEPTION 'permission denied: the owner account is managed by the operator'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'change spec.owner of the Tenant instead';
        END IF;
        RETURN OLD;
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.guard_owner_account() FROM PUBLIC",
)

_IDENTITY = (
    # The Kubernetes object (metadata.uid) each tenant belongs to; one object, one tenant.
    "ALTER TABLE {p}.tenants ADD COLUMN k8s_uid uuid CONSTRAINT tenants_k8s_uid_key UNIQUE",
    # Set when its Tenant is deleted with deletionPolicy Retain: the row waits for adoption.
    "ALTER TABLE {p}.tenants ADD COLUMN retained_at timestamptz",
    # Upgrade path: a tenant whose chain ends with its retention was retained before this
    # step (it has no uid yet: only an adoption naming it may claim it).
    """UPDATE {p}.tenants t SET retained_at = last.at
        FROM (SELECT DISTINCT ON (chain) chain, action, at FROM {p}.audit_log
              ORDER BY chain, seq DESC) last
        WHERE last.chain = t.slug AND last.action = 'tenant.deleted.retained'""",
    # Even the operator's role re-assigns a tenant only in a transaction that names the
    # tenant it adopts (integraci.adopt_tenant = its id), and never forgets the object.
    """CREATE FUNCTION {p}.tenants_identity_guard() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        adopting boolean := coalesce(current_setting('integraci.adopt_tenant', true), '')
            = OLD.id::text;
    BEGIN
        IF OLD.k8s_uid IS NOT NULL AND NEW.k8s_uid IS NULL THEN
            RAISE EXCEPTION 'tenant % belongs to Kubernetes object %: that cannot be '
                'forgotten, only re-assigned by an adoption naming the tenant',
                OLD.slug, OLD.k8s_uid;
        END IF;
        IF NEW.k8s_uid IS DISTINCT FROM OLD.k8s_uid
           AND (OLD.k8s_uid IS NOT NULL OR OLD.retained_at IS NOT NULL) AND NOT adopting THEN
            RAISE EXCEPTION 'tenant % belongs to Kubernetes object %: only an adoption '
                'naming the tenant (integraci.adopt_tenant = %) may re-assign it',
                OLD.slug, OLD.k8s_uid, OLD.id;
        END IF;
        IF OLD.retained_at IS NOT NULL AND NEW.retained_at IS NULL AND NOT adopting THEN
            RAISE EXCEPTION 'tenant % is retained: only an adoption naming the tenant '
                '(integraci.adopt_tenant = %) may clear retained_at', OLD.slug, OLD.id;
        END IF;
        RETURN NEW;
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.tenants_identity_guard() FROM PUBLIC",
    """CREATE TRIGGER tenants_identity_guard BEFORE UPDATE OF k8s_uid, retained_at
        ON {p}.tenants FOR EACH ROW EXECUTE FUNCTION {p}.tenants_identity_guard()""",
)

_AUDIT_CHAINS = (
    # Which chain is each tenant's: a slug names its first chain; once the tenant is erased
    # that chain is closed and a re-created tenant of the same slug opens a new one,
    # "<slug>@<registry id>", from genesis. Existing chains keep their names; those of
    # tenants already erased are closed here. The audit rows themselves are never touched.
    """CREATE TABLE {p}.audit_chains (
        chain text PRIMARY KEY,
        slug text CHECK (slug ~ {slug_re} AND length(slug) <= 40),
        opened_at timestamptz NOT NULL DEFAULT now(),
        closed_at timestamptz,
        CHECK ((slug IS NULL) = (chain = {platform_chain})),
        CHECK (slug IS NULL OR chain = slug OR starts_with(chain, slug || '@')))""",
    "REVOKE ALL ON {p}.audit_chains FROM PUBLIC",
    "CREATE UNIQUE INDEX audit_chains_open ON {p}.audit_chains (slug) WHERE closed_at IS NULL",
    """INSERT INTO {p}.audit_chains (chain, slug, opened_at, closed_at)
        SELECT c.chain, nullif(c.chain, {platform_chain}), c.first_at,
               CASE WHEN c.chain <> {platform_chain} AND c.last_action = 'tenant.erased'
                    THEN c.last_at END
        FROM (SELECT DISTINCT ON (a.chain) a.chain, a.action AS last_action, a.at AS last_at,
                     (SELECT min(b.at) FROM {p}.audit_log b WHERE b.chain = a.chain) AS first_at
              FROM {p}.audit_log a ORDER BY a.chain, a.seq DESC) c""",
    # The tenant's open chain, opened if it has none (serialized per slug).
    """CREATE FUNCTION {p}.open_audit_chain(p_slug text) RETURNS text
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        v_chain text;
    BEGIN
        PERFORM pg_advisory_xact_lock({lock_class}, hashtext('open:' || p_slug));
        SELECT c.chain INTO v_chain FROM {p}.audit_chains c
            WHERE c.slug = p_slug AND c.closed_at IS NULL;
        IF FOUND THEN
            RETURN v_chain;
        END IF;
        v_chain := p_slug;
        IF EXISTS (SELECT 1 FROM {p}.audit_chains c WHERE c.chain = v_chain) THEN
            v_chain := p_slug || '@' || coalesce(
                (SELECT t.id::text FROM {p}.tenants t WHERE t.slug = p_slug),
                gen_random_uuid()::text);
            IF EXISTS (SELECT 1 FROM {p}.audit_chains c WHERE c.chain = v_chain) THEN
                v_chain := p_slug || '@' || gen_random_uuid()::text;
            END IF;
        END IF;
        INSERT INTO {p}.audit_chains (chain, slug) VALUES (v_chain, p_slug);
        RETURN v_chain;
    END $$""",
    "REVOKE ALL ON FUNCTION {p}.open_audit_chain(text) FROM PUBLIC",
)


def platform_steps(names: Names) -> tuple[Step, ...]:
    """The versioned platform migrations (oldest first)."""
    values = {
        "slug_re": sql.Literal("^[a-z]([-a-z0-9]*[a-z0-9])?$"),
        "hex": sql.Literal(HEX_SHA256_PATTERN),
        "genesis": sql.Literal(GENESIS),
        "lock_class": sql.Literal(LOCK_AUDIT),
        "owner_name": sql.Literal(names.owner),
        "platform_chain": sql.Literal(PLATFORM_CHAIN),
    }

    def render(texts: tuple[str, ...]) -> tuple[sql.Composed, ...]:
        return tuple(names.fmt(sql.SQL(text), **values) for text in texts)

    records_rls = tenant_table(names, names.platform, "subprocessor_records")
    return (
        Step(1, "tenant registry, sub-processor register and records", render(_V1) + records_rls),
        Step(2, "append-only audit log with redaction", render(_AUDIT)),
        Step(3, "single-round-trip audit append", render(_AUDIT_APPEND)),
        Step(
            4,
            "sub-processor records read-only for the application role, owner-row guard",
            render(_OPERATOR_ROWS) + app_grants(names, names.platform, "subprocessor_records"),
        ),
        Step(5, "tenants belong to their Kubernetes object; retained tenants", render(_IDENTITY)),
        Step(
            6,
            "audit chains: a new chain when an erased tenant's slug is reused",
            render(_AUDIT_CHAINS),
        ),
        Step(7, "tenant data keys (wrapped), the organisation sealed", sealed.v7(names)),
        Step(
            8,
            "data-subject requests and the redaction of a subject's audit details",
            requests.v8(names),
        ),
    )
