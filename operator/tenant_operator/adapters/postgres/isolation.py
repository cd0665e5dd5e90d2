"""The isolation verifier behind the ``IsolationVerified`` condition and the drift scanner.

Static checks, on every table holding a ``tenant_id`` in the tenant's schema (``schema``
tier) or the platform schema (``shared`` tier, and the sub-processor records of both):
RLS enabled and forced, exactly one policy, the expected fail-closed one for all commands
and all roles. The application role must not be superuser or BYPASSRLS, must not be able to
store anything outside tenant tables (temporary tables, large objects, CREATE in any
schema or the database: see :mod:`.statements.storage`), nor write operator-managed rows
(``connectors``, ``subprocessor_records``, ``accounts.is_owner``); every table of a
``schema``-tier schema at template v3 or later has the CHECK binding it to the tenant. What
each table must be is its entry in :func:`.objects.tenant_tables`, the list repair writes.

Canary probe, inside one transaction that is always rolled back, ``SET LOCAL ROLE <app>``:
with the tenant's context, insert a canary row into every template table (``accounts``,
``connectors`` (as the owner role: the application role only reads it), ``pipeline_runs``,
``deploy_events``, ``usage_metrics``; not
``subprocessor_records``, whose rows must reference a register entry the application role
cannot read, nor unknown tables, whose required columns are unknown: those get the probe
without a canary). Then, with the context cleared (``''``), every probed relation must show
no rows at all; with a random tenant's context, none either (the canary included); with the
tenant's own context, the canary and no other tenant's rows. Views and materialized views
with a ``tenant_id`` that the application role can read are probed the same way (they carry
no RLS of their own). The canary makes the probe meaningful on empty tables: a policy that
lets rows through is caught even before the tenant has any. Cost: one INSERT per template
table and three context switches with one query each per schema, all in one rollback.
"""

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.errors import pg_errors
from tenant_operator.adapters.postgres.objects import TenantTable, entry_of, tenant_tables
from tenant_operator.adapters.postgres.session import Conn, Pool, label, set_tenant
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements import rls_guard, storage
from tenant_operator.adapters.postgres.statements.common import (
    OPERATOR_MANAGED_TABLES,
    TEMPLATE_TABLES,
    TENANT_CHECK_NAME,
)
from tenant_operator.adapters.postgres.statements.guard import guard_schema
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import validate_slug
from tenant_operator.domain.vocabulary import OPENBAO_REF_SCHEME, Reason
from tenant_operator.settings import Settings


@dataclass(frozen=True)
class IsolationReport:
    ok: bool
    problems: tuple[str, ...]


async def _static_checks(
    conn: Conn, schema: str, desired: Sequence[TenantTable]
) -> tuple[list[TenantTable], list[str]]:
    """The schema's tenant tables (their entries in ``desired``), and the problems of their
    RLS."""
    problems: list[str] = []
    rows = await (await conn.execute(q.TENANT_TABLES, [schema])).fetchall()
    tables = [entry_of(desired, schema, str(row[0])) for row in rows]
    for table, (_, enabled, forced) in zip(tables, rows, strict=True):
        policies = await (await conn.execute(q.POLICIES, [schema, table.name])).fetchall()
        problems += table.rls_problems(enabled, forced, policies)
    return tables, problems


async def _guard_checks(
    conn: Conn, platform: str, schema: str, tables: list[str], found: list[str]
) -> list[str]:
    """What the RLS guard's invariant finds on tables the checks above passed (a trigger,
    a rule, another owner, foreign code): the guard refuses the operator's repair of it."""
    guard = guard_schema(platform)
    if await (await conn.execute(rls_guard.GUARD_INSTALLED, [guard])).fetchone() is None:
        return []
    query = rls_guard.guard_problems(platform)
    rows = await (await conn.execute(query, [tables, schema])).fetchall()
    return [
        f"{schema}.{table}: {problem} (the RLS guard refuses the operator's repair: "
        "only a superuser (a DBA) can undo this)"
        for table, problem in rows
        if not any(p.startswith(f"{schema}.{table}: ") for p in found)
    ]


