"""Data-subject requests in PostgreSQL: the request record and one subject's erasure.

Against the real server with the operator's role: a member of a ``shared`` and of a
``schema`` tenant is erased (account deleted, runs and deploys anonymised, audit details
naming them redacted, the chain still verifying), the owner never, and a second call of a
phase changes nothing (what a restart does).
"""

import asyncio
import uuid
from typing import Any

import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.requests import PostgresRequests
from tenant_operator.adapters.postgres.session import transaction
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.domain.vocabulary import DataRequestType, RequestPhase
from tests.support.keys import ring, sealed, wrapped

pytestmark = pytest.mark.integration


async def _tenant_with_member(
    tenants: PostgresTenants, slug: str, isolation: str, email: str
) -> tuple[uuid.UUID, uuid.UUID, str]:
    """(tenant id, member id, the schema holding its tables)."""
    state = await tenants.ensure_tenant(
        slug, organisation=f"{slug} Ltd", plan="enterprise", isolation=isolation
    )
    tenant_id = state.tenant_id
    await tenants.add_tenant_key(tenant_id, 1, wrapped(tenant_id))
    keys = ring(tenant_id)
    await tenants.ensure_owner_account(
        tenant_id,
        name="Olga Owner",
        email=f"owner@{slug}.example",
        keys=keys,
        organisation=f"{slug} Ltd",
    )
    schema = state.schema or tenants.settings.platform_schema
    member = uuid.uuid4()

    def table(name: str) -> sql.Identifier:
        return sql.Identifier(schema, name)

    async with transaction(tenants.pool, tenants.settings) as conn:
        await conn.execute(q.SET_TENANT_CONTEXT, [str(tenant_id)])
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (tenant_id, id, email_enc, name_enc, email_bidx, key_version)"
                " VALUES (%s, %s, %s, %s, %s, 1)"
            ).format(table("accounts")),
            [tenant_id, member, *sealed(keys, email, "Mia Member")],
        )
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (tenant_id, pipeline, status, triggered_by)"
                " VALUES (%s, 'build', 'ok', %s), (%s, 'test', 'ok', NULL)"
            ).format(table("pipeline_runs")),
            [tenant_id, member, tenant_id],
        )
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (tenant_id, environment, version, deployed_by)"
                " VALUES (%s, 'prod', 'v1', %s)"
            ).format(table("deploy_events")),
            [tenant_id, member],
        )
    return tenant_id, member, schema


@pytest.mark.parametrize("isolation", ["shared", "schema"])
def test_a_member_is_erased_once_and_the_chain_still_verifies(pg: Any, isolation: str) -> None:
    slug = f"erase-{isolation}"
    email = f"mia@{slug}.example"

    async def body() -> dict[str, Any]:
        async with pg.pool() as pool:
            tenants = PostgresTenants(pool, pg.settings)
            tenant_id, member, _ = await _tenant_with_member(tenants, slug, isolation, email)
            audit = AuditLog(pool, pg.settings)
            await audit.append(
                slug,
                actor="test",
                action="member.invited",
                target="x",
                detail={"email": email, "account": str(member)},
            )
            requests = PostgresRequests(pool, pg.settings)
            uid = uuid.uuid4()
            received = await requests.receive(
                uid, name="erase-mia", slug=slug, type_=DataRequestType.ERASURE
            )
            again = await requests.receive(
                uid, name="erase-mia", slug=slug, type_=DataRequestType.ERASURE
            )
            keys = ring(tenant_id)
            found = await requests.find_account(tenant_id, email_index=keys.blind_index(email))
            assert found is not None and found.id == member and not found.is_owner
            await requests.advance(
                uid, RequestPhase.RESOLVED, tenant_id=tenant_id, account_id=member
            )
            chain = await audit.chain_name(slug)
            needles = [str(member), email]
            first = await requests.erase_rows(uid, tenant_id, chain, member, needles, {})
            second = await requests.erase_rows(uid, tenant_id, chain, member, needles, first.result)
            back = await requests.advance(uid, RequestPhase.RESOLVED, {"erased": {}})
            left = await requests.find_account(tenant_id, account_id=member)
            verified = await audit.verify(slug)
            return {
                "received": received,
                "again": again,
                "first": first,
                "second": second,
                "left": left,
                "back": back,
                "verified": verified,
            }

    out = asyncio.run(body())
    assert out["again"].received_at == out["received"].received_at
    erased = out["first"].result["erased"]
    assert erased == {
        "postgres:accounts": 1,
        "postgres:pipeline_runs": 1,
        "postgres:deploy_events": 1,
        "audit:details": 1,
    }
    assert out["first"].phase == RequestPhase.ROWS_ERASED
    assert out["left"] is None
    assert out["second"].result["erased"]["postgres:accounts"] == 1, "a replay keeps the counts"
    assert out["verified"].ok, out["verified"]
    # A late run of an earlier phase (a replay, a race) moves nothing back, keeps the result.
    assert out["back"].phase == RequestPhase.ROWS_ERASED
    assert out["back"].result["erased"] == erased
