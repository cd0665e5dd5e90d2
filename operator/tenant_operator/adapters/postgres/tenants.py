"""The tenant provisioning adapter: ``ensure_*`` (idempotent) and ``drop_*`` (erasure).

Every method is one transaction as the owner role, serialized per tenant with
``pg_advisory_xact_lock`` keyed on the slug, reading before writing and writing only what
differs. Names are validated before any SQL runs.
"""

import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import psycopg

from tenant_operator.adapters.postgres import records, template
from tenant_operator.adapters.postgres.objects import tenant_tables
from tenant_operator.adapters.postgres.rowsync import sync
from tenant_operator.adapters.postgres.session import (
    Conn,
    Pool,
    TenantRow,
    tenant_transaction,
    transaction,
)
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements import sealed as sealed_sql
from tenant_operator.adapters.postgres.statements.common import (
    FOREIGN_POLICIES,
    PII_SEALED,
    POLICY_NAME,
    TENANT_CHECK_NAME,
    drop_policy,
)
from tenant_operator.adapters.postgres.statements.template import (
    create_tenant_schema,
    drop_tenant_schema,
)
from tenant_operator.adapters.postgres.types import DatabaseState, OwnerState
from tenant_operator.domain import identity
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import tenant_schema, validate_slug
from tenant_operator.domain.records import ConnectorRecord, SubProcessorEntry, SubProcessorRecord
from tenant_operator.domain.vocabulary import Isolation, Plan, Reason
from tenant_operator.settings import Settings

log = logging.getLogger(__name__)

PLANS = tuple(p.value for p in Plan)
ISOLATIONS = tuple(i.value for i in Isolation)


def _check_wrapped(wrapped: str) -> None:
    if not wrapped.startswith("vault:v"):
        raise PermanentError(
            "a data key is stored only wrapped by OpenBao transit (vault:vN:...)",
            reason=Reason.INVALID_DATA,
        )


