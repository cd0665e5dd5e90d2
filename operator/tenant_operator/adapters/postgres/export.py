"""The rows of an export, read in one consistent snapshot and streamed into a bundle.

One ``REPEATABLE READ READ ONLY`` transaction as the owner role with the tenant's context
set (RLS confines every read to the tenant): the registry row, then each table through a
server-side cursor, ``BATCH`` rows at a time into the sink, so memory stays flat however
many rows there are. Sealed personal data is opened with the tenant's key ring; secrets
(password hashes, invite token digests) are never selected. The tenant's audit chain (for a
subject: the entries naming them) is read in the same snapshot and verified from genesis by
:class:`~tenant_operator.adapters.postgres.audit_verify.ChainVerifier`.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tenant_operator.adapters.postgres.audit import AuditLog, AuditVault
from tenant_operator.adapters.postgres.audit_verify import ChainVerifier
from tenant_operator.adapters.postgres.errors import pg_errors
from tenant_operator.adapters.postgres.session import Conn, Pool, label, set_tenant
from tenant_operator.adapters.postgres.statements import export as x
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.domain import bundle, envelope
from tenant_operator.domain.datarequests import needles
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.export import (
    AuditSummary,
    ExportFacts,
    ExportSink,
    RowSink,
    SubjectRef,
)
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

log = logging.getLogger(__name__)

#: Rows per FETCH of a server-side cursor, and per write into the bundle.
BATCH = 20_000

Row = tuple[Any, ...]


class PostgresExport:
    """Export a tenant, or one subject of it, from PostgreSQL (``vault``: the audit keys)."""

    def __init__(
        self, pool: Pool, settings: Settings, vault: AuditVault | None = None, *, batch: int = BATCH
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.audit = AuditLog(pool, settings, vault)
        self.batch = batch

    async def export(
        self, keys: KeyRing, subject: SubjectRef | None, sink: ExportSink
    ) -> ExportFacts:
        """Write the tenant's (or ``subject``'s) rows into ``sink``; what the manifest needs."""
        tenant_id = keys.tenant_id
        async with self._snapshot(tenant_id) as conn:
            tenant = await self._tenant(conn, keys)
            slug, schema = str(tenant["slug"]), str(tenant["schema"])
            chain = await _one_value(conn, q.audit_chain_of(self.settings.platform_schema), slug)
            chain = chain or slug
            p = self.settings.platform_schema
            rows: dict[str, int] = {}

            def r(template: str) -> Any:
                return x.render(template, p, schema)

            params: dict[str, Any] = {"tenant": tenant_id, "chain": chain}
            head = await (await conn.execute(r(x.AUDIT_HEAD), params)).fetchone()
            params["seq"] = int(head[0]) if head else 0
            if subject is None:
                sink.table("tenant", x.TENANT_COLUMNS).write_rows([tenant["row"]])
                rows["tenant"] = 1
                account = None
                accounts = r(x.SELECT_ACCOUNTS)
            else:
                account = await self._find(conn, r, keys, subject, params)
                params["account"] = account
                accounts = r(x.SELECT_ACCOUNT)
            opened = _accounts_opener(keys)
            rows["accounts"] = await self._stream(
                conn, accounts, params, sink.table("accounts", x.ACCOUNT_COLUMNS), opened
            )
            for table, columns, statement in x.TABLES if subject is None else x.SUBJECT_TABLES:
                if subject is not None and account is None:
                    sink.table(table, columns)  # the files are there, empty: nothing held
                    rows[table] = 0
                    continue
                rows[table] = await self._stream(
                    conn, r(statement), params, sink.table(table, columns)
                )
            if subject is None:
                entries_sql = r(x.AUDIT_ENTRIES)
            else:
                found = await self._subject_needles(conn, r, keys, params, subject, account)
                params["needles"] = list(found)
                entries_sql = r(x.AUDIT_SUBJECT_ENTRIES)
            audit_sink = sink.jsonl(bundle.AUDIT_FILE, x.AUDIT_COLUMNS)
            entries = await self._stream(conn, entries_sql, params, audit_sink)
            rows["audit"] = entries
            if subject is None:
                connectors = await (await conn.execute(r(x.TABLES[0][2]), params)).fetchall()
                sink.add_json(
                    bundle.CONNECTORS_FILE,
                    [dict(zip(x.TABLES[0][1], c, strict=True)) for c in connectors],
                )
            subs = await (await conn.execute(r(x.SUB_PROCESSORS), params)).fetchall()
        verdict = await ChainVerifier(self.pool, self.settings).verify_chain(
            chain, await self.audit.key(chain)
        )
        audit = AuditSummary(
            chain=chain,
            seq=int(params["seq"]),
            head=None if head is None else str(head[1]),
            verified=verdict.ok,
            checked=verdict.checked,
            entries=entries,
            reason=verdict.reason,
        )
        return ExportFacts(
            tenant_slug=slug,
            tenant_id=tenant_id,
            subject=None if subject is None else subject.document(account),
            audit=audit,
            sub_processors=tuple(_sub_processor(s) for s in subs),
            rows=rows,
        )

    @asynccontextmanager
    async def _snapshot(self, tenant_id: uuid.UUID) -> AsyncIterator[Conn]:
        async with (
            pg_errors(lambda: label(self.pool)),
            self.pool.connection() as conn,
            conn.transaction(),
        ):
            await conn.execute(x.BEGIN_SNAPSHOT)
            await conn.execute(q.set_role(self.settings.owner_role))
            await set_tenant(conn, tenant_id)
            yield conn

    async def _tenant(self, conn: Conn, keys: KeyRing) -> dict[str, Any]:
        p = self.settings.platform_schema
        found = await (
            await conn.execute(x.render(x.SELECT_TENANT, p, p), {"tenant": keys.tenant_id})
        ).fetchone()
        if found is None:
            raise PermanentError(
                f"tenant {keys.tenant_id} is not registered", reason=Reason.TENANT_NOT_FOUND
            )
        tenant_id, slug, sealed, plain, plan, isolation, created = found
        schema_row = await (await conn.execute(q.select_tenant_by_id(p), [tenant_id])).fetchone()
        organisation = _opened(keys, sealed, plain, envelope.ORGANISATION)
        return {
            "slug": slug,
            "schema": (schema_row[2] if schema_row else None) or p,
            "row": (tenant_id, slug, organisation, plan, isolation, created),
        }

    async def _find(
        self,
        conn: Conn,
        r: Callable[[str], Any],
        keys: KeyRing,
        subject: SubjectRef,
        params: Mapping[str, Any],
    ) -> uuid.UUID | None:
        if subject.email is not None:
            email = envelope.normalise_email(subject.email)
            args = {**params, "bidx": keys.blind_index(email), "email": email}
            found = await (await conn.execute(r(x.FIND_SUBJECT_BY_EMAIL), args)).fetchone()
        else:
            args = {**params, "id": subject.id}
            found = await (await conn.execute(r(x.FIND_SUBJECT_BY_ID), args)).fetchone()
        return None if found is None else uuid.UUID(str(found[0]))

    async def _subject_needles(
        self,
        conn: Conn,
        r: Callable[[str], Any],
        keys: KeyRing,
        params: Mapping[str, Any],
        subject: SubjectRef,
        account: uuid.UUID | None,
    ) -> Sequence[str]:
        """What names the subject in audit entries: id and email (and the asked email)."""
        asked = [subject.email] if subject.email else [str(subject.id)]
        if account is None:
            return asked
        row = await (await conn.execute(r(x.SELECT_ACCOUNT), params)).fetchone()
        assert row is not None  # found in this snapshot a moment ago
        email = _opened(keys, row[1], row[2], envelope.ACCOUNT_EMAIL)
        return list(dict.fromkeys([*needles(account, email), *asked]))

    async def _stream(
        self,
        conn: Conn,
        statement: Any,
        params: Mapping[str, Any],
        sink: RowSink,
        convert: Callable[[Row], Row] | None = None,
    ) -> int:
        """Rows of ``statement`` through a server-side cursor into ``sink``; how many."""
        total = 0
        async with conn.cursor(name="export") as cur:
            cur.itersize = self.batch
            await cur.execute(statement, params)
            while batch := await cur.fetchmany(self.batch):
                sink.write_rows(batch if convert is None else [convert(row) for row in batch])
                total += len(batch)
        return total


def _opened(keys: KeyRing, sealed: bytes | None, plain: str | None, column: str) -> str | None:
    """A sealed value opened (a legacy plaintext one as it is)."""
    return keys.open(bytes(sealed), column) if sealed is not None else plain


def _accounts_opener(keys: KeyRing) -> Callable[[Row], Row]:
    def convert(row: Row) -> Row:
        id_, email_enc, email, name_enc, name, *rest = row
        return (
            id_,
            _opened(keys, email_enc, email, envelope.ACCOUNT_EMAIL),
            _opened(keys, name_enc, name, envelope.ACCOUNT_NAME),
            *rest,
        )

    return convert


def _sub_processor(row: Row) -> dict[str, Any]:
    name, purpose, categories, location, mechanism, state = row
    return {
        "name": name,
        "purpose": purpose,
        "dataCategories": list(categories),
        "location": location,
        "transferMechanism": mechanism,
        "state": state,
    }


async def _one_value(conn: Conn, statement: Any, arg: object) -> str | None:
    row = await (await conn.execute(statement, [arg])).fetchone()
    return None if row is None else str(row[0])
