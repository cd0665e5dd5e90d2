"""Crypto-shredding against the real PostgreSQL and OpenBao: personal data only sealed.

Provisioning writes names, emails and the organisation sealed with a data key made by the
tenant's transit key; a real ``pg_dump`` holds none of them in plaintext (both tiers); a
dump taken before the tenant's erasure holds wrapped keys that no longer unwrap once the
transit key is destroyed; a sealed value moved to another tenant does not open; the
data-key policy unwraps one tenant's keys only; re-sealing after a rotation leaves the
old key useless; the application role cannot write plaintext or data keys.
"""

import subprocess
import uuid
from types import SimpleNamespace
from typing import Any, cast

import hvac
import psycopg
import pytest
from psycopg import sql

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.openbao.paths import build_tenant_paths
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.appkit import (
    OpenBaoUnwrapper,
    find_account_by_email_sync,
    insert_account_sync,
    open_account,
    tenant_keys_sync,
    tenant_session_sync,
)
from tenant_operator.controller.keys import key_ring
from tenant_operator.controller.ports import Ports
from tenant_operator.domain import envelope
from tenant_operator.domain.envelope import DataKey, KeyRing, Unreadable
from tenant_operator.domain.errors import OperatorError
from tests.support.openbao import root_in, run
from tests.support.postgres import PgDatabase, make_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> PgDatabase:
    return make_database(postgres_server, request.module.__name__)


def planted(slug: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "name": f"Zebulon Planted{tag}",
        "email": f"planted.{tag}@pii.example",
        "organisation": f"Plantedorg {tag} Ltd",
        "member": f"member.{tag}@pii.example",
        "member_name": f"Mabel Planted{tag}",
    }


def provision(
    pg: PgDatabase, bao: OpenBaoTenants, slug: str, isolation: str, values: dict[str, str]
) -> tuple[uuid.UUID, str | None, KeyRing]:
    """What a reconcile does for personal data: registry, transit key, key ring, owner,
    and one member account written by the application through appkit."""

    async def body() -> tuple[uuid.UUID, str | None, KeyRing]:
        async with pg.tenants() as db:
            state = await db.ensure_tenant(
                slug, organisation=values["organisation"], plan="team", isolation=isolation
            )
            await bao.ensure_tenant(slug)
            ports = cast(Ports, SimpleNamespace(db=db, bao=bao))
            keys = await key_ring(ports, slug, state.tenant_id)
            await db.ensure_owner_account(
                state.tenant_id,
                name=values["name"],
                email=values["email"],
                keys=keys,
                organisation=values["organisation"],
            )
            return state.tenant_id, state.schema, keys

    tenant_id, schema, keys = run(body())
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, tenant_id):
        insert_account_sync(
            conn,
            keys,
            schema=schema or pg.settings.platform_schema,
            email=values["member"],
            name=values["member_name"],
        )
    return tenant_id, schema, keys


