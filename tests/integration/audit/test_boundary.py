"""Attacks on the audit chain's boundary, against the real PostgreSQL and OpenBao.

The attacker is a DBA (a PostgreSQL superuser): the append-only trigger is bypassed with
``session_replication_role = replica``. OpenBao, where every chain's head is mirrored and
every chain's digest key lives, is out of the DBA's reach. Each test asserts that the
attack is detected (or fails) and that nothing the operator wrote was lost.
"""

import asyncio
import hashlib
import io
from collections.abc import Iterator
from typing import Any

import hvac
import pytest

from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.migrations import migrate
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.adapters.postgres.verify_command import verify_audit_command
from tenant_operator.controller.deletion import apply_deletion_policy
from tenant_operator.controller.ports import Ports
from tenant_operator.domain.audit import GENESIS, canonical
from tests.support.openbao import operator_in, operator_token, run, settings_for, tenant_token
from tests.support.postgres import PgDatabase, make_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bao(openbao_server: OpenBaoServer) -> Iterator[OpenBaoTenants]:
    """The operator's OpenBao adapter, in a namespace of this module's own (fresh mirror)."""
    with operator_in(openbao_server, "audit-boundary") as adapter:
        yield adapter


def drive(pg: PgDatabase, bao: OpenBaoTenants, body: Any) -> Any:
    """Run ``body(ports)`` over real adapters: the audit log mirrors through OpenBao."""

    async def main() -> Any:
        async with pg.pool() as pool:
            ports = Ports(
                db=PostgresTenants(pool, pg.settings),
                audit=AuditLog(pool, pg.settings, vault=bao),
                bao=bao,
                k8s_secrets=None,  # type: ignore[arg-type]  # erasure reads no Secret
                verify_isolation=None,  # type: ignore[arg-type]
                tenants=None,  # type: ignore[arg-type]  # nor lists Tenants
            )
            return await body(ports)

    return asyncio.run(main())


def append(pg: PgDatabase, bao: OpenBaoTenants, tenant: str | None, details: list[Any]) -> None:
    async def body(ports: Ports) -> None:
        for i, detail in enumerate(details):
            await ports.audit.append(
                tenant, actor="op", action="ensure", target=f"thing-{i}", detail=detail
            )

    drive(pg, bao, body)


def erase(pg: PgDatabase, bao: OpenBaoTenants, slug: str) -> None:
    body = {"metadata": {"name": slug}, "spec": {"deletionPolicy": "Delete"}}

    async def go(ports: Ports) -> None:
        await apply_deletion_policy(body, ports)

    drive(pg, bao, go)


def verify(
    pg: PgDatabase, bao: OpenBaoTenants, tenant: str | None = None, **kw: Any
) -> tuple[int, str]:
    out = io.StringIO()
    code = asyncio.run(
        verify_audit_command(pg.operator_dsn, pg.settings, tenant, vault=bao, out=out, **kw)
    )
    return code, out.getvalue()


def tamper(pg: PgDatabase, statement: str, *params: object) -> None:
    with pg.superuser() as su, su.transaction():
        su.execute("SET LOCAL session_replication_role = replica")
        su.execute(statement, params)


def rows(pg: PgDatabase, chain: str) -> list[tuple[Any, ...]]:
    with pg.superuser() as su:
        return su.execute(
            "SELECT seq, action, detail, detail_digest, prev_hash, hash"
            " FROM integraci.audit_log WHERE chain = %s ORDER BY seq",
            [chain],
        ).fetchall()


def chains_of(pg: PgDatabase, slug: str) -> list[str]:
    with pg.superuser() as su:
        found = su.execute(
            "SELECT DISTINCT chain FROM integraci.audit_log WHERE chain = %s OR chain LIKE %s"
            " ORDER BY chain",
            [slug, slug + "@%"],
        ).fetchall()
    return [str(row[0]) for row in found]


# --- (1) a cut tail is named, whatever the chain --------------------------------------------


def test_a_cut_tail_of_a_tenant_chain_is_named_with_its_seq(pg, bao) -> None:
    append(pg, bao, "cut-tenant", [{"i": i} for i in range(5)])
    before = rows(pg, "cut-tenant")
    assert verify(pg, bao, "cut-tenant")[0] == 0
    tamper(pg, "DELETE FROM integraci.audit_log WHERE chain = %s AND seq >= 4", "cut-tenant")
    code, out = verify(pg, bao, "cut-tenant")
    assert code == 1, out
    assert "cut-tenant" in out and "BROKEN at seq 4" in out, out
    assert rows(pg, "cut-tenant") == before[:3]  # what is left is untouched