class PostgresTenants:
    """Provision tenants in PostgreSQL through ``pool`` (connected as the operator role).

    ``template_version`` is the template version new and upgraded ``schema``-tier tenants
    get; it defaults to the newest (pass an older one to stage a rollout).
    """

    def __init__(self, pool: Pool, settings: Settings, *, template_version: int | None = None):
        self.pool = pool
        self.settings = settings
        self.template_version = template.check_version(
            template_version or template.TEMPLATE_VERSION
        )

    async def ensure_tenant(
        self,
        slug: str,
        *,
        organisation: str,
        plan: str,
        isolation: Isolation,
        k8s_uid: str | None = None,
        adopt: str | None = None,
    ) -> DatabaseState:
        """Register or update the tenant of the Tenant object ``k8s_uid`` (its metadata.uid).

        ``organisation`` is only checked here: the registry never holds it in plaintext
        (:meth:`ensure_owner_account` stores it sealed with the tenant's data key, which
        needs the registered tenant), and the plaintext of a row written before platform
        v7 is dropped.

        A row that belongs to another object (a retained tenant) is refused before anything
        is written (RetainedTenantExists), unless ``adopt`` (the adoption annotation) names
        its id. ``k8s_uid`` None (callers without a Kubernetes object) skips the check.
        """
        validate_slug(slug)
        uid = identity.parse_uid(k8s_uid) if k8s_uid is not None else None
        if plan not in PLANS or isolation not in ISOLATIONS or not organisation.strip():
            raise PermanentError(
                f"tenant {slug}: plan must be one of {PLANS}, isolation one of {ISOLATIONS}, "
                "organisation non-empty",
                reason=Reason.INVALID_SPEC,
            )
        schema = tenant_schema(slug) if isolation == Isolation.SCHEMA else None
        p = self.settings.platform_schema
        adopted: identity.Adoption | None = None
        async with transaction(self.pool, self.settings, lock=(q.LOCK_TENANT, slug)) as conn:
            row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
            changed: list[str] = []
            if row is None:
                cur = await conn.execute(q.insert_tenant(p), [slug, plan, isolation, schema, uid])
                inserted = await cur.fetchone()
                assert inserted is not None  # INSERT ... RETURNING yields one row
                tenant_id, version = inserted[0], None
                changed.append(f"registered tenant {slug} ({isolation})")
            else:
                tenant_id, old_org, old_plan, old_isolation, schema, version = row[:6]
                if uid is not None:
                    registered = identity.Registered(tenant_id, row[6], row[7])
                    claim = identity.decide(slug, registered, uid, adopt)
                    if claim == "adopt":
                        await conn.execute(q.SET_ADOPTING, [str(tenant_id)])
                        adopted = identity.Adoption(tenant_id, row[6], uid, row[7])
                        changed.append(f"adopted retained tenant {tenant_id}")
                    if claim != "owned":
                        await conn.execute(q.claim_tenant(p), [uid, tenant_id])
                    if claim == "claim":
                        changed.append("recorded the Tenant object it belongs to")
                if old_isolation != isolation:
                    raise PermanentError(
                        f"tenant {slug} is {old_isolation}; isolation cannot change to "
                        f"{isolation} (create a new tenant and migrate its data)",
                        reason=Reason.ISOLATION_IMMUTABLE,
                    )
                if old_org is not None:  # written before v7; sealed by ensure_owner_account
                    await conn.execute(sealed_sql.drop_plaintext_organisation(p), [tenant_id])
                    changed.append("dropped the plaintext organisation")
                if old_plan != plan:
                    await conn.execute(q.update_tenant(p), [plan, tenant_id])
                    changed.append("updated plan")
            if schema is not None:
                version, steps = await self._converge_schema(conn, tenant_id, schema, version)
                changed += steps
        return DatabaseState(tenant_id, isolation, schema, version, tuple(changed), adopted)

    async def _converge_schema(
        self, conn: Conn, tenant_id: uuid.UUID, schema: str, version: int | None
    ) -> tuple[int, list[str]]:
        changed: list[str] = []
        exists = await (await conn.execute(q.SCHEMA_EXISTS, [schema])).fetchone()
        if exists is None:
            for statement in create_tenant_schema(template.names_of(self.settings), schema):
                await conn.execute(statement)
            changed.append(
                f"created schema {schema}"
                if version is None
                else f"recreated missing schema {schema}"
            )
            version = 0
        current = version or 0
        try:
            applied = await template.apply_template(
                conn,
                self.settings,
                schema,
                current=current,
                target=self.template_version,
                tenant_id=tenant_id,
            )
        except psycopg.errors.CheckViolation as exc:
            if exc.diag.constraint_name != TENANT_CHECK_NAME:
                raise
            raise PermanentError(
                f"schema {schema} cannot be upgraded from v{current}: its table "
                f"{exc.diag.table_name} holds rows of other tenants (written before template "
                "v3 bound the schema to its tenant); a DBA must move or delete the rows whose "
                "tenant_id is not this tenant's, then the upgrade resumes; nothing was changed",
                reason=Reason.FOREIGN_ROWS_IN_SCHEMA,
            ) from exc
        if applied:
            await conn.execute(
                q.set_schema_version(self.settings.platform_schema), [applied[-1], tenant_id]
            )
            if current:
                changed.append(f"upgraded schema {schema} from v{current} to v{applied[-1]}")
            else:
                changed.append(f"built schema {schema} at template v{applied[-1]}")
            return applied[-1], changed
        return current, changed

    def _tenant(self, tenant_id: uuid.UUID) -> AbstractAsyncContextManager[tuple[Conn, TenantRow]]:
        return tenant_transaction(self.pool, self.settings, tenant_id)

    async def ensure_owner_account(
        self,
        tenant_id: uuid.UUID,
        *,
        name: str,
        email: str,
        keys: KeyRing,
        organisation: str,
    ) -> OwnerState:
        """The owner account; its invite token if issued now, the account it replaced.

        Personal data is written sealed with ``keys`` (the tenant's data keys): the owner's
        email and name, the organisation in the registry; in the same transaction the
        tenant's accounts still in plaintext (written before template v5) are sealed and
        their plaintext nulled, and a ``schema``-tier schema's CHECK then validated.
        """
        if not name.strip() or "@" not in email or not organisation.strip():
            raise PermanentError(
                "owner needs a name and an email address, the tenant an organisation",
                reason=Reason.INVALID_SPEC,
            )
        self._check_ring(tenant_id, keys)
        async with self._tenant(tenant_id) as (conn, tenant):
            schema = tenant.tables_schema(self.settings)
            state = await records.ensure_owner(
                conn, schema, tenant_id, name=name, email=email, keys=keys
            )
            org = await records.ensure_organisation(
                conn, self.settings.platform_schema, tenant_id, organisation, keys
            )
            if tenant.schema is not None:
                await self._validate_sealed(conn, tenant.schema)
        if org:
            state = replace(state, changed=(*state.changed, *org))
        if state.changed:
            log.info("tenant %s: %s", tenant.slug, ", ".join(state.changed))
        return state

    @staticmethod
    def _check_ring(tenant_id: uuid.UUID, keys: KeyRing) -> None:
        if keys.tenant_id != tenant_id:
            raise PermanentError(
                f"the data keys given are tenant {keys.tenant_id}'s, not {tenant_id}'s",
                reason=Reason.INVALID_DATA,
            )

    async def _validate_sealed(self, conn: Conn, schema: str) -> None:
        """VALIDATE the sealed-data CHECK of a schema whose rows are all sealed now."""
        table = psycopg.sql.Identifier(schema, "accounts").as_string(conn)
        cur = await conn.execute(sealed_sql.SEALED_VALIDATED, [table, PII_SEALED])
        row = await cur.fetchone()
        if row is not None and not row[0]:
            await conn.execute(sealed_sql.validate_sealed(schema, PII_SEALED))

    async def tenant_keys(self, tenant_id: uuid.UUID) -> list[tuple[int, str]]:
        """The tenant's data keys as OpenBao wrapped them: (version, wrapped), oldest first."""
        async with self._tenant(tenant_id) as (conn, _):
            cur = await conn.execute(
                sealed_sql.select_keys(self.settings.platform_schema), [tenant_id]
            )
            return [(int(version), str(wrapped)) for version, wrapped in await cur.fetchall()]

    async def add_tenant_key(self, tenant_id: uuid.UUID, version: int, wrapped: str) -> bool:
        """Record a wrapped data key; False if the tenant has that version already."""
        _check_wrapped(wrapped)
        async with self._tenant(tenant_id) as (conn, _):
            query = sealed_sql.insert_key(self.settings.platform_schema)
            row = await (await conn.execute(query, [tenant_id, version, wrapped])).fetchone()
        return row is not None

    async def reseal(
        self,
        tenant_id: uuid.UUID,
        old: KeyRing,
        new: KeyRing,
        new_version: int,
        new_wrapped: str,
    ) -> int:
        """Re-seal every sealed value of the tenant under ``new``, in one transaction.

        ``new_version``/``new_wrapped`` is ``new``'s current data key as OpenBao wrapped it:
        recorded, and every other wrapped key of the tenant deleted (the rows no longer need
        them; copies taken before, in backups, still do, until the transit key is trimmed).
        Accounts still in plaintext are sealed too. Returns the number of values re-sealed
        (accounts and the organisation).
        """
        self._check_ring(tenant_id, old)
        self._check_ring(tenant_id, new)
        _check_wrapped(new_wrapped)
        if new.current.version != new_version:
            raise PermanentError(
                f"the new ring's current key is version {new.current.version}, not {new_version}",
                reason=Reason.INVALID_DATA,
            )
        p = self.settings.platform_schema
        opener = KeyRing.of(tenant_id, {k.version: k for k in (*new.keys, *old.keys)}.values())
        async with self._tenant(tenant_id) as (conn, tenant):
            schema = tenant.tables_schema(self.settings)
            await conn.execute(sealed_sql.insert_key(p), [tenant_id, new_version, new_wrapped])
            count = await records.reseal_accounts(conn, schema, tenant_id, opener, new)
            count += await records.seal_plaintext_accounts(conn, schema, tenant_id, new)
            count += await records.reseal_organisation(conn, p, tenant_id, opener, new)
            await conn.execute(sealed_sql.delete_other_keys(p), [tenant_id, new_version])
        log.info(
            "tenant %s: re-sealed %d value(s) under data key v%d", tenant.slug, count, new_version
        )
        return count

    async def registered(self, slug: str) -> identity.Registered | None:
        """The registry's row of ``slug``: its id and the Tenant object it belongs to."""
        validate_slug(slug)
        p = self.settings.platform_schema
        async with transaction(self.pool, self.settings) as conn:
            row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
        return identity.Registered(row[0], row[6], row[7]) if row else None

    async def retain_tenant(self, slug: str, k8s_uid: str | None) -> bool:
        """Mark the tenant retained (its Tenant deleted with Retain); False if not registered."""
        validate_slug(slug)
        uid = identity.parse_uid(k8s_uid) if k8s_uid is not None else None
        p = self.settings.platform_schema
        async with transaction(self.pool, self.settings, lock=(q.LOCK_TENANT, slug)) as conn:
            row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
            if row is None:
                return False
            await conn.execute(q.retain_tenant(p), [uid, row[0]])
        return True

    async def ensure_connectors(
        self, tenant_id: uuid.UUID, connectors: Sequence[ConnectorRecord]
    ) -> tuple[str, ...]:
        names = [c.name for c in connectors]
        if len(set(names)) != len(names):
            raise PermanentError("connector names must be unique", reason=Reason.INVALID_SPEC)
        async with self._tenant(tenant_id) as (conn, tenant):
            schema = tenant.tables_schema(self.settings)
            return await sync(conn, records.connectors(schema, tenant_id), connectors)

    async def ensure_subprocessor(self, entry: SubProcessorEntry) -> tuple[str, ...]:
        """Create or update a register entry (platform-wide, not per tenant)."""
        lock = (q.LOCK_TENANT, "subprocessor:" + entry.name)
        async with transaction(self.pool, self.settings, lock=lock) as conn:
            rows = records.register_entry(self.settings.platform_schema, entry.name)
            return await sync(conn, rows, [entry])

    async def ensure_subprocessor_records(
        self, tenant_id: uuid.UUID, records_: Sequence[SubProcessorRecord]
    ) -> tuple[str, ...]:
        async with self._tenant(tenant_id) as (conn, _):
            rows = records.subprocessor_records(self.settings.platform_schema, tenant_id)
            return await sync(conn, rows, records_)

    async def drop_tenant(self, slug: str) -> bool:
        """Erase a tenant: its schema or its rows, and redact its audit details.

        The audit chain's rows stay (they are the proof); only their ``detail`` is nulled.
        Returns False when there was nothing left to erase (already gone is success).
        """
        validate_slug(slug)
        p = self.settings.platform_schema
        async with transaction(self.pool, self.settings, lock=(q.LOCK_TENANT, slug)) as conn:
            row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
            schema = tenant_schema(slug)
            await conn.execute(drop_tenant_schema(schema))
            if row is not None:
                await conn.execute(q.delete_tenant(p), [row[0]])  # cascades the shared rows
            await conn.execute(q.audit_redact(p), [slug])
        if row is not None:
            log.info("erased tenant %s", slug)
        return row is not None

    async def repair_isolation(self, slug: str) -> tuple[str, ...]:
        """Re-apply RLS to the tenant's tables (drift repair); return what was repaired.

        For the shared tier the tables are the platform's, shared by all shared tenants.
        Policies other than the fail-closed one are dropped.
        """
        validate_slug(slug)
        p = self.settings.platform_schema
        names = template.names_of(self.settings)
        repaired: list[str] = []
        try:
            async with transaction(self.pool, self.settings, lock=(q.LOCK_TENANT, slug)) as conn:
                row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
                if row is None:
                    return ()
                schema = row[4] or p
                # the tenant's own tables: its schema's, or the platform's (shared tier)
                tables = [t for t in tenant_tables(p, row[0], row[4], row[5]) if t.schema == schema]
                for table in tables:
                    cur = await conn.execute(FOREIGN_POLICIES, [schema, table.name, POLICY_NAME])
                    for (policy,) in await cur.fetchall():
                        await conn.execute(drop_policy(schema, table.name, policy))
                        repaired.append(f"dropped policy {policy} on {table.where}")
                    for statement in table.statements(names):
                        await conn.execute(statement)
                repaired.append(
                    f"re-applied row level security to {len(tables)} tables in {schema}"
                )
        except PermanentError as exc:
            if exc.reason != Reason.PERMISSION_DENIED:
                raise
            # The RLS guard (or ownership) refuses: a superuser made a change only a
            # superuser can undo (a trigger, a rule, another owner, a renamed tenant_id).
            raise PermanentError(
                f"tenant {slug}: the isolation drift cannot be repaired by the operator, "
                f"only a superuser (a DBA) can repair it: {exc.message}",
                reason=Reason.REPAIR_NEEDS_SUPERUSER,
            ) from exc
        log.info("tenant %s: %s", slug, "; ".join(repaired))
        return tuple(repaired)

    async def upgrade_schemas(self) -> dict[str, int]:
        """Bring every ``schema``-tier tenant to ``template_version``; slug -> version."""
        p = self.settings.platform_schema
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(q.tenants_of_isolation(p), [Isolation.SCHEMA.value])
            slugs = [row[0] for row in await cur.fetchall()]
        versions: dict[str, int] = {}
        for slug in slugs:
            try:
                async with transaction(
                    self.pool, self.settings, lock=(q.LOCK_TENANT, slug)
                ) as conn:
                    row = await (await conn.execute(q.select_tenant(p), [slug])).fetchone()
                    if row is None:  # dropped meanwhile
                        continue
                    version, changed = await self._converge_schema(conn, row[0], row[4], row[5])
            except PermanentError as exc:  # one tenant's problem must not stop the others
                log.error("tenant %s: schema not upgraded: %s", slug, exc)
                continue
            versions[slug] = version
            for change in changed:
                log.info("tenant %s: %s", slug, change)
        return versions