def pg_dump(pg: PgDatabase) -> str:
    binary = pg.server.bin_dir / "pg_dump"
    out = subprocess.run(
        [str(binary), "--dbname", pg.superuser_dsn, "--no-owner"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def leaks(dump: str, values: dict[str, str]) -> list[str]:
    text = dump.casefold()
    return [k for k, v in values.items() if v.casefold() in text or v.encode().hex() in text]


@pytest.fixture
def bao(settings: Any, operator_tokens: dict[str, str]) -> Any:
    adapter = OpenBaoTenants(settings, token=operator_tokens[settings.secrets_layout])
    yield adapter
    adapter.close()


@pytest.mark.parametrize("isolation", ["shared", "schema"])
def test_no_name_email_or_organisation_in_plaintext_in_a_dump(pg, bao, layout, isolation) -> None:
    slug = f"pii-{layout[0]}-{isolation}"
    values = planted(slug)
    tenant_id, schema, keys = provision(pg, bao, slug, isolation, values)
    dump = pg_dump(pg)
    assert slug in dump and str(tenant_id) in dump  # the dump holds the tenant's rows
    assert leaks(dump, values) == []
    # ... and yet they are there, sealed: the tenant's ring opens them
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, tenant_id):
        where = schema or pg.settings.platform_schema
        owner = find_account_by_email_sync(conn, keys, values["email"].upper(), schema=where)
        member = find_account_by_email_sync(conn, keys, f" {values['member']} ", schema=where)
    assert owner is not None and owner.name == values["name"] and owner.is_owner
    assert member is not None and member.name == values["member_name"]
    with pg.superuser() as su:
        org = su.execute(
            "SELECT organisation, organisation_enc FROM integraci.tenants WHERE id = %s",
            [tenant_id],
        ).fetchone()
    assert org is not None and org[0] is None
    assert keys.open(bytes(org[1]), envelope.ORGANISATION) == values["organisation"]


def test_a_dump_taken_before_the_deletion_no_longer_opens(pg, bao, layout) -> None:
    slug = f"pii-{layout[0]}-shred"
    values = planted(slug)
    tenant_id, _, _ = provision(pg, bao, slug, "shared", values)
    with pg.superuser() as su:
        wrapped = su.execute(
            "SELECT wrapped FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id]
        ).fetchall()
        sealed_email = su.execute(
            "SELECT email_enc FROM integraci.accounts WHERE tenant_id = %s AND is_owner",
            [tenant_id],
        ).fetchone()
    dump = pg_dump(pg)
    assert wrapped and all(w in dump for (w,) in wrapped)  # the backup holds them
    assert sealed_email is not None and bytes(sealed_email[0]).hex() in dump
    assert leaks(dump, values) == []

    async def erase() -> None:  # deletionPolicy Delete: what controller.deletion does
        async with pg.tenants() as db:
            assert await db.drop_tenant(slug)
        assert await bao.drop_tenant(slug)

    run(erase())
    for (w,) in wrapped:
        with pytest.raises(OperatorError):  # the transit key is gone: nothing unwraps
            run(bao.unwrap_data_key(slug, w))
    # a tenant re-created under the slug gets a new transit key: the old keys stay dead
    run(bao.ensure_tenant(slug))
    for (w,) in wrapped:
        with pytest.raises(OperatorError):
            run(bao.unwrap_data_key(slug, w))
    run(bao.drop_tenant(slug))


def test_a_sealed_value_copied_into_another_tenants_row_does_not_open(pg, bao, layout) -> None:
    a_values, b_values = planted("a"), planted("b")
    a_id, _, _ = provision(pg, bao, f"pii-{layout[0]}-copy-a", "shared", a_values)
    b_id, _, b_keys = provision(pg, bao, f"pii-{layout[0]}-copy-b", "shared", b_values)
    with pg.superuser() as su:
        su.execute(
            "UPDATE integraci.accounts b SET email_enc = a.email_enc, name_enc = a.name_enc"
            " FROM integraci.accounts a"
            " WHERE a.tenant_id = %s AND a.is_owner AND b.tenant_id = %s AND NOT b.is_owner",
            [a_id, b_id],
        )
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, b_id):
        row = conn.execute(
            "SELECT id, email_enc, name_enc, is_owner, password_hash FROM integraci.accounts"
            " WHERE tenant_id = %s AND NOT is_owner",
            [b_id],
        ).fetchone()
    assert row is not None
    with pytest.raises(Unreadable):
        open_account(b_keys, row)


def data_key_token(server: OpenBaoServer, settings: Any, slug: str) -> str:
    paths = build_tenant_paths(settings, slug)
    client = root_in(server, settings.bao_namespace)
    answer = client.auth.token.create(
        policies=[paths.data_key_policy], ttl="10m", no_default_policy=True
    )
    return str(answer["auth"]["client_token"])


def test_the_data_key_policy_unwraps_its_tenants_keys_only(
    pg, bao, layout, settings, openbao_server, bao_secrets
) -> None:
    a, b = f"pii-{layout[0]}-dk-a", f"pii-{layout[0]}-dk-b"
    a_id, _, a_keys = provision(pg, bao, a, "shared", planted(a))
    b_id, _, _ = provision(pg, bao, b, "shared", planted(b))
    token = data_key_token(openbao_server, settings, a)
    bao_secrets.add(token)
    problems = run(bao.verify_tenant(a))
    assert not [p for p in problems if "data-key" in p]
    with pg.superuser() as su:
        (a_wrapped,), (b_wrapped,) = (
            su.execute(
                "SELECT wrapped FROM integraci.tenant_keys WHERE tenant_id = %s", [t]
            ).fetchone()
            for t in (a_id, b_id)
        )

    def unwrapper(slug: str) -> OpenBaoUnwrapper:
        return OpenBaoUnwrapper(
            openbao_server.addr,
            slug,
            token=token,
            transit=settings.transit_mount,
            namespace=settings.bao_namespace,
            cafile=str(openbao_server.ca_cert),  # https, verified: no plaintext allowed
        )

    assert unwrapper(a).unwrap(a_wrapped) == a_keys.current.material
    with pytest.raises(Unreadable, match="HTTP 403"):
        unwrapper(b).unwrap(b_wrapped)
    client = hvac.Client(
        url=openbao_server.addr,
        verify=str(openbao_server.ca_cert),
        token=token,
        namespace=settings.bao_namespace,
    )
    transit, key = settings.transit_mount, f"tenant-{a}"
    for attempt in (
        lambda: client.adapter.post(f"/v1/{transit}/datakey/plaintext/{key}"),
        lambda: client.adapter.post(f"/v1/{transit}/keys/{key}/rotate"),
        lambda: client.adapter.get(f"/v1/{transit}/keys/{key}"),
        lambda: client.adapter.post(f"/v1/{transit}/encrypt/{key}", json={"plaintext": "eA=="}),
    ):
        with pytest.raises(hvac.exceptions.Forbidden):
            attempt()
    # the application's round trip, keys unwrapped with that token
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, a_id):
        keys = tenant_keys_sync(conn, unwrapper(a))
        new_id = insert_account_sync(
            conn, keys, schema="integraci", email="Round.Trip@pii.example", name="Rita"
        )
        found = find_account_by_email_sync(conn, keys, "round.trip@PII.example", schema="integraci")
    assert found is not None and (found.id, found.email, found.name) == (
        new_id,
        "Round.Trip@pii.example",
        "Rita",
    )
    with (
        psycopg.connect(pg.app_dsn) as conn,
        tenant_session_sync(conn, b_id),
        pytest.raises(Unreadable),
    ):
        tenant_keys_sync(conn, unwrapper(b))  # tenant B's keys are not this token's


