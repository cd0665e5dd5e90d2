"""The RLS guard: event triggers a DBA installs so no role but a superuser can weaken RLS.

The owner role owns every tenant table, and the operator's login role is a member of it, so
without the guard its credentials could ``DISABLE`` or ``NO FORCE ROW LEVEL SECURITY``, drop
or loosen the fail-closed policy, add another one, hand the table to another owner or add a
rule or trigger copying rows out. The guard lives beside the audit guard in the schema
``<platform>_guard`` (owned by the bootstrapping superuser) and consists of:

* ``tenant_tables``: the tenant tables by oid, enrolled when a command first touches them
  (their creation, normally) or at bootstrap. A tenant table is a table of a ``t_*`` schema
  (``schema`` tier) or one of :data:`TENANT_TABLES` in the platform schema (``shared``
  tier). Being keyed by oid, a table stays guarded when renamed or moved to another schema.
  The attribute number of its ``tenant_id`` column is recorded with it.
* ``rls_guard_ddl`` on ``ddl_command_end`` and ``rls_guard_drop`` on ``sql_drop``: every
  command of a non-superuser touching a tenant table (the table itself, or its policies,
  triggers, rules, indexes, constraints, columns, defaults or inheritance children) queues
  the table in ``rls_pending``, whose ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger
  checks it at COMMIT (at the end of the statement in autocommit, or earlier with ``SET
  CONSTRAINTS ALL IMMEDIATE``, which only makes the check stricter).

The invariant, checked at commit for every tenant table the transaction touched: RLS
``ENABLE`` + ``FORCE``; exactly one policy, :data:`~.common.POLICY_NAME`, ``PERMISSIVE``,
``FOR ALL``, ``TO PUBLIC``, ``USING`` and ``WITH CHECK`` exactly
:data:`~.common.POLICY_EXPRESSION` (deparsed with ``search_path = pg_catalog``, so a
look-alike operator or function in another schema does not match), on the ``tenant_id``
column the table was enrolled with (not another column renamed to it); owned by the owner
role; no rule and no trigger but PostgreSQL's internal (foreign key) ones and those running a
function the audit guard sealed (``guard_owner_account``); no function,
operator, type, operator class or collation from outside ``pg_catalog`` in its columns,
constraints, defaults and indexes, and no volatile function in them but
``gen_random_uuid()`` and ``nextval()`` (code running on every write, as the writer, like a
trigger's: ``set_config`` could switch the writer's tenant context). Otherwise the
commit fails with ``insufficient_privilege`` and the message ``RLS guard: refused ...``,
and the whole transaction rolls back. Checking at commit rather than per command is what
lets the operator's own DDL keep working unchanged: provisioning creates a table and then
enables, forces and adds the policy in the same transaction, and the drift repair drops and
recreates the policy; both end in the invariant. A weakened state inside a transaction is
seen by that transaction only (catalog changes are transactional), by a role that can read
every tenant's rows through the tenant context anyway.

Dropping a tenant table or schema (erasure) stays allowed: it removes rows, it exposes none.
A superuser's commands queue nothing: the bootstrapping DBA can still change anything, and
a table a superuser left outside the invariant can only be repaired by a superuser too (the
operator's repair is refused, and says so). Event triggers need a superuser, so only the
DBA can install, disable or drop the guard.

The tenant table names, the policy expression and the owner role's name are baked into the
guard's functions when it is installed: a release changing them needs the DBA to re-run
``bootstrap-roles`` first (it replaces the functions), or the operator's DDL is refused.

Cost, measured on the 2-core CI machine under load (minimum of repeated runs): about 0.45 ms
per DDL command (a few index lookups per object the command names, and one call per newly
touched tenant table) and 0.9 ms per touched tenant table at commit. A ``schema``-tier
provisioning (37 DDL statements, 5 tables) took 12 ms of statements without either guard,
19 ms with the audit guard and 40 ms with both, plus 3.5 ms at commit; ``shared``-tier
provisioning runs no DDL and costs nothing more. The isolation check asks the guard about
each tenant table of the schema it checks (one more query per schema).

Not covered: ``GRANT``/``REVOKE`` (RLS applies to every role but a superuser or BYPASSRLS
one, which only a superuser can create), and the owner of a tenant schema itself.
"""

