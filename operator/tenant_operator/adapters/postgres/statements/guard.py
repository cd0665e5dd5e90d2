"""The audit guard: event triggers a DBA installs so the owner cannot unprotect the audit log.

The owner role owns ``<platform>.audit_log`` and could otherwise ``ALTER TABLE ... DISABLE
TRIGGER``, drop the append-only trigger, replace its function, add a rule, or drop the table.
The guard lives in the schema ``<platform>_guard``, owned by the bootstrapping superuser (a
schema's owner may drop anything in it, so not the owner role's), and consists of:

* ``sealed``: the audit objects (the table, and the functions ``audit_log_append_only`` and
  ``redact_audit``) with the transaction that created them. Only the guard writes it.
* ``guard_ddl`` on ``ddl_command_end`` and ``guard_drop`` on ``sql_drop``: every command
  touching a sealed object (or a trigger, rule, policy, index, constraint, column, default or
  inheritance child of the sealed table) is refused unless the current user is a superuser
  or the object was created in this same transaction; the whole transaction rolls back.
  Other DDL takes a fast path (one catalog query per command, about 0.1 ms: a ``schema``-tier
  provisioning, ~45 DDL statements, costs some 5 ms more). So migrations may still create
  the audit objects (and add triggers to the table they just created), and nothing can alter,
  replace (``CREATE OR REPLACE``) or drop them afterwards. A later migration that must change
  them runs as a superuser.

Not covered: ``GRANT``/``REVOKE`` (event triggers do not say which object); the append-only
trigger refuses UPDATE/DELETE/TRUNCATE whatever the privileges say.
"""

from psycopg import sql

#: The audit objects, by name, in the platform schema: what the guard seals on creation.
#: ``guard_owner_account`` (platform step 4) is sealed too: it is the one trigger function
#: the RLS guard lets a tenant table run (:mod:`.rls_guard`), so nobody may replace its body.
AUDIT_TABLE = "audit_log"
AUDIT_FUNCTIONS = ("audit_log_append_only", "redact_audit", "guard_owner_account")

