"""Sealed personal data in PostgreSQL: upgrading a tenant that holds plaintext, re-sealing.

A ``schema``-tier tenant built at template v4 (plaintext email and name, as every tenant
before v5) with an owner and a member is upgraded: afterwards no row holds plaintext, the
CHECK is validated, and the values open with the tenant's keys. The data keys here are
fixed test keys (``tests.support.keys``); OpenBao's part is in
``tests/integration/openbao/test_crypto_shredding.py``.
"""

import asyncio

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.session import transaction
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements.common import PII_SEALED
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.domain import envelope
from tenant_operator.domain.errors import PermanentError
from tests.support.keys import ring, wrapped

pytestmark = pytest.mark.integration


def test_a_v4_tenant_with_plaintext_rows_ends_with_none(pg) -> None:
    slug = "sealed-upgrade"

    async def body() -> tuple[object, ...]:
        async with pg.pool() as pool:
            old = PostgresTenants(pool, pg.settings, template_version=4)
            state = await old.ensure_tenant(
                slug, organisation="Legacy Ltd", plan="enterprise", isolation="schema"
            )
            table = sql.Identifier(state.schema, "accounts")
            async with transaction(pool, pg.settings) as conn:
                await conn.execute(q.SET_TENANT_CONTEXT, [str(state.tenant_id)])
                for email, name, owner in (
                    ("Owner@Legacy.example", "Olga Owner", True),
                    ("member@legacy.example", "Max Member", False),
                ):
                    await conn.execute(
                        sql.SQL(
                            "INSERT INTO {} (tenant_id, email, name, is_owner)"
                            " VALUES (%s, %s, %s, %s)"
                        ).format(table),
                        [state.tenant_id, email, name, owner],
                    )
            new = PostgresTenants(pool, pg.settings)
            upgraded = await new.ensure_tenant(
                slug, organisation="Legacy Ltd", plan="enterprise", isolation="schema"
            )
            keys = ring(state.tenant_id)
            await new.add_tenant_key(state.tenant_id, 1, wrapped(state.tenant_id))
            owner = await new.ensure_owner_account(
                state.tenant_id,
                name="Olga Owner",
                email="owner@legacy.example",  # the same person: case does not matter
                keys=keys,
                organisation="Legacy Ltd",
            )
            again = await new.ensure_owner_account(
                state.tenant_id,
                name="Olga Owner",
                email="owner@legacy.example",
                keys=keys,
                organisation="Legacy Ltd",
            )
            return state, upgraded, owner, again

    state, upgraded, owner, again = asyncio.run(body())
    assert upgraded.schema_version == 5  # type: ignore[attr-defined]
    assert owner.token is None and owner.replaced is None  # type: ignore[attr-defined]
    assert owner.changed == (  # type: ignore[attr-defined]
        "sealed 2 account(s) stored in plaintext",
        "stored the organisation",
    )
    assert again.changed == ()  # type: ignore[attr-defined]
    keys = ring(state.tenant_id)  # type: ignore[attr-defined]
    with pg.superuser() as su:
        rows = su.execute(
            sql.SQL(
                "SELECT email, name, email_enc, name_enc, is_owner FROM {} ORDER BY is_owner"
            ).format(sql.Identifier(state.schema, "accounts"))  # type: ignore[attr-defined]
        ).fetchall()
        validated = su.execute(
            "SELECT convalidated FROM pg_constraint WHERE conname = %s AND conrelid = %s::regclass",
            [PII_SEALED, f"{state.schema}.accounts"],  # type: ignore[attr-defined]
        ).fetchone()
        org = su.execute(
            "SELECT organisation, organisation_enc FROM integraci.tenants WHERE slug = %s",
            [slug],
        ).fetchone()
    assert [(r[0], r[1]) for r in rows] == [(None, None), (None, None)]
    assert [
        (keys.open(bytes(r[2]), envelope.ACCOUNT_EMAIL), keys.open(bytes(r[3]), "accounts.name"))
        for r in rows
    ] == [("member@legacy.example", "Max Member"), ("Owner@Legacy.example", "Olga Owner")]
    assert validated == (True,)
    assert org is not None and org[0] is None
    assert keys.open(bytes(org[1]), envelope.ORGANISATION) == "Legacy Ltd"


def test_reseal_refuses_a_ring_of_another_tenant_and_a_plain_key(pg) -> None:
    async def body() -> list[str]:
        reasons = []
        async with pg.tenants() as t:
            a = await t.ensure_tenant("sealed-a", organisation="A", plan="team", isolation="shared")
            b = await t.ensure_tenant("sealed-b", organisation="B", plan="team", isolation="shared")
            for call in (
                t.reseal(a.tenant_id, ring(b.tenant_id), ring(a.tenant_id, 2), 2, "vault:v2:x"),
                t.reseal(a.tenant_id, ring(a.tenant_id), ring(a.tenant_id, 2), 2, "plain-key"),
                t.add_tenant_key(a.tenant_id, 1, "not wrapped"),
            ):
                with pytest.raises(PermanentError) as caught:
                    await call
                reasons.append(caught.value.reason)
            assert await t.tenant_keys(a.tenant_id) == []
        return reasons

    assert asyncio.run(body()) == ["InvalidData"] * 3


def test_tenant_keys_are_fail_closed_for_the_app_role(pg) -> None:
    async def body() -> object:
        async with pg.tenants() as t:
            s = await t.ensure_tenant("sealed-k", organisation="K", plan="team", isolation="shared")
            assert await t.add_tenant_key(s.tenant_id, 1, wrapped(s.tenant_id))
            assert not await t.add_tenant_key(s.tenant_id, 1, wrapped(s.tenant_id))
            return s.tenant_id

    tenant_id = asyncio.run(body())
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        # no context: no rows; the keys exist (the operator reads them in its context)
        assert conn.execute("SELECT count(*) FROM integraci.tenant_keys").fetchone() == (0,)
    with pg.superuser() as su:
        assert su.execute(
            "SELECT count(*) FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id]
        ).fetchone() == (1,)