def _canary_values(
    table: str, tenant_id: uuid.UUID, *, sealed: bool = True
) -> tuple[tuple[str, ...], list[object]]:
    """Columns (after tenant_id) and values of the canary row of a template table
    (``sealed``: at template v5 or later, where accounts hold sealed values only)."""
    token = "isolation-canary-" + uuid.uuid4().hex
    if table == "accounts" and sealed:
        noise = [os.urandom(48), os.urandom(48), os.urandom(32)]  # what sealed values are
        return ("email_enc", "name_enc", "email_bidx"), [tenant_id, *noise]
    if table == "accounts":
        return ("email", "name"), [tenant_id, token + "@canary.invalid", token]
    if table == "connectors":
        cols = ("name", "type", "config", "ref", "version")
        return cols, [tenant_id, token, "canary", Jsonb({}), OPENBAO_REF_SCHEME + token, 0]
    if table == "pipeline_runs":
        return ("pipeline", "status"), [tenant_id, token, "canary"]
    if table == "deploy_events":
        return ("environment", "version"), [tenant_id, token, "canary"]
    return ("metric", "period_start", "quantity"), [tenant_id, token, datetime.now(UTC), 0]


async def _app_storage(conn: Conn, app: str) -> list[str]:
    """What the application role could store outside tenant tables (database-wide)."""
    problems: list[str] = []
    row = await (await conn.execute(storage.APP_STORAGE, [app, app])).fetchone()
    if row is not None and row[0]:
        problems.append(
            f"application role {app} can create temporary tables (no RLS, outlive erasure):"
            " re-run bootstrap-roles"
        )
    if row is not None and row[1]:
        problems.append(f"application role {app} can create schemas in the database")
    cur = await conn.execute(storage.APP_LO_WRITERS, [storage.lo_writer_signatures(), app])
    for (function,) in await cur.fetchall():
        problems.append(
            f"application role {app} can execute {function} (large objects have no RLS):"
            " re-run bootstrap-roles"
        )
    cur = await conn.execute(storage.APP_LO_WRITERS, [storage.stat_counter_signatures(), app])
    for (function,) in await cur.fetchall():
        problems.append(
            f"application role {app} can execute {function} (statistics of every tenant's"
            " rows or sessions): re-run bootstrap-roles"
        )
    for (schema,) in await (await conn.execute(storage.APP_CREATE_SCHEMAS, [app])).fetchall():
        problems.append(f"application role {app} can create objects in schema {schema}")
    return problems


async def _app_writes(conn: Conn, app: str, tables: list[TenantTable]) -> list[str]:
    """Writes of operator-managed rows the application role may do; missing tenant CHECKs."""
    problems: list[str] = []

    async def allowed(query: psycopg.sql.SQL, params: list[object]) -> bool:
        row = await (await conn.execute(query, params)).fetchone()
        return bool(row and row[0])

    for table in tables:
        qualified = psycopg.sql.Identifier(table.schema, table.name).as_string(conn)
        for denied in table.denied:
            params: list[object]
            if denied.column is None:
                query, params = storage.TABLE_PRIVILEGE, [app, qualified, denied.privilege]
            else:
                query = storage.COLUMN_PRIVILEGE
                params = [app, qualified, denied.column, denied.privilege]
            if await allowed(query, params):
                problems.append(denied.problem(table.where))
        if table.check is not None:
            cur = await conn.execute(storage.TENANT_CHECK, [qualified, TENANT_CHECK_NAME])
            found = await cur.fetchone()
            if found is None or found[0] != table.check:
                problems.append(
                    f"{table.where}: no valid CHECK {TENANT_CHECK_NAME} binding its rows to"
                    " the tenant"
                )
    return problems


async def _insert_canaries(
    conn: Conn,
    schema: str,
    tables: list[str],
    tenant_id: uuid.UUID,
    *,
    managed: bool,
    sealed: bool = True,
) -> dict[str, str]:
    """Canary rows (ctid by table) in the operator-managed tables or in the others."""
    await set_tenant(conn, tenant_id)
    canaries: dict[str, str] = {}
    for table in tables:
        if table in TEMPLATE_TABLES and (table in OPERATOR_MANAGED_TABLES) == managed:
            columns, values = _canary_values(table, tenant_id, sealed=sealed)
            try:
                cur = await conn.execute(q.insert_canary(schema, table, columns), values)
            except psycopg.Error as exc:
                raise _CanaryRefused(f"{schema}.{table}: the canary insert failed: {exc}") from exc
            row = await cur.fetchone()
            assert row is not None  # RETURNING of one inserted row
            canaries[table] = str(row[0])
    return canaries


