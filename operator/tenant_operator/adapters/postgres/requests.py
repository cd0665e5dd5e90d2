"""Data-subject requests in PostgreSQL: their record, and the erasure of one subject's rows.

:class:`PostgresRequests` records each request once (by the Kubernetes object's uid) and
each phase it completes, so a restart resumes after the last phase recorded and nothing is
done twice. :meth:`~PostgresRequests.erase_rows` is one transaction with the tenant context
set: the subject's account deleted, the rows that must stay for the tenant's own records
(pipeline runs, deploy events) anonymised, and the audit details that name the subject
redacted; all or nothing.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.session import Pool, tenant_transaction, transaction
from tenant_operator.adapters.postgres.statements import requests as q
from tenant_operator.domain.datarequests import RequestRecord, SealedAccount, reached
from tenant_operator.domain.naming import validate_label, validate_slug
from tenant_operator.domain.records import SubProcessorEntry
from tenant_operator.domain.vocabulary import DataRequestType, RequestPhase
from tenant_operator.settings import Settings

#: The rows kept for the tenant's own records, with the column linking them to a person:
#: a pipeline run or a deploy is the tenant's history (billing, change records), the
#: person who started it is not needed for it.
ANONYMISED = (("pipeline_runs", "triggered_by"), ("deploy_events", "deployed_by"))


def _record(row: Sequence[Any]) -> RequestRecord:
    uid, name, slug, type_, received_at, phase, account_id, result, completed_at = row
    return RequestRecord(
        uid=uid,
        name=name,
        slug=slug,
        type=DataRequestType(type_),
        received_at=received_at,
        phase=RequestPhase(phase),
        account_id=account_id,
        result=result or {},
        completed_at=completed_at,
    )


def _advance_args(
    uid: uuid.UUID,
    phase: RequestPhase,
    result: Mapping[str, Any] | None,
    *,
    tenant_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "phase": str(phase),
        "order": [str(p) for p in RequestPhase],
        "result": Jsonb(dict(result or {})),
        "tenant_id": tenant_id,
        "account_id": account_id,
    }


class PostgresRequests:
    """The operator's record of data-subject requests, and the subject erasure's rows."""

    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def receive(
        self, uid: uuid.UUID, *, name: str, slug: str, type_: DataRequestType
    ) -> RequestRecord:
        """The request's record, created (received now) the first time it is seen."""
        args = {
            "uid": uid,
            "name": validate_label(name, what="data request name"),
            "slug": validate_slug(slug),
            "type": str(type_),
        }
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(q.receive(self.settings.platform_schema), args)
            row = await cur.fetchone()
        assert row is not None  # inserted or found
        return _record(row)

    async def advance(
        self,
        uid: uuid.UUID,
        phase: RequestPhase,
        result: Mapping[str, Any] | None = None,
        *,
        tenant_id: uuid.UUID | None = None,
        account_id: uuid.UUID | None = None,
    ) -> RequestRecord:
        """Record that the request reached ``phase``, merging ``result`` into its record."""
        args = _advance_args(uid, phase, result, tenant_id=tenant_id, account_id=account_id)
        async with transaction(self.pool, self.settings) as conn:
            cur = await conn.execute(q.advance(self.settings.platform_schema), args)
            row = await cur.fetchone()
        assert row is not None, "advance of a request that was never received"
        return _record(row)

    async def find_account(
        self,
        tenant_id: uuid.UUID,
        *,
        account_id: uuid.UUID | None = None,
        email_index: bytes | None = None,
    ) -> SealedAccount | None:
        """The tenant's account with this id or email blind index, its values sealed."""
        async with tenant_transaction(self.pool, self.settings, tenant_id) as (conn, tenant):
            args = {"tenant_id": tenant_id, "account_id": account_id, "bidx": email_index}
            cur = await conn.execute(q.find_account(tenant.tables_schema(self.settings)), args)
            row = await cur.fetchone()
        if row is None:
            return None
        return SealedAccount(row[0], bool(row[1]), bytes(row[2]), bytes(row[3]))

    async def erase_rows(
        self,
        uid: uuid.UUID,
        tenant_id: uuid.UUID,
        chain: str,
        account_id: uuid.UUID,
        needles: list[str],
        result: Mapping[str, Any],
    ) -> RequestRecord:
        """Erase the subject's rows and record it (phase rows-erased, the counts per
        ``<store>:<table>`` merged into ``result["erased"]``), in one transaction.

        The owner's account is never deleted (``NOT is_owner``; the controller refuses an
        owner first, and the owner-row trigger would refuse it too).
        """
        counts: dict[str, int] = dict(result.get("erased", {}))
        platform = self.settings.platform_schema
        args = _advance_args(uid, RequestPhase.ROWS_ERASED, {})
        async with tenant_transaction(self.pool, self.settings, tenant_id) as (conn, tenant):
            cur = await conn.execute(q.lock_request(platform), [uid])
            locked = await cur.fetchone()
            assert locked is not None, "erase_rows of a request that was never received"
            if reached(RequestPhase(locked[0]), RequestPhase.ROWS_ERASED):  # done before
                cur = await conn.execute(q.advance(platform), args)
                done = await cur.fetchone()
                assert done is not None
                return _record(done)
            schema = tenant.tables_schema(self.settings)
            for table, column in ANONYMISED:
                cur = await conn.execute(
                    q.anonymise(schema, table, column), [tenant_id, account_id]
                )
                counts[f"postgres:{table}"] = cur.rowcount
            cur = await conn.execute(q.delete_account(schema), [tenant_id, account_id])
            counts["postgres:accounts"] = cur.rowcount
            cur = await conn.execute(q.redact_naming(platform), [chain, needles])
            row = await cur.fetchone()
            counts["audit:details"] = int(row[0]) if row else 0
            args["result"] = Jsonb({**result, "erased": counts})
            cur = await conn.execute(q.advance(platform), args)
            recorded = await cur.fetchone()
        assert recorded is not None
        return _record(recorded)

    async def processors_of(self, tenant_id: uuid.UUID) -> list[SubProcessorEntry]:
        """The sub-processors that process the tenant's data (those it did not object to)."""
        async with tenant_transaction(self.pool, self.settings, tenant_id) as (conn, _):
            cur = await conn.execute(q.processors_of(self.settings.platform_schema), [tenant_id])
            rows = await cur.fetchall()
        return [
            SubProcessorEntry(name, purpose, tuple(categories), location, transfer, notice)
            for name, purpose, categories, location, transfer, notice in rows
        ]
