"""The rows of an export, read in one consistent snapshot and streamed into a bundle.

One ``REPEATABLE READ READ ONLY`` transaction as the owner role with the tenant's context
set (RLS confines every read to the tenant): the registry row, then each table through a
server-side cursor, ``BATCH`` rows at a time into the sink, so memory stays flat however
many rows there are. Sealed personal data is opened with the tenant's key ring; secrets
(password hashes, invite token digests) are never selected. The tenant's audit chain (for a
subject: the entries naming them) is read in the same snapshot and verified from genesis by
:class:`~tenant_operator.adapters.postgres.audit_verify.ChainVerifier`.
"""

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from psycopg import sql

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
#: Bytes of COPY output gathered per write into the bundle.
CSV_FLUSH = 1 << 20

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
        p = self.settings.platform_schema
        async with self._snapshot(tenant_id) as conn:
            found = await (await conn.execute(q.select_tenant_by_id(p), [tenant_id])).fetchone()
            if found is None:
                raise PermanentError(
                    f"tenant {tenant_id} is not registered", reason=Reason.TENANT_NOT_FOUND
                )
            slug, schema = str(found[0]), str(found[2] or p)

            def r(template: str) -> sql.Composed:
                return x.render(template, p, schema)

            chain = await _one_value(conn, q.audit_chain_of(p), slug) or slug
            params: dict[str, Any] = {"tenant": tenant_id, "chain": chain}
            head = await (await conn.execute(r(x.AUDIT_HEAD), params)).fetchone()
            params["seq"] = int(head[0]) if head else 0
            rows: dict[str, int] = {}
            account = None
            if subject is None:
                tenant_sink = sink.table("tenant", x.TENANT_COLUMNS)
                rows["tenant"] = await self._sealed(
                    conn, r(x.SELECT_TENANT), params, tenant_sink, _tenant_opener(keys)
                )
                accounts = r(x.SELECT_ACCOUNTS)
            else:
                account = await self._find(conn, r, keys, subject, params)
                params["account"] = account
                accounts = r(x.SELECT_ACCOUNT)
            accounts_sink = sink.table("accounts", x.ACCOUNT_COLUMNS)
            if subject is None or account is not None:
                rows["accounts"] = await self._sealed(
                    conn, accounts, params, accounts_sink, _accounts_opener(keys)
                )
            else:
                rows["accounts"] = 0
            for table, columns, inner in x.TABLES if subject is None else x.SUBJECT_TABLES:
                table_sink = sink.table(table, columns)
                if subject is not None and account is None:
                    rows[table] = 0  # the files are there, empty: nothing held
                    continue
                rows[table] = await self._rendered(conn, r(inner), columns, params, table_sink)
            if subject is None:
                entries_sql = r(x.AUDIT_ENTRIES)
            else:
                found_needles = await self._subject_needles(conn, r, keys, params, subject, account)
                params["needles"] = list(found_needles)
                entries_sql = r(x.AUDIT_SUBJECT_ENTRIES)
            audit_sink = sink.jsonl(bundle.AUDIT_FILE, x.AUDIT_COLUMNS)
            entries = await self._rendered(conn, entries_sql, None, params, audit_sink)
            rows["audit"] = entries
            if subject is None:
                cur = await conn.execute(x.json_rows(r(x.CONNECTORS[2])), params)
                sink.add_json(
                    bundle.CONNECTORS_FILE, [json.loads(c[0]) for c in await cur.fetchall()]
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
            await conn.execute(x.SNAPSHOT_SETTINGS)
            await set_tenant(conn, tenant_id)
            yield conn

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
        email = _opened(keys, _hex(row[1]), row[2], envelope.ACCOUNT_EMAIL)
        return list(dict.fromkeys([*needles(account, email), *asked]))

    async def _rendered(
        self,
        conn: Conn,
        inner: sql.Composed,
        columns: Sequence[str] | None,
        params: Mapping[str, Any],
        sink: RowSink,
    ) -> int:
        """Rows of ``inner`` rendered by PostgreSQL: JSON Lines through a server-side cursor,
        then (``columns`` given) the CSV by COPY, in the same snapshot; how many rows."""
        total = 0
        async with conn.cursor(name="export") as cur:
            cur.itersize = self.batch
            await cur.execute(x.json_rows(inner), params)
            while batch := await cur.fetchmany(self.batch):
                sink.write_jsonl([row[0] for row in batch])
                total += len(batch)
        if columns is not None:
            async with conn.cursor().copy(x.csv_copy(inner, columns), params) as copy:
                pending: list[bytes] = []
                size = 0
                async for data in copy:
                    pending.append(bytes(data))
                    size += len(data)
                    if size >= CSV_FLUSH:
                        sink.write_csv(b"".join(pending))
                        pending, size = [], 0
                sink.write_csv(b"".join(pending))
        return total

    async def _sealed(
        self,
        conn: Conn,
        inner: sql.Composed,
        params: Mapping[str, Any],
        sink: RowSink,
        convert: Callable[[dict[str, Any]], Row],
    ) -> int:
        """Rows with sealed columns: opened here, then rendered by the sink."""
        total = 0
        async with conn.cursor(name="export") as cur:
            cur.itersize = self.batch
            await cur.execute(x.json_rows(inner), params)
            while batch := await cur.fetchmany(self.batch):
                sink.write_rows([convert(json.loads(row[0])) for row in batch])
                total += len(batch)
        return total


def _opened(keys: KeyRing, sealed: str | None, plain: str | None, column: str) -> str | None:
    """A sealed value (bytea as JSON: ``\\x`` and hex) opened; a legacy plaintext one as is."""
    if sealed is None:
        return plain
    return keys.open(bytes.fromhex(sealed.removeprefix("\\x")), column)


def _accounts_opener(keys: KeyRing) -> Callable[[dict[str, Any]], Row]:
    def convert(row: dict[str, Any]) -> Row:
        row["email"] = _opened(keys, row.pop("email_enc"), row["email"], envelope.ACCOUNT_EMAIL)
        row["name"] = _opened(keys, row.pop("name_enc"), row["name"], envelope.ACCOUNT_NAME)
        return tuple(row[c] for c in x.ACCOUNT_COLUMNS)

    return convert


def _tenant_opener(keys: KeyRing) -> Callable[[dict[str, Any]], Row]:
    def convert(row: dict[str, Any]) -> Row:
        row["organisation"] = _opened(
            keys, row.pop("organisation_enc"), row["organisation"], envelope.ORGANISATION
        )
        return tuple(row[c] for c in x.TENANT_COLUMNS)

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


def _hex(value: bytes | None) -> str | None:
    """A bytea as row_to_json renders it."""
    return None if value is None else "\\x" + bytes(value).hex()