async def _probe(
    conn: Conn,
    schema: str,
    tables: list[str],
    views: list[str],
    tenant_id: uuid.UUID,
    canaries: dict[str, str],
    *,
    sealed: bool = True,
) -> list[str]:
    """The canary probe of one schema (as the application role, inside the caller's rollback).

    ``canaries`` holds those the owner role inserted; the others are inserted here.
    """
    problems: list[str] = []
    canaries = {
        **canaries,
        **await _insert_canaries(conn, schema, tables, tenant_id, managed=False, sealed=sealed),
    }
    relations = [(name, name in canaries) for name in tables] + [(v, False) for v in views]
    if not relations:
        return problems
    query = q.probe_visibility(schema, relations)
    contexts: tuple[tuple[str, uuid.UUID | None], ...] = (
        ("no context", None),
        ("a random tenant's context", uuid.uuid4()),
        ("the tenant's own context", tenant_id),
    )
    for what, context in contexts:
        await set_tenant(conn, context)
        params: list[object] = []
        for name, with_canary in relations:
            params += [name, context, context]
            if with_canary:
                params.append(canaries[name])
        for name, foreign, canary in await (await conn.execute(query, params)).fetchall():
            where = f"{schema}.{name}"
            if context is None and foreign:
                problems.append(f"{where}: the application role sees rows with {what}")
            elif context is not None and context != tenant_id and (foreign or canary):
                problems.append(
                    f"{where}: the application role sees rows with {what}"
                    + (" (the tenant's canary among them)" if canary else "")
                )
            elif context == tenant_id and foreign:
                problems.append(f"{where}: the tenant's context sees another tenant's rows")
            elif context == tenant_id and name in canaries and not canary:
                problems.append(f"{where}: the tenant's context does not see its own canary row")
    return problems


class _CanaryRefused(Exception):
    """A canary insert failed: the transaction is aborted, report and stop probing."""


async def verify_isolation(pool: Pool, settings: Settings, slug: str) -> IsolationReport:
    """Check the tenant's tables statically and by probing as the application role."""
    validate_slug(slug)
    p = settings.platform_schema
    problems: list[str] = []
    async with pg_errors(lambda: label(pool)), pool.connection() as conn:
        try:
            async with conn.transaction(force_rollback=True):
                row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
                if row is None:
                    raise PermanentError(
                        f"tenant {slug} is not registered", reason=Reason.NOT_FOUND
                    )
                tenant_id, schema, version = row[0], row[4], row[5]
                # the platform schema is at the newest template, a tenant schema at its own
                sealed = {p: True, **({} if schema is None else {schema: (version or 0) >= 5})}
                flags = await (await conn.execute(q.ROLE_FLAGS, [settings.app_role])).fetchone()
                if flags is None or any(flags):
                    problems.append(
                        f"application role {settings.app_role} is missing, superuser or BYPASSRLS"
                    )
                problems += await _app_storage(conn, settings.app_role)
                desired = tenant_tables(p, tenant_id, schema, version)
                targets = [p] if schema is None else [p, schema]
                relations: list[tuple[str, list[str], list[str]]] = []
                for target in targets:
                    entries, found = await _static_checks(conn, target, desired)
                    tables = [table.name for table in entries]
                    problems += found + await _guard_checks(conn, p, target, tables, found)
                    problems += await _app_writes(conn, settings.app_role, entries)
                    cur = await conn.execute(q.TENANT_VIEWS, [target, settings.app_role])
                    views = [str(row[0]) for row in await cur.fetchall()]
                    relations.append((target, tables, views))
                await conn.execute(q.set_role(settings.owner_role))
                managed = {
                    target: await _insert_canaries(conn, target, tables, tenant_id, managed=True)
                    for target, tables, _ in relations
                }
                await conn.execute(q.set_role(settings.app_role))
                for target, tables, views in relations:
                    problems += await _probe(
                        conn,
                        target,
                        tables,
                        views,
                        tenant_id,
                        managed[target],
                        sealed=sealed[target],
                    )
        except _CanaryRefused as exc:
            problems.append(str(exc))
        except psycopg.errors.InsufficientPrivilege as exc:
            problems.append(f"probe as {settings.app_role} was refused: {exc}")
    return IsolationReport(ok=not problems, problems=tuple(problems))