def test_reseal_after_rotation_opens_with_the_new_ring_only(pg, bao, layout) -> None:
    slug = f"pii-{layout[0]}-rot"
    values = planted(slug)
    tenant_id, _, old = provision(pg, bao, slug, "shared", values)
    with pg.superuser() as su:
        (old_wrapped,) = su.execute(
            "SELECT wrapped FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id]
        ).fetchone()

    async def rotate() -> tuple[KeyRing, str, int, list[tuple[int, str]]]:
        latest = await bao.rotate_tenant_key(slug)
        wrapped, material = await bao.new_data_key(slug)
        new = KeyRing.of(tenant_id, [DataKey(2, material)])
        async with pg.tenants() as db:
            count = await db.reseal(tenant_id, old, new, 2, wrapped)
            return new, wrapped, latest, [(count, ""), *await db.tenant_keys(tenant_id)]

    new, wrapped, latest, (counted, *stored) = run(rotate())
    assert latest == 2 and wrapped.startswith("vault:v2:")
    assert counted[0] == 3 and stored == [(2, wrapped)]  # owner, member, organisation
    with psycopg.connect(pg.app_dsn) as conn, tenant_session_sync(conn, tenant_id):
        rows = conn.execute(
            "SELECT id, email_enc, name_enc, is_owner, password_hash FROM integraci.accounts"
            " WHERE tenant_id = %s",
            [tenant_id],
        ).fetchall()
        assert find_account_by_email_sync(conn, new, values["email"], schema="integraci")
        assert find_account_by_email_sync(conn, old, values["email"], schema="integraci") is None
    assert sorted(open_account(new, r).email for r in rows) == sorted(
        [values["email"], values["member"]]
    )
    for row in rows:
        with pytest.raises(Unreadable):
            open_account(old, row)
    # once the backup window passed: trim, and a backup's old wrapped key is dead too
    assert run(bao.unwrap_data_key(slug, old_wrapped)) == old.current.material
    run(bao.trim_tenant_key(slug, 2))
    with pytest.raises(OperatorError):
        run(bao.unwrap_data_key(slug, old_wrapped))
    assert run(bao.unwrap_data_key(slug, wrapped)) == new.current.material


def test_app_role_cannot_write_plaintext_or_data_keys(pg, bao, layout) -> None:
    slug = f"pii-{layout[0]}-app"
    tenant_id, _, keys = provision(pg, bao, slug, "shared", planted(slug))
    enc, name_enc, bidx = (
        keys.seal("x@y.example", envelope.ACCOUNT_EMAIL),
        keys.seal("X", envelope.ACCOUNT_NAME),
        keys.blind_index("x@y.example"),
    )
    attempts = [
        (
            "INSERT INTO integraci.accounts (tenant_id, email, name)"
            " VALUES (%s, 'p@y.example', 'P')",
            [tenant_id],
        ),
        ("UPDATE integraci.accounts SET email = 'p@y.example' WHERE tenant_id = %s", [tenant_id]),
        (
            "INSERT INTO integraci.tenant_keys (tenant_id, version, wrapped)"
            " VALUES (%s, 9, 'vault:v1:forged')",
            [tenant_id],
        ),
        ("DELETE FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id]),
    ]
    with psycopg.connect(pg.app_dsn) as conn:
        for statement, params in attempts:
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege),
                tenant_session_sync(conn, tenant_id),
            ):
                conn.execute(statement, params)
    # the CHECK holds for a role with the privilege too (the owner role: the operator's)
    owner = sql.Identifier(pg.settings.owner_role)
    with psycopg.connect(pg.superuser_dsn) as conn:
        for columns, values in (
            ("email, name", ["p@y.example", "P"]),
            (
                "email, name, email_enc, name_enc, email_bidx",
                ["p@y.example", "P", enc, name_enc, bidx],
            ),
        ):
            with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(owner))
                conn.execute("SELECT set_config('integraci.tenant_id', %s, true)", [str(tenant_id)])
                conn.execute(
                    sql.SQL(
                        "INSERT INTO integraci.accounts (tenant_id, {}) VALUES (%s, {})"
                    ).format(
                        sql.SQL(columns),
                        sql.SQL(", ").join(sql.Placeholder() * len(values)),
                    ),
                    [tenant_id, *values],
                )
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute(
                "UPDATE integraci.tenants SET organisation_enc = NULL WHERE id = %s", [tenant_id]
            )
            conn.execute(
                "INSERT INTO integraci.tenants (slug, organisation, plan, isolation)"
                " VALUES ('pii-plain-org', 'Plain Ltd', 'team', 'shared')"
            )
