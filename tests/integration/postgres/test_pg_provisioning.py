"""The provisioning adapter against real PostgreSQL: idempotence, concurrency, erasure."""

import asyncio
import hashlib
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.session import make_pool
from tenant_operator.adapters.postgres.template import TEMPLATE_VERSION
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.appkit import hash_password, tenant_session_sync
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.records import ConnectorRecord, SubProcessorEntry, SubProcessorRecord
from tests.support.keys import ring

pytestmark = pytest.mark.integration

T1 = datetime(2026, 7, 1, tzinfo=UTC)
STRIPE = SubProcessorEntry("stripe", "billing", data_categories=("billing contact",))


def run(pg, body, **kwargs):
    async def main():
        async with pg.pool() as pool:
            return await body(PostgresTenants(pool, pg.settings, **kwargs))

    return asyncio.run(main())


@pytest.mark.parametrize("isolation", ["shared", "schema"])
def test_every_ensure_twice_changes_nothing_the_second_time(pg, isolation) -> None:
    slug = f"twice-{isolation}"
    connectors = [
        ConnectorRecord("github", "github", {"org": "acme"}, "openbao://tenants/x/kv/gh", 2),
        ConnectorRecord("slack", "slack", {}, "openbao://tenants/x/kv/slack", 1),
    ]

    async def body(t: PostgresTenants):
        await t.ensure_subprocessor(STRIPE)
        results = []
        for _ in range(2):
            state = await t.ensure_tenant(
                slug, organisation="Acme", plan="enterprise", isolation=isolation
            )
            owner = await t.ensure_owner_account(
                state.tenant_id,
                name="Jane",
                email="j@a.example",
                keys=ring(state.tenant_id),
                organisation="Org",
            )
            token = owner.token
            conns = await t.ensure_connectors(state.tenant_id, connectors)
            recs = await t.ensure_subprocessor_records(
                state.tenant_id, [SubProcessorRecord("stripe", "PendingNotice", notified_at=T1)]
            )
            sub = await t.ensure_subprocessor(STRIPE)
            results.append((state, token, conns, recs, sub))
        return results

    first, second = run(pg, body)
    assert first[0].changed and first[1] and first[2] and first[3]
    assert second[0].changed == () and second[1:] == (None, (), (), ())
    assert second[0].tenant_id == first[0].tenant_id
    expected_version = TEMPLATE_VERSION if isolation == "schema" else None
    assert second[0].schema_version == expected_version


def test_changes_are_reported_and_stale_rows_removed(pg) -> None:
    async def body(t: PostgresTenants):
        s = await t.ensure_tenant("chg", organisation="Old", plan="free", isolation="shared")
        await t.ensure_owner_account(
            s.tenant_id, name="A", email="a@x.example", keys=ring(s.tenant_id), organisation="Old"
        )
        gh = ConnectorRecord("github", "github", {"org": "a"}, "openbao://t/kv/gh", 1)
        await t.ensure_connectors(s.tenant_id, [gh])
        s2 = await t.ensure_tenant("chg", organisation="New", plan="team", isolation="shared")
        owner = await t.ensure_owner_account(
            s.tenant_id, name="B", email="b@x.example", keys=ring(s.tenant_id), organisation="New"
        )
        gh2 = ConnectorRecord("github", "github", {"org": "b"}, "openbao://t/kv/gh", 2)
        jira = ConnectorRecord("jira", "jira", {}, "openbao://t/kv/jira", 1)
        changed = await t.ensure_connectors(s.tenant_id, [gh2, jira])
        removed = await t.ensure_connectors(s.tenant_id, [jira])
        return s2, owner, changed, removed

    s2, owner, changed, removed = run(pg, body)
    # the organisation is sealed: compared and updated where the tenant's keys are
    assert s2.changed == ("updated plan",)
    assert owner.token is not None and owner.replaced is not None  # another owner, invited
    assert "updated organisation" in owner.changed
    assert changed == ("updated connector github", "added connector jira")
    assert removed == ("removed connector github",)


