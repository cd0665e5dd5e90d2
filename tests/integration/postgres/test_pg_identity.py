"""Tenant identity in the registry: the upgrade path, adoption, owner replacement."""

import asyncio
import uuid

import pytest

from devenv.postgres import PostgresServer
from tenant_operator.adapters.postgres import template
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.migrations import migrate
from tenant_operator.adapters.postgres.roles import bootstrap_roles
from tenant_operator.adapters.postgres.session import transaction
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.statements.platform import (
    bootstrap_statements,
    platform_steps,
)
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.domain.envelope import ACCOUNT_EMAIL
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.identity import RETAINED_TENANT_EXISTS
from tests.support.keys import ring, sealed
from tests.support.postgres import PgDatabase, database_settings

pytestmark = pytest.mark.integration

PASSWORD_HASH = "$2b$12$" + "D" * 53


def test_upgrade_claims_live_rows_and_keeps_rows_retained_before_it(
    postgres_server: PostgresServer,
) -> None:
    """Rows from before step 5: a live one is claimed, one whose chain ends retained is not."""
    name = "db_identity_upgrade"
    postgres_server.create_database(name)
    settings = database_settings(name, pool_max_size=2)
    db = PgDatabase(name, postgres_server, settings)
    names = template.names_of(settings)

    async def main() -> tuple[object, ...]:
        await bootstrap_roles(db.superuser_dsn, settings)
        async with db.pool(2) as pool:
            # The platform before step 5 (plus step 6, the audit chains AuditLog appends to;
            # before step 7, so the rows hold the organisation in plaintext).
            async with transaction(pool, settings) as conn:
                for statement in bootstrap_statements(names):
                    await conn.execute(statement)
                for step in platform_steps(names):
                    if step.version < 7 and step.version != 5:
                        for statement in step.statements:
                            await conn.execute(statement)
                        await conn.execute(
                            q.record_migration(settings.platform_schema),
                            ["platform", step.version, step.name],
                        )
                for slug in ("old-live", "old-kept"):
                    await conn.execute(
                        "INSERT INTO integraci.tenants (slug, organisation, plan, isolation)"
                        " VALUES (%s, 'Old', 'team', 'shared')",
                        [slug],
                    )
            audit = AuditLog(pool, settings)
            for slug, action in (("old-live", "tenant.database.ensured"), ("old-kept", "x")):
                await audit.append(slug, actor="t", action=action, target="t", detail={})
            await audit.append(
                "old-kept", actor="t", action="tenant.deleted.retained", target="t", detail={}
            )
            await migrate(pool, settings)
            tenants = PostgresTenants(pool, settings)
            live = await tenants.ensure_tenant(
                "old-live",
                organisation="Old",
                plan="team",
                isolation="shared",
                k8s_uid=str(uuid.uuid4()),
            )
            kept = await tenants.registered("old-kept")
            assert kept is not None and kept.retained_at is not None and kept.k8s_uid is None
            with pytest.raises(PermanentError) as refused:
                await tenants.ensure_tenant(
                    "old-kept",
                    organisation="New",
                    plan="team",
                    isolation="shared",
                    k8s_uid=str(uuid.uuid4()),
                )
            uid = uuid.uuid4()
            adopted = await tenants.ensure_tenant(
                "old-kept",
                organisation="New",
                plan="team",
                isolation="shared",
                k8s_uid=str(uid),
                adopt=str(kept.tenant_id),
            )
            after = await tenants.registered("old-kept")
            return live, refused.value, adopted, after, uid

    live, refused, adopted, after, uid = asyncio.run(main())
    assert live.changed == (  # type: ignore[attr-defined]
        "recorded the Tenant object it belongs to",
        "dropped the plaintext organisation",  # a row from before platform v7
    )
    assert refused.reason == RETAINED_TENANT_EXISTS  # type: ignore[attr-defined]
    assert adopted.adopted is not None and adopted.adopted.previous_uid is None  # type: ignore[attr-defined]
    assert after.k8s_uid == uid and after.retained_at is None  # type: ignore[attr-defined]


def test_owner_change_promotes_a_member_without_the_password_it_had(pg: PgDatabase) -> None:
    """A member account the previous owner prepared (with a password it knows) for the next
    owner's email is promoted without that password; the previous owner's account is gone."""

    async def main() -> tuple[object, ...]:
        async with pg.pool() as pool:
            t = PostgresTenants(pool, pg.settings)
            s = await t.ensure_tenant("promo", organisation="P", plan="team", isolation="shared")
            first = await t.ensure_owner_account(
                s.tenant_id,
                name="A",
                email="a@p.example",
                keys=ring(s.tenant_id),
                organisation="Org",
            )
            async with transaction(pool, pg.settings) as conn:
                await conn.execute(q.SET_TENANT_CONTEXT, [str(s.tenant_id)])
                await conn.execute(
                    "INSERT INTO integraci.accounts"
                    " (tenant_id, email_enc, name_enc, email_bidx, password_hash)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    [s.tenant_id, *sealed(ring(s.tenant_id), "b@p.example", "B"), PASSWORD_HASH],
                )
            same = await t.ensure_owner_account(
                s.tenant_id,
                name="A2",
                email="a@p.example",
                keys=ring(s.tenant_id),
                organisation="Org",
            )
            second = await t.ensure_owner_account(
                s.tenant_id,
                name="B",
                email="b@p.example",
                keys=ring(s.tenant_id),
                organisation="Org",
            )
            return s.tenant_id, first, same, second

    tenant_id, first, same, second = asyncio.run(main())
    assert same.token is None and same.replaced is None  # type: ignore[attr-defined]
    assert second.replaced == first.account_id and second.token is not None  # type: ignore[attr-defined]
    with pg.superuser() as su:
        rows = su.execute(
            "SELECT email, email_enc, is_owner, password_hash FROM integraci.accounts"
            " WHERE tenant_id = %s",
            [tenant_id],
        ).fetchall()
    keys = ring(tenant_id)
    opened = [(e, keys.open(bytes(enc), ACCOUNT_EMAIL), o, p) for e, enc, o, p in rows]
    assert opened == [(None, "b@p.example", True, None)]