_GUARD = (
    "CREATE SCHEMA IF NOT EXISTS {g}",
    "REVOKE ALL ON SCHEMA {g} FROM PUBLIC",
    # the guard functions run as the user issuing the DDL: they read and call, never write
    "GRANT USAGE ON SCHEMA {g} TO PUBLIC",
    """CREATE TABLE IF NOT EXISTS {g}.sealed (
        classid oid NOT NULL,
        objid oid NOT NULL,
        sealed_in xid8 NOT NULL,
        PRIMARY KEY (classid, objid))""",
    "REVOKE ALL ON {g}.sealed FROM PUBLIC",
    "GRANT SELECT ON {g}.sealed TO PUBLIC",
    # The audit objects that exist now, found by name.
    """CREATE OR REPLACE FUNCTION {g}.audit_objects(OUT classid oid, OUT objid oid)
        RETURNS SETOF record LANGUAGE sql STABLE
        SET search_path = pg_catalog, pg_temp AS $$
        SELECT 'pg_class'::regclass::oid, c.oid FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = {platform} AND c.relname = {table} AND c.relkind IN ('r', 'p')
        UNION ALL
        SELECT 'pg_proc'::regclass::oid, f.oid FROM pg_proc f
            JOIN pg_namespace n ON n.oid = f.pronamespace
            WHERE n.nspname = {platform} AND f.proname = ANY ({functions})
    $$""",
    """CREATE OR REPLACE FUNCTION {g}.root_of(p_classid oid, p_objid oid)
        RETURNS TABLE (rootclass oid, root oid) LANGUAGE sql STABLE AS $$
        -- no SET clause, every name qualified: the planner inlines it into the guard
        SELECT CASE WHEN t.relid IS NULL THEN p_classid
                    ELSE 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid END,
               coalesce(t.relid, p_objid)
        FROM (SELECT CASE p_classid
            WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN coalesce(
                (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = p_objid),
                (SELECT i.inhparent FROM pg_catalog.pg_inherits i
                 WHERE i.inhrelid = p_objid ORDER BY i.inhseqno LIMIT 1))
            WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN
                (SELECT r.tgrelid FROM pg_catalog.pg_trigger r WHERE r.oid = p_objid)
            WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN
                (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = p_objid)
            WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN
                (SELECT r.polrelid FROM pg_catalog.pg_policy r WHERE r.oid = p_objid)
            WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN
                (SELECT NULLIF(r.conrelid, 0::pg_catalog.oid) FROM pg_catalog.pg_constraint r
                 WHERE r.oid = p_objid)
            WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN
                (SELECT r.adrelid FROM pg_catalog.pg_attrdef r WHERE r.oid = p_objid)
            WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN
                (SELECT r.stxrelid FROM pg_catalog.pg_statistic_ext r WHERE r.oid = p_objid)
            END AS relid) t
    $$""",
    # Seal an audit object (only those; sealing more is impossible, sealing twice a no-op).
    """CREATE OR REPLACE FUNCTION {g}.seal(p_classid oid, p_objid oid) RETURNS void
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        INSERT INTO {g}.sealed (classid, objid, sealed_in)
            SELECT a.classid, a.objid, pg_current_xact_id() FROM {g}.audit_objects() a
            WHERE a.classid = p_classid AND a.objid = p_objid
        ON CONFLICT DO NOTHING
    $$""",
    # Forget the seal of an object that no longer exists (only those).
    """CREATE OR REPLACE FUNCTION {g}.unseal_dropped(p_classid oid, p_objid oid) RETURNS void
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DELETE FROM {g}.sealed s WHERE s.classid = p_classid AND s.objid = p_objid
            AND NOT EXISTS (SELECT 1 FROM pg_class c
                            WHERE p_classid = 'pg_class'::regclass AND c.oid = p_objid)
            AND NOT EXISTS (SELECT 1 FROM pg_proc f
                            WHERE p_classid = 'pg_proc'::regclass AND f.oid = p_objid)
    $$""",
    """CREATE OR REPLACE FUNCTION {g}.guard_ddl() RETURNS event_trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        r record;
        su boolean := coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                               false);
    BEGIN
        -- fast path: no command is in the platform schema (where the audit objects are
        -- created) or touches a sealed object (a table: through its triggers, rules,
        -- policies, indexes, constraints, defaults or inheritance children)
        IF NOT EXISTS (
            SELECT 1 FROM pg_event_trigger_ddl_commands() d
            CROSS JOIN LATERAL {g}.root_of(d.classid, d.objid) x
            WHERE d.objid IS NOT NULL
              AND (d.schema_name = {platform} OR x.root IN (SELECT s.objid FROM {g}.sealed s))
        ) THEN
            RETURN;
        END IF;
        -- seal the audit objects this command creates (a superuser's command: any it touches)
        PERFORM {g}.seal(x.rootclass, x.root)
            FROM pg_event_trigger_ddl_commands() d
            CROSS JOIN LATERAL {g}.root_of(d.classid, d.objid) x
            WHERE d.objid IS NOT NULL
              AND (su OR (d.classid = x.rootclass AND d.objid = x.root
                          AND d.command_tag LIKE 'CREATE %'));
        IF su THEN
            RETURN;
        END IF;
        -- refuse anything else touching an audit object not created in this transaction
        FOR r IN
            SELECT d.command_tag, d.object_identity
            FROM pg_event_trigger_ddl_commands() d
            CROSS JOIN LATERAL {g}.root_of(d.classid, d.objid) x
            LEFT JOIN {g}.sealed s ON s.classid = x.rootclass AND s.objid = x.root
            WHERE d.objid IS NOT NULL
              AND (s.sealed_in IS DISTINCT FROM pg_current_xact_id())
              AND (s.objid IS NOT NULL OR (x.rootclass, x.root) IN
                   (SELECT a.classid, a.objid FROM {g}.audit_objects() a))
        LOOP
            RAISE EXCEPTION 'audit guard: % of % refused: the audit log, its triggers and its '
                'redaction function cannot be altered or dropped once created', r.command_tag,
                r.object_identity
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Only a superuser (a DBA) may change the audit objects.';
        END LOOP;
    END $$""",
    """CREATE OR REPLACE FUNCTION {g}.guard_drop() RETURNS event_trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        r record;
        su boolean := coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                               false);
    BEGIN
        FOR r IN
            SELECT d.object_type, d.object_identity, d.classid, d.objid,
                   s.classid AS sealed_class, s.objid AS sealed_obj, s.sealed_in
            FROM pg_event_trigger_dropped_objects() d
            JOIN {g}.sealed s ON (s.classid = d.classid AND s.objid = d.objid)
              OR (d.object_type IN ('trigger', 'rule', 'policy', 'table constraint',
                                    'table column', 'default value')
                  AND cardinality(d.address_names) >= 2
                  AND s.classid = 'pg_class'::regclass
                  AND s.objid = (SELECT c.oid FROM pg_class c
                                 JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE n.nspname = d.address_names[1]
                                   AND c.relname = d.address_names[2]))
        LOOP
            IF su OR r.sealed_in = pg_current_xact_id() THEN
                IF r.classid = r.sealed_class AND r.objid = r.sealed_obj THEN
                    PERFORM {g}.unseal_dropped(r.sealed_class, r.sealed_obj);
                END IF;
                CONTINUE;
            END IF;
            RAISE EXCEPTION 'audit guard: dropping % % refused: the audit log, its triggers '
                'and its redaction function cannot be dropped', r.object_type, r.object_identity
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Only a superuser (a DBA) may drop the audit objects.';
        END LOOP;
    END $$""",
)


def guard_schema(platform: str) -> str:
    """The schema holding the guard of ``platform`` (not owned by the owner role)."""
    return platform + "_guard"


def guard_triggers(platform: str) -> tuple[tuple[str, str, str], ...]:
    """(event trigger name, event, function) of the guard of ``platform``."""
    return (
        (platform + "_audit_guard_ddl", "ddl_command_end", "guard_ddl"),
        (platform + "_audit_guard_drop", "sql_drop", "guard_drop"),
    )


def install_guard(platform: str) -> tuple[sql.Composed, ...]:
    """The guard's schema, seal table and functions (idempotent; run as a superuser)."""
    values = {
        "g": sql.Identifier(guard_schema(platform)),
        "platform": sql.Literal(platform),
        "table": sql.Literal(AUDIT_TABLE),
        "functions": sql.Literal(list(AUDIT_FUNCTIONS)),
    }
    return tuple(sql.SQL(text).format(**values) for text in _GUARD)


def seal_existing(platform: str) -> sql.Composed:
    """Seal the audit objects that already exist (a guard installed after the migrations)."""
    return sql.SQL("SELECT {g}.seal(a.classid, a.objid) FROM {g}.audit_objects() a").format(
        g=sql.Identifier(guard_schema(platform))
    )


def create_event_trigger(name: str, event: str, platform: str, function: str) -> sql.Composed:
    return sql.SQL("CREATE EVENT TRIGGER {} ON {} EXECUTE FUNCTION {}()").format(
        sql.Identifier(name), sql.SQL(event), sql.Identifier(guard_schema(platform), function)
    )


EVENT_TRIGGER_EXISTS = sql.SQL("SELECT 1 FROM pg_event_trigger WHERE evtname = %s")