def test_record_and_register_changes_are_reported(pg) -> None:
    async def body(t: PostgresTenants):
        s = await t.ensure_tenant("chg-rec", organisation="R", plan="free", isolation="shared")
        out = [await t.ensure_subprocessor(SubProcessorEntry("rec-mail", "email", notice_days=30))]
        out.append(
            await t.ensure_subprocessor(SubProcessorEntry("rec-mail", "email", notice_days=14))
        )
        await t.ensure_subprocessor(SubProcessorEntry("rec-pay", "billing"))
        pending = SubProcessorRecord("rec-mail", "PendingNotice", notified_at=T1)
        out.append(await t.ensure_subprocessor_records(s.tenant_id, [pending]))
        accepted = SubProcessorRecord("rec-mail", "Active", notified_at=T1, effective_at=T1)
        pay = SubProcessorRecord("rec-pay", "PendingNotice", notified_at=T1)
        out.append(await t.ensure_subprocessor_records(s.tenant_id, [accepted, pay]))
        out.append(await t.ensure_subprocessor_records(s.tenant_id, [pay]))
        out.append(await t.ensure_subprocessor_records(s.tenant_id, [pay]))
        return out

    assert run(pg, body) == [
        ("registered sub-processor rec-mail",),
        ("updated sub-processor rec-mail",),
        ("added sub-processor record rec-mail (PendingNotice)",),
        (
            "updated sub-processor record rec-mail (Active)",
            "added sub-processor record rec-pay (PendingNotice)",
        ),
        ("removed sub-processor record rec-mail",),
        (),
    ]


def test_invite_token_is_256_bit_and_only_its_digest_is_stored(pg) -> None:
    async def body(t: PostgresTenants):
        s = await t.ensure_tenant("inv", organisation="I", plan="free", isolation="shared")
        owner = await t.ensure_owner_account(
            s.tenant_id, name="O", email="o@x.io", keys=ring(s.tenant_id), organisation="Org"
        )
        return s.tenant_id, owner.token

    tenant_id, token = run(pg, body)
    assert token is not None and len(token) >= 43  # 32 random bytes, urlsafe base64
    with pg.superuser() as su:
        row = su.execute(
            "SELECT invite_token_sha256, password_hash, row_to_json(a)::text"
            " FROM integraci.accounts a WHERE tenant_id = %s",
            [tenant_id],
        ).fetchone()
    assert row[0] == hashlib.sha256(token.encode()).digest()
    assert row[1] is None and token not in row[2]


def test_password_hash_accepts_only_bcrypt_cost_12(pg) -> None:
    async def body(t: PostgresTenants):
        s = await t.ensure_tenant("pw", organisation="P", plan="free", isolation="schema")
        await t.ensure_owner_account(
            s.tenant_id, name="O", email="o@x.io", keys=ring(s.tenant_id), organisation="Org"
        )
        return s

    s = run(pg, body)
    table = sql.Identifier(s.schema, "accounts")
    update = sql.SQL("UPDATE {} SET password_hash = %s").format(table)
    weak = "$2b$10$" + "a" * 53
    with psycopg.connect(pg.app_dsn) as conn:
        for bad in ("hunter2", weak, hashlib.sha256(b"x").hexdigest()):
            with (
                pytest.raises(psycopg.errors.CheckViolation),
                tenant_session_sync(conn, s.tenant_id),
            ):
                conn.execute(update, [bad])
        with tenant_session_sync(conn, s.tenant_id):
            assert conn.execute(update, [hash_password("correct horse")]).rowcount == 1


def test_connector_refs_must_be_openbao_references() -> None:
    with pytest.raises(PermanentError, match="openbao://"):
        ConnectorRecord("github", "github", {}, "ghp_plaintexttoken", 1)


def test_changing_isolation_is_refused(pg) -> None:
    async def body(t: PostgresTenants):
        await t.ensure_tenant("iso", organisation="I", plan="team", isolation="shared")
        await t.ensure_tenant("iso", organisation="I", plan="enterprise", isolation="schema")

    with pytest.raises(PermanentError, match="isolation cannot change") as info:
        run(pg, body)
    assert info.value.reason == "IsolationImmutable"


@pytest.mark.parametrize("isolation", ["shared", "schema"])
def test_concurrent_provisions_converge_to_one_state(pg, isolation) -> None:
    slug = f"race-{isolation}"

    async def body(t: PostgresTenants):
        return await asyncio.gather(
            *(
                t.ensure_tenant(slug, organisation="R", plan="team", isolation=isolation)
                for _ in range(4)
            )
        )

    states = run(pg, body)
    assert len({s.tenant_id for s in states}) == 1
    assert sum(1 for s in states if s.changed) == 1
    with pg.superuser() as su:
        assert su.execute(
            "SELECT count(*) FROM integraci.tenants WHERE slug = %s", [slug]
        ).fetchone() == (1,)