from psycopg import sql

from tenant_operator.adapters.postgres.statements.common import (
    PLATFORM_TENANT_TABLES,
    POLICY_EXPRESSION,
    POLICY_NAME,
    TEMPLATE_TABLES,
)
from tenant_operator.adapters.postgres.statements.guard import guard_schema

#: The tenant tables of the platform schema (``shared`` tier), by name.
TENANT_TABLES = (*TEMPLATE_TABLES, *PLATFORM_TENANT_TABLES)
#: What a ``schema``-tier tenant's schema is called (``domain.naming.tenant_schema``).
TENANT_SCHEMA_LIKE = "t\\_%"

_RLS_GUARD = (
    """CREATE TABLE IF NOT EXISTS {g}.tenant_tables (
        relid oid PRIMARY KEY,
        tenant_attnum int2,
        enrolled_in xid8 NOT NULL)""",
    "REVOKE ALL ON {g}.tenant_tables FROM PUBLIC",
    "GRANT SELECT ON {g}.tenant_tables TO PUBLIC",
    """CREATE TABLE IF NOT EXISTS {g}.rls_pending (
        xact xid8 NOT NULL,
        relid oid NOT NULL,
        PRIMARY KEY (xact, relid))""",
    "REVOKE ALL ON {g}.rls_pending FROM PUBLIC",
    # read by the event triggers (as the user issuing the DDL) to skip what is queued already
    "GRANT SELECT ON {g}.rls_pending TO PUBLIC",
    # Enrol the tenant tables among these relations (only those), and queue the enrolled
    # ones for the commit-time check. One call per command; plpgsql caches its plans.
    """CREATE OR REPLACE FUNCTION {g}.rls_touch(p_relids oid[], p_check boolean) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        INSERT INTO {g}.tenant_tables (relid, tenant_attnum, enrolled_in)
            SELECT c.oid,
                   (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid
                    AND a.attname = 'tenant_id' AND NOT a.attisdropped),
                   pg_current_xact_id()
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = ANY (p_relids) AND c.relkind IN ('r', 'p')
              AND (n.nspname LIKE {schema_like}
                   OR (n.nspname = {platform} AND c.relname = ANY ({tables})))
        ON CONFLICT DO NOTHING;
        IF p_check THEN
            INSERT INTO {g}.rls_pending (xact, relid)
                SELECT pg_current_xact_id(), t.relid FROM {g}.tenant_tables t
                WHERE t.relid = ANY (p_relids)
            ON CONFLICT DO NOTHING;
        END IF;
    END $$""",
    # Forget the tenant tables among these that no longer exist (only those).
    """CREATE OR REPLACE FUNCTION {g}.rls_forget(p_relids oid[]) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        DELETE FROM {g}.tenant_tables t WHERE t.relid = ANY (p_relids)
            AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.relid);
    END $$""",
    # What breaks the invariant of a tenant table (NULL: nothing).
    """CREATE OR REPLACE FUNCTION {g}.rls_problem(p_relid oid) RETURNS text
        LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        RETURN (SELECT CASE
            WHEN NOT c.relrowsecurity THEN 'row level security is not enabled'
            WHEN NOT c.relforcerowsecurity THEN 'row level security is not forced'
            WHEN c.relowner IS DISTINCT FROM
                 (SELECT r.oid FROM pg_roles r WHERE r.rolname = {owner})
                THEN format('its owner is %s, not %s', c.relowner::regrole, {owner})
            WHEN NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                             AND a.attname = 'tenant_id' AND a.attnum = t.tenant_attnum
                             AND NOT a.attisdropped)
                THEN 'its tenant_id column was renamed, replaced or dropped'
            WHEN pol.n <> 1 OR NOT pol.exact
                THEN format('its policies are not exactly the fail-closed %s (PERMISSIVE,'
                            ' FOR ALL, TO PUBLIC, USING and WITH CHECK %s); found: %s',
                            {policy}, {expression}, coalesce(pol.names, 'none'))
            WHEN tg.names IS NOT NULL THEN format('it has the trigger(s) %s', tg.names)
            WHEN ru.names IS NOT NULL THEN format('it has the rule(s) %s', ru.names)
            WHEN fx.names IS NOT NULL
                THEN format('its columns, constraints, defaults or indexes use %s, which are'
                            ' not PostgreSQL''s own (pg_catalog)', fx.names)
            WHEN vf.names IS NOT NULL
                THEN format('its constraints, defaults or indexes call the volatile'
                            ' function(s) %s (side effects on every write)', vf.names)
        END
        FROM pg_class c
        JOIN {g}.tenant_tables t ON t.relid = c.oid
        CROSS JOIN LATERAL (
            SELECT count(*) AS n,
                   bool_and(p.polname = {policy} AND p.polpermissive AND p.polcmd = '*'
                            AND p.polroles = '{{0}}'::oid[]
                            AND pg_get_expr(p.polqual, p.polrelid) = {expression}
                            AND pg_get_expr(p.polwithcheck, p.polrelid) = {expression})
                       AS exact,
                   string_agg(format('%s (%s, %s, %s, USING %s, WITH CHECK %s)', p.polname,
                                     CASE WHEN p.polpermissive THEN 'PERMISSIVE'
                                          ELSE 'RESTRICTIVE' END,
                                     p.polcmd, p.polroles::regrole[],
                                     pg_get_expr(p.polqual, p.polrelid),
                                     pg_get_expr(p.polwithcheck, p.polrelid)),
                              '; ' ORDER BY p.polname) AS names
            FROM pg_policy p WHERE p.polrelid = c.oid) pol
        CROSS JOIN LATERAL (
            SELECT string_agg(r.tgname::text, ', ' ORDER BY r.tgname) AS names
            FROM pg_trigger r WHERE r.tgrelid = c.oid AND NOT r.tgisinternal
              -- the sealed trigger functions (guard_owner_account) cannot be replaced
              AND r.tgfoid NOT IN (SELECT s.objid FROM {g}.sealed s
                                   WHERE s.classid = 'pg_proc'::regclass)) tg
        CROSS JOIN LATERAL (
            SELECT string_agg(r.rulename::text, ', ' ORDER BY r.rulename) AS names
            FROM pg_rewrite r WHERE r.ev_class = c.oid) ru
        CROSS JOIN LATERAL (
            -- a function, operator, type, operator class or collation of anyone's: code
            -- running on every write, as the writer, like a trigger's
            SELECT string_agg(DISTINCT pg_describe_object(d.refclassid, d.refobjid, 0), ', ')
                AS names
            FROM (SELECT 'pg_class'::regclass AS classid, c.oid AS objid
                  UNION ALL SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k
                            WHERE k.conrelid = c.oid
                  UNION ALL SELECT 'pg_attrdef'::regclass, a.oid FROM pg_attrdef a
                            WHERE a.adrelid = c.oid
                  UNION ALL SELECT 'pg_class'::regclass, i.indexrelid FROM pg_index i
                            WHERE i.indrelid = c.oid) o
            JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
            WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass,
                                   'pg_type'::regclass, 'pg_opclass'::regclass,
                                   'pg_collation'::regclass)
              AND (pg_identify_object(d.refclassid, d.refobjid, 0)).schema
                  IS DISTINCT FROM 'pg_catalog') fx
        CROSS JOIN LATERAL (
            -- pg_catalog's own volatile functions in these expressions (set_config could
            -- switch the writer's tenant context, pg_notify send a row to any listener):
            -- read off the stored expression trees (pinned functions have no pg_depend)
            SELECT string_agg(DISTINCT f.oid::regprocedure::text, ', ') AS names
            FROM (SELECT k.conbin::text AS e FROM pg_constraint k
                  WHERE k.conrelid = c.oid AND k.conbin IS NOT NULL
                  UNION ALL SELECT a.adbin::text FROM pg_attrdef a WHERE a.adrelid = c.oid
                  UNION ALL SELECT coalesce(i.indexprs::text, '')
                                   || coalesce(i.indpred::text, '')
                            FROM pg_index i WHERE i.indrelid = c.oid) x
            CROSS JOIN LATERAL regexp_matches(x.e, ':(funcid|opno) (\\d+)', 'g') m
            JOIN pg_proc f ON f.oid = CASE WHEN m[1] = 'funcid' THEN m[2]::oid
                ELSE (SELECT o.oprcode::oid FROM pg_operator o WHERE o.oid = m[2]::oid) END
            WHERE f.provolatile = 'v'
              AND f.oid NOT IN ('pg_catalog.gen_random_uuid()'::regprocedure,
                                'pg_catalog.nextval(regclass)'::regprocedure)) vf
        WHERE c.oid = p_relid);
    END $$""",
    # The commit-time check of one queued table (a deferred constraint trigger).
    """CREATE OR REPLACE FUNCTION {g}.rls_check() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        problem text;
        what text;
    BEGIN
        DELETE FROM {g}.rls_pending p WHERE p.xact = NEW.xact AND p.relid = NEW.relid;
        SELECT {g}.rls_problem(c.oid), format('%I.%I', n.nspname, c.relname)
            INTO problem, what
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = NEW.relid;
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'RLS guard: refused, the transaction would leave the tenant '
                'table % weakened: %; nothing was changed (only a superuser may disable or '
                'weaken RLS, or change the policies, owner, triggers, rules or code run on '
                'writes of a tenant table)', what, problem
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Keep RLS enabled and forced with only the policy '
                             || {policy} || '; a DBA (superuser) must make other changes.';
        END IF;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS rls_check ON {g}.rls_pending",
    """CREATE CONSTRAINT TRIGGER rls_check AFTER INSERT ON {g}.rls_pending
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {g}.rls_check()""",
    # Row by row, each query an index lookup: a single query over the set-returning
    # function (estimated at 1000 rows) is planned with scans of pg_class, 5 times slower.
    """CREATE OR REPLACE FUNCTION {g}.rls_guard_ddl() RETURNS event_trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        su boolean := coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                               false);
        r record;
        seen oid[] := '{{}}';
        rel oid;
        relids oid[];
    BEGIN
        -- every relation a command names, and the table it belongs to (a policy's, a
        -- trigger's, a rule's, an index's, a constraint's, an inheritance child's table)
        FOR r IN SELECT d.classid, d.objid FROM pg_event_trigger_ddl_commands() d
                 WHERE d.objid IS NOT NULL LOOP
            IF r.classid = 'pg_class'::regclass AND NOT r.objid = ANY (seen) THEN
                seen := seen || r.objid;
            END IF;
            seen := seen || ARRAY(SELECT x.root FROM {g}.root_of(r.classid, r.objid) x
                                  WHERE x.rootclass = 'pg_class'::regclass
                                    AND NOT x.root = ANY (seen));
        END LOOP;
        -- those that are tenant tables (or are one now) and not queued already
        FOREACH rel IN ARRAY seen LOOP
            CONTINUE WHEN NOT su AND EXISTS (
                SELECT 1 FROM {g}.rls_pending p
                WHERE p.xact = pg_current_xact_id() AND p.relid = rel);
            IF EXISTS (SELECT 1 FROM {g}.tenant_tables t WHERE t.relid = rel)
               OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.oid = rel AND c.relkind IN ('r', 'p')
                            AND (n.nspname LIKE {schema_like}
                                 OR (n.nspname = {platform} AND c.relname = ANY ({tables}))))
            THEN
                relids := relids || rel;
            END IF;
        END LOOP;
        IF relids IS NOT NULL THEN
            PERFORM {g}.rls_touch(relids, NOT su);
        END IF;
    END $$""",
    """CREATE OR REPLACE FUNCTION {g}.rls_guard_drop() RETURNS event_trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        su boolean := coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                               false);
        relids oid[];
    BEGIN
        SELECT array_agg(d.objid) INTO relids FROM pg_event_trigger_dropped_objects() d
            WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
              AND d.objid IN (SELECT t.relid FROM {g}.tenant_tables t);
        IF relids IS NOT NULL THEN
            PERFORM {g}.rls_forget(relids);
        END IF;
        -- a policy, trigger, rule, constraint, column or default dropped off a table
        SELECT array_agg(DISTINCT c.oid) INTO relids
            FROM pg_event_trigger_dropped_objects() d
            JOIN pg_namespace n ON n.nspname = d.address_names[1]
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.address_names[2]
            WHERE d.object_type IN ('trigger', 'rule', 'policy', 'table constraint',
                                    'table column', 'default value')
              AND cardinality(d.address_names) >= 2;
        IF relids IS NOT NULL THEN
            PERFORM {g}.rls_touch(relids, NOT su);
        END IF;
    END $$""",
)


def rls_guard_triggers(platform: str) -> tuple[tuple[str, str, str], ...]:
    """(event trigger name, event, function) of the RLS guard of ``platform``."""
    return (
        (platform + "_rls_guard_ddl", "ddl_command_end", "rls_guard_ddl"),
        (platform + "_rls_guard_drop", "sql_drop", "rls_guard_drop"),
    )


def install_rls_guard(platform: str, owner: str) -> tuple[sql.Composed, ...]:
    """The RLS guard's tables and functions (idempotent; run as a superuser, after
    :func:`~.guard.install_guard`, whose schema and ``root_of`` it uses)."""
    values = {
        "g": sql.Identifier(guard_schema(platform)),
        "platform": sql.Literal(platform),
        "owner": sql.Literal(owner),
        "tables": sql.Literal(list(TENANT_TABLES)),
        "schema_like": sql.Literal(TENANT_SCHEMA_LIKE),
        "policy": sql.Literal(POLICY_NAME),
        "expression": sql.Literal(POLICY_EXPRESSION),
    }
    return tuple(sql.SQL(text).format(**values) for text in _RLS_GUARD)


def enrol_existing(platform: str) -> sql.Composed:
    """Enrol the tenant tables that already exist (a guard installed after provisioning)."""
    return sql.SQL(
        "SELECT {g}.rls_touch(array_agg(c.oid), false) FROM pg_class c"
        " WHERE c.relkind IN ('r', 'p')"
    ).format(g=sql.Identifier(guard_schema(platform)))


#: The RLS guard of a platform (the schema name) is installed.
GUARD_INSTALLED = sql.SQL(
    "SELECT 1 FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace"
    " WHERE n.nspname = %s AND f.proname = 'rls_problem'"
)


def guard_problems(platform: str) -> sql.Composed:
    """(table, problem) of the named tables (``%s``, text[]) of one schema (``%s``) that are
    tenant tables outside the invariant (by index: no scan of pg_class)."""
    return sql.SQL(
        "SELECT c.relname, p.problem FROM unnest(%s::text[]) r (relname)"
        " JOIN pg_namespace n ON n.nspname = %s"
        " JOIN pg_class c ON c.relname = r.relname AND c.relnamespace = n.oid"
        " CROSS JOIN LATERAL (SELECT {g}.rls_problem(c.oid) AS problem) p"
        " WHERE p.problem IS NOT NULL ORDER BY c.relname"
    ).format(g=sql.Identifier(guard_schema(platform)))