def test_a_cut_tail_of_the_platform_chain_is_named_with_its_seq(pg, bao) -> None:
    append(pg, bao, None, [{"sub": "x"}, {"sub": "y"}, {"sub": "z"}])
    last = rows(pg, "_platform")[-1][0]
    assert verify(pg, bao, None)[0] == 0
    tamper(pg, "DELETE FROM integraci.audit_log WHERE chain = '_platform' AND seq = %s", last)
    code, out = verify(pg, bao, None)
    assert code == 1, out
    assert f"BROKEN at seq {last}" in out and "platform" in out, out


def test_the_deletion_entries_of_an_erased_tenant_cannot_be_cut_unnoticed(pg, bao) -> None:
    append(pg, bao, "cut-erased", [{"email": "a@example.com"}])
    erase(pg, bao, "cut-erased")
    (chain,) = chains_of(pg, "cut-erased")
    erased = [row for row in rows(pg, chain) if row[1] == "tenant.erased"]
    assert len(erased) == 1
    assert f"audit chain {chain!r}: OK," in verify(pg, bao, all_chains=True)[1]
    tamper(pg, "DELETE FROM integraci.audit_log WHERE chain = %s AND seq = %s", chain, erased[0][0])
    code, out = verify(pg, bao, all_chains=True)
    assert code == 1, out
    assert f"audit chain {chain!r}: BROKEN at seq {erased[0][0]}" in out, out


def test_a_chain_cut_whole_is_reported_by_all_from_its_mirror(pg, bao) -> None:
    append(pg, bao, "cut-whole", [{"i": 1}, {"i": 2}])
    tamper(pg, "DELETE FROM integraci.audit_log WHERE chain = 'cut-whole'")
    tamper(pg, "DELETE FROM integraci.audit_chains WHERE chain = 'cut-whole'")  # no trace left
    code, out = verify(pg, bao, all_chains=True)
    assert code == 1, out
    assert "audit chain 'cut-whole': BROKEN at seq 1" in out, out


def test_verify_all_on_an_intact_database_says_ok_per_chain(
    postgres_server: PostgresServer, openbao_server: OpenBaoServer
) -> None:
    fresh = make_database(postgres_server, "audit_boundary_intact")
    settings = settings_for(openbao_server, "namespace").model_copy(
        update={"bao_namespace": "audit-boundary-intact"}
    )
    fresh_bao = OpenBaoTenants(settings, token=operator_token(openbao_server, settings))
    try:
        append(fresh, fresh_bao, "intact-a", [{"i": 1}, {"i": 2}])
        append(fresh, fresh_bao, "intact-b", [{"i": 3}])
        append(fresh, fresh_bao, None, [{"sub": "s"}])
        code, out = verify(fresh, fresh_bao, all_chains=True)
    finally:
        fresh_bao.close()
    assert code == 0, out
    lines = sorted(out.strip().splitlines())
    assert len(lines) == 3, out
    assert all(": OK," in line for line in lines), out


# --- (2) a redacted detail cannot be recovered by guessing ----------------------------------


def test_a_redacted_detail_cannot_be_recovered_from_its_digest(pg, bao) -> None:
    secret = {"email": "jane.doe@example.com", "name": "Jane Doe"}
    append(pg, bao, "guess-me", [secret])
    erase(pg, bao, "guess-me")
    (chain,) = chains_of(pg, "guess-me")
    first = rows(pg, chain)[0]
    assert first[2] is None  # redacted
    guess = hashlib.sha256(canonical(secret)).hexdigest()
    assert first[3] != guess, "the digest of a redacted detail gives the detail away"
    code, out = verify(pg, bao, "guess-me", chain=chain)
    assert code == 0, out


# --- (3) a re-created slug starts a new chain -----------------------------------------------