def test_template_upgrade_across_several_schema_tenants(pg) -> None:
    old = TEMPLATE_VERSION - 1
    slugs = ["up-a", "up-b", "up-c"]

    async def stage(t: PostgresTenants):
        return [
            await t.ensure_tenant(s, organisation="U", plan="enterprise", isolation="schema")
            for s in slugs
        ]

    staged = run(pg, stage, template_version=old)
    assert {s.schema_version for s in staged} == {old}

    async def upgrade(t: PostgresTenants):
        versions = await t.upgrade_schemas()
        again = await t.upgrade_schemas()
        state = await t.ensure_tenant(
            "up-a", organisation="U", plan="enterprise", isolation="schema"
        )
        return versions, again, state

    versions, again, state = run(pg, upgrade)
    assert {s: versions[s] for s in slugs} == dict.fromkeys(slugs, TEMPLATE_VERSION)
    assert again == versions and state.changed == ()
    with pg.superuser() as su:
        rows = su.execute(
            "SELECT table_schema FROM information_schema.columns"
            " WHERE table_name = 'accounts' AND column_name = 'last_login_at'"
        ).fetchall()
        recorded = su.execute(
            "SELECT slug, schema_version FROM integraci.tenants WHERE slug LIKE 'up-%%'"
        ).fetchall()
    assert {"t_up_a", "t_up_b", "t_up_c"} <= {r[0] for r in rows}
    assert sorted(recorded) == [(s, TEMPLATE_VERSION) for s in slugs]


def test_ensure_tenant_upgrades_a_stale_schema_and_says_so(pg) -> None:
    run(
        pg,
        lambda t: t.ensure_tenant("stale", organisation="S", plan="enterprise", isolation="schema"),
        template_version=1,
    )
    state = run(
        pg,
        lambda t: t.ensure_tenant("stale", organisation="S", plan="enterprise", isolation="schema"),
    )
    assert state.changed == (f"upgraded schema t_stale from v1 to v{TEMPLATE_VERSION}",)


@pytest.mark.parametrize("isolation", ["shared", "schema"])
def test_drop_tenant_erases_and_already_gone_is_success(pg, isolation) -> None:
    slug = f"gone-{isolation}"

    async def body(t: PostgresTenants):
        s = await t.ensure_tenant(slug, organisation="G", plan="team", isolation=isolation)
        await t.ensure_owner_account(
            s.tenant_id, name="O", email="o@x.io", keys=ring(s.tenant_id), organisation="Org"
        )
        return s, await t.drop_tenant(slug), await t.drop_tenant(slug)

    state, first, second = run(pg, body)
    assert (first, second) == (True, False)
    with pg.superuser() as su:
        accounts = su.execute(
            "SELECT count(*) FROM integraci.accounts WHERE tenant_id = %s", [state.tenant_id]
        ).fetchone()
        schema = su.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", [f"t_gone_{isolation}"]
        ).fetchone()
    assert accounts == (0,) and schema is None


HOSTILE = [
    "acme'; DROP TABLE tenants; --",
    'acme"',
    "acme;",
    "\u0430cme",  # Cyrillic a, a look-alike of "acme"
    "acme\u2024io",  # one-dot leader
    "ACME",
    "a" * 41,
    "",
    "../etc",
    "acme\x00",
]


@pytest.mark.parametrize("slug", HOSTILE)
def test_hostile_slugs_are_refused_before_any_sql(postgres_server, slug) -> None:
    """The pool points at a closed port: reaching SQL would be a RetryableError."""
    from tenant_operator.settings import Settings

    settings = Settings()

    async def main():
        pool = make_pool("postgresql://nobody@127.0.0.1:1/none", settings, timeout=0.5)
        t = PostgresTenants(pool, settings)
        with pytest.raises(PermanentError, match="slug") as info:
            await t.ensure_tenant(slug, organisation="x", plan="team", isolation="shared")
        assert info.value.reason == "InvalidName"
        with pytest.raises(PermanentError):
            await t.drop_tenant(slug)

    asyncio.run(main())


@pytest.mark.parametrize("name", ["git hub", "gh'", "gh;", "ġh", "x" * 64, "-gh"])
def test_hostile_connector_and_subprocessor_names_are_refused(name) -> None:
    with pytest.raises(PermanentError):
        ConnectorRecord(name, "github", {}, "openbao://t/kv/x", 1)
    with pytest.raises(PermanentError):
        SubProcessorRecord(name, "Active")


def test_unreachable_database_is_retryable_and_leaks_no_password() -> None:
    from tenant_operator.settings import Settings

    settings = Settings()

    async def main():
        dsn = "postgresql://op:s3cr3t-pw@127.0.0.1:1/none"
        pool = make_pool(dsn, settings, timeout=0.5)
        await pool.open()
        try:
            await PostgresTenants(pool, settings).ensure_tenant(
                "acme", organisation="A", plan="team", isolation="shared"
            )
        finally:
            await pool.close()

    with pytest.raises(RetryableError, match=r"PostgreSQL at 127\.0\.0\.1:1 is unreachable") as e:
        asyncio.run(main())
    assert "s3cr3t" not in str(e.value) and "s3cr3t" not in repr(e.value)
