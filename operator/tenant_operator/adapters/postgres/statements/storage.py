"""Storage outside tenant tables, closed to the application role by the bootstrap superuser.

No RLS covers a temporary table or a large object, and neither is erased with the tenant,
so the application role may create neither: the bootstrap revokes ``TEMPORARY`` on the
database and ``EXECUTE`` on every function that creates or writes a large object from
``PUBLIC`` (and from the application role), and ``CREATE`` on the ``public`` schema and the
database. Only a superuser can revoke these (the functions are the bootstrap superuser's
and the database is the DBA's), so the owner role cannot undo it. The isolation verifier
reports each of them if it comes back (:data:`APP_STORAGE`, :data:`APP_LO_WRITERS`,
:data:`APP_CREATE_SCHEMAS`).

Not storage but a side channel: the statistics counters of a table (``pg_stat_user_tables``
and the ``pg_stat_get_*(oid)`` functions behind it: live, inserted, deleted tuples ...) count
every tenant's rows, exactly so for a ``schema``-tier tenant's own tables, and PostgreSQL lets
every role read them; and ``pg_stat_activity`` shows every session of the same role (all
tenants share the application role) with its query text. The bootstrap revokes ``EXECUTE``
on them (:data:`STAT_COUNTERS`) from ``PUBLIC`` and grants it to ``pg_read_all_stats``, so
monitoring roles keep them.

Not storage, and left as they are: advisory locks (held, never stored) and LISTEN/NOTIFY
(transient; payloads vanish once delivered and are never on disk). The application role
can create no sequence (no CREATE anywhere) and the tenant tables have none from template
v3 on.
"""

from psycopg import sql

#: Functions that create a large object or write into one (pg_catalog, PostgreSQL 15).
LARGE_OBJECT_WRITERS = (
    ("lo_creat", "integer"),
    ("lo_create", "oid"),
    ("lo_from_bytea", "oid, bytea"),
    ("lo_import", "text"),
    ("lo_import", "text, oid"),
    ("lo_put", "oid, bigint, bytea"),
    ("lowrite", "integer, bytea"),
    ("lo_truncate", "integer, integer"),
    ("lo_truncate64", "integer, bigint"),
    ("lo_export", "oid, text"),
)


#: Statistics counters of one relation and of the database (sums over all tenants), and the
#: query texts of other sessions.
_COUNTERS = tuple(
    (f"pg_stat_get_{name}", "oid")
    for name in (
        "numscans",
        "tuples_returned",
        "tuples_fetched",
        "tuples_inserted",
        "tuples_updated",
        "tuples_deleted",
        "tuples_hot_updated",
        "live_tuples",
        "dead_tuples",
        "mod_since_analyze",
        "ins_since_vacuum",
        "blocks_fetched",
        "blocks_hit",
        "last_vacuum_time",
        "last_autovacuum_time",
        "last_analyze_time",
        "last_autoanalyze_time",
        "vacuum_count",
        "autovacuum_count",
        "analyze_count",
        "autoanalyze_count",
        "db_tuples_returned",
        "db_tuples_fetched",
        "db_tuples_inserted",
        "db_tuples_updated",
        "db_tuples_deleted",
    )
)
STAT_COUNTERS = (
    *_COUNTERS,
    ("pg_stat_get_activity", "integer"),
    ("pg_stat_get_backend_activity", "integer"),
)
#: The predefined role that keeps the counters (pg_monitor is a member).
STATS_READER = "pg_read_all_stats"


def _signature(name: str, args: str) -> sql.Composed:
    return sql.SQL("{}({})").format(sql.Identifier("pg_catalog", name), sql.SQL(args))


def revoke_storage(dbname: str, app: str, *, public_schema: bool) -> tuple[sql.Composed, ...]:
    """What the bootstrap superuser revokes (idempotent)."""
    db, role = sql.Identifier(dbname), sql.Identifier(app)
    out = [
        sql.SQL("REVOKE TEMPORARY, CREATE ON DATABASE {} FROM {}").format(db, grantee)
        for grantee in (sql.SQL("PUBLIC"), role)
    ]
    out += [
        sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(_signature(*f), grantee)
        for f in LARGE_OBJECT_WRITERS
        for grantee in (sql.SQL("PUBLIC"), role)
    ]
    if public_schema:
        out += [
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(grantee)
            for grantee in (sql.SQL("PUBLIC"), role)
        ]
    return tuple(out)


def revoke_statistics(app: str) -> tuple[sql.Composed, ...]:
    """The counters only for monitoring roles: not for PUBLIC or the app role (idempotent)."""
    role, reader = sql.Identifier(app), sql.Identifier(STATS_READER)
    out: list[sql.Composed] = []
    for function in STAT_COUNTERS:
        signature = _signature(*function)
        out += [
            sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(signature, grantee)
            for grantee in (sql.SQL("PUBLIC"), role)
        ]
        out.append(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(signature, reader))
    return tuple(out)


#: Statistics of columns whose statistics target is 0 (every tenant table column from template
#: v4): collected before the target was set, ANALYZE never replaces them, and only a
#: superuser can delete them. Under RLS the planner still uses them with leakproof operators,
#: so EXPLAIN estimates of ``tenant_id < X`` would give other tenants' ids away.
DROP_STALE_STATISTICS = sql.SQL(
    "DELETE FROM pg_catalog.pg_statistic s USING pg_catalog.pg_attribute a"
    " WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum AND a.attstattarget = 0"
)

PUBLIC_SCHEMA_EXISTS = sql.SQL("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")

#: (TEMPORARY, CREATE) on the current database for the given role.
APP_STORAGE = sql.SQL(
    "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY'),"
    " has_database_privilege(%s, current_database(), 'CREATE')"
)
#: The large-object writers the given role may execute (as ``name(args)``); params: the
#: signatures (``lo_put(oid, bigint, bytea)``), the role.
APP_LO_WRITERS = sql.SQL(
    "SELECT p.oid::regprocedure::text FROM pg_proc p"
    " WHERE p.oid = ANY (%s::regprocedure[]) AND has_function_privilege(%s, p.oid, 'EXECUTE')"
    " ORDER BY 1"
)
#: Schemas the given role may create objects in.
APP_CREATE_SCHEMAS = sql.SQL(
    "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(%s, oid, 'CREATE') ORDER BY 1"
)
#: Privileges of the given role on a table (params: role, table, privilege).
TABLE_PRIVILEGE = sql.SQL("SELECT has_table_privilege(%s, %s::regclass, %s)")
#: Privileges of the given role on a column (params: role, table, column, privilege).
COLUMN_PRIVILEGE = sql.SQL("SELECT has_column_privilege(%s, %s::regclass, %s, %s)")
#: The definition of a table's tenant CHECK (params: table, constraint name).
TENANT_CHECK = sql.SQL(
    "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE conrelid = %s::regclass AND conname = %s AND contype = 'c' AND convalidated"
)


def lo_writer_signatures() -> list[str]:
    return [f"pg_catalog.{name}({args})" for name, args in LARGE_OBJECT_WRITERS]


def stat_counter_signatures() -> list[str]:
    return [f"pg_catalog.{name}({args})" for name, args in STAT_COUNTERS]