def test_a_recreated_slug_starts_a_new_chain_and_the_old_one_still_verifies(pg, bao) -> None:
    append(pg, bao, "reborn", [{"i": 1}, {"i": 2}])
    erase(pg, bao, "reborn")
    (old,) = chains_of(pg, "reborn")
    old_rows = rows(pg, old)
    append(pg, bao, "reborn", [{"again": True}])
    chains = chains_of(pg, "reborn")
    assert rows(pg, old) == old_rows, "the re-created tenant continued the erased one's chain"
    (new,) = [c for c in chains if c != old]
    first = rows(pg, new)
    assert [(r[0], r[4]) for r in first] == [(1, GENESIS)]
    assert verify(pg, bao, "reborn", chain=old)[0] == 0
    assert verify(pg, bao, "reborn")[0] == 0


def test_a_tenant_token_reaches_neither_its_digest_key_nor_its_mirrored_head(
    pg, bao, openbao_server
) -> None:
    append(pg, bao, "keyholder", [{"i": 1}])
    own = tenant_token(openbao_server, bao, "keyholder")
    key = run(bao.read_audit_key("keyholder"))
    for namespace in (own.adapter.namespace, bao.settings.bao_namespace):
        client = hvac.Client(
            url=openbao_server.addr,
            verify=str(openbao_server.ca_cert),
            token=own.token,
            namespace=namespace,
        )
        for path in ("audit/keys/tenants/keyholder", "audit/tenants/keyholder"):
            with pytest.raises((hvac.exceptions.Forbidden, hvac.exceptions.InvalidPath)):
                client.adapter.get(f"/v1/platform/data/{path}")
            with pytest.raises((hvac.exceptions.Forbidden, hvac.exceptions.InvalidPath)):
                client.adapter.post(f"/v1/platform/data/{path}", json={"data": {"seq": "9"}})
    assert run(bao.read_audit_key("keyholder")) == key  # unchanged
    assert verify(pg, bao, "keyholder")[0] == 0


def test_the_upgrade_keeps_existing_chains_and_closes_those_already_erased(
    postgres_server: PostgresServer,
) -> None:
    """Chains written before platform step 6 keep their names; an erased one is closed."""
    old = make_database(postgres_server, "audit_boundary_upgrade")

    async def before(pool: Any) -> None:
        log = AuditLog(pool, old.settings)
        await log.append("live", actor="op", action="ensure", target="t", detail={"i": 1})
        await log.append("dead", actor="op", action="ensure", target="t", detail={"i": 2})
        await log.append("dead", actor="op", action="tenant.erased", target="t", detail={})

    async def upgrade(pool: Any) -> tuple[str, str, str]:
        await migrate(pool, old.settings)
        log = AuditLog(pool, old.settings)
        await log.append("dead", actor="op", action="ensure", target="t", detail={"i": 3})
        return (
            await log.chain_name("live", open_=True),
            await log.chain_name("dead"),
            await log.chain_name(None),
        )

    async def main(body: Any) -> Any:
        async with old.pool() as pool:
            return await body(pool)

    asyncio.run(main(before))
    stored = rows(old, "dead")
    with old.superuser() as su:  # back to a database from before step 6, its rows kept
        su.execute("DROP FUNCTION integraci.open_audit_chain(text)")
        su.execute("DROP TABLE integraci.audit_chains")
        su.execute("DELETE FROM integraci.migrations WHERE component = 'platform' AND version = 6")
    live, dead, platform = asyncio.run(main(upgrade))
    assert (live, platform) == ("live", "_platform")
    assert dead.startswith("dead@") and rows(old, dead)[0][0] == 1
    assert rows(old, "dead") == stored  # the erased chain is closed, untouched


def test_a_closed_chain_reopened_by_the_dba_is_named_and_its_mirror_does_not_move(pg, bao) -> None:
    append(pg, bao, "reopened", [{"i": 1}])
    erase(pg, bao, "reopened")
    (chain,) = chains_of(pg, "reopened")
    closed = rows(pg, chain)
    mirrored = run(bao.read_audit_head(chain))
    assert mirrored == (closed[-1][0], closed[-1][5]) and run(bao.audit_head_closed(chain))
    with pg.superuser() as su:  # the DBA reopens it: the re-created tenant would continue it
        su.execute("UPDATE integraci.audit_chains SET closed_at = NULL WHERE chain = %s", [chain])
    append(pg, bao, "reopened", [{"again": True}])
    assert rows(pg, chain)[: len(closed)] == closed
    assert run(bao.read_audit_head(chain)) == mirrored  # the mirror did not follow
    code, out = verify(pg, bao, chain=chain)
    assert code == 1, out
    assert f"audit chain {chain!r}: BROKEN at seq {len(closed) + 1}: appended after" in out, out
