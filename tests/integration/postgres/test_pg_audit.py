"""The audit log against real PostgreSQL: tamper evidence, redaction, append-only."""

import asyncio
import io

import psycopg
import pytest
from psycopg import sql

from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.adapters.postgres.verify_command import verify_audit_command
from tenant_operator.domain.audit import PLATFORM_CHAIN

pytestmark = pytest.mark.integration


def run(pg, body):
    async def main():
        async with pg.pool() as pool:
            return await body(AuditLog(pool, pg.settings), pool)

    return asyncio.run(main())


def fill(pg, tenant: str | None, n: int = 6) -> None:
    async def body(log: AuditLog, _):
        for i in range(1, n + 1):
            await log.append(
                tenant,
                actor="operator",
                action="ensure",
                target=f"thing-{i}",
                detail={"i": i, "email": "jane@acme.example"},
            )

    run(pg, body)


def verify(pg, tenant: str | None) -> tuple[int, str]:
    out = io.StringIO()
    code = asyncio.run(verify_audit_command(pg.operator_dsn, pg.settings, tenant, out=out))
    return code, out.getvalue()


def as_superuser(pg, statement: str, *params: object) -> None:
    """Tamper the way only a superuser can: with the append-only trigger disabled."""
    with pg.superuser() as su, su.transaction():
        su.execute("SET LOCAL session_replication_role = replica")
        su.execute(statement, params)


def test_appends_chain_per_tenant_and_platform(pg) -> None:
    async def body(log: AuditLog, _):
        a1 = await log.append("chain-a", actor="op", action="x", target="t", detail={})
        p1 = await log.append(None, actor="op", action="x", target="t", detail={"k": "v"})
        a2 = await log.append("chain-a", actor="op", action="y", target="t", detail={})
        return a1, p1, a2, await log.head("chain-a"), await log.verify(None)

    a1, p1, a2, head, platform = run(pg, body)
    assert (a1.seq, p1.seq, a2.seq) == (1, 1, 2)
    assert head == a2 and platform.ok
    assert verify(pg, "chain-a") == (
        0,
        f"audit chain 'chain-a': OK, 2 entries verified, head seq 2 sha256:{a2.hash}, "
        "not compared with a mirror\n",
    )


def test_concurrent_appends_serialize_per_chain(pg) -> None:
    async def body(log: AuditLog, _):
        heads = await asyncio.gather(
            *(
                log.append(slug, actor="op", action="a", target="t", detail={"i": i})
                for i in range(20)
                for slug in ("conc-a", "conc-b")
            )
        )
        return heads, await log.verify("conc-a"), await log.verify("conc-b")

    heads, va, vb = run(pg, body)
    assert va.ok and vb.ok and va.checked == vb.checked == 20
    assert sorted(h.seq for h in heads) == sorted(list(range(1, 21)) * 2)


def test_tampered_row_is_a_hash_mismatch_at_its_seq(pg) -> None:
    fill(pg, "tamper")
    as_superuser(
        pg,
        "UPDATE integraci.audit_log SET target = 'forged' WHERE chain = %s AND seq = 4",
        "tamper",
    )
    code, report = verify(pg, "tamper")
    assert code == 1
    assert report.startswith("audit chain 'tamper': BROKEN at seq 4: hash mismatch")


def test_tampered_detail_is_detected(pg) -> None:
    fill(pg, "tamper-detail")
    as_superuser(
        pg,
        "UPDATE integraci.audit_log SET detail = '{\"i\": 99}' WHERE chain = %s AND seq = 2",
        "tamper-detail",
    )
    assert "BROKEN at seq 2: detail mismatch" in verify(pg, "tamper-detail")[1]


def test_deleted_middle_row_is_a_gap(pg) -> None:
    fill(pg, "deleted")
    as_superuser(pg, "DELETE FROM integraci.audit_log WHERE chain = %s AND seq = 3", "deleted")
    code, report = verify(pg, "deleted")
    assert code == 1 and "BROKEN at seq 3: gap: entry 3 is missing" in report


def test_reordered_rows_are_detected(pg) -> None:
    fill(pg, "reorder")
    for a, b in ((2, 1000), (5, 2), (1000, 5)):  # swap seq 2 and 5
        as_superuser(
            pg,
            "UPDATE integraci.audit_log SET seq = %s WHERE chain = %s AND seq = %s",
            b,
            "reorder",
            a,
        )
    code, report = verify(pg, "reorder")
    assert code == 1 and "BROKEN at seq 2: reordered" in report


def test_redaction_keeps_the_chain_valid(pg) -> None:
    fill(pg, "erase-me")

    async def body(log: AuditLog, pool):
        before = await log.head("erase-me")
        dropped = await PostgresTenants(pool, pg.settings).drop_tenant("erase-me")
        return before, dropped, await log.redact("erase-me"), await log.rows("erase-me")

    before, dropped, again, rows = run(pg, body)
    assert dropped is False and again == 0  # no tenant row; drop_tenant still redacted
    assert len(rows) == 6 and all(r.detail is None for r in rows)
    code, report = verify(pg, "erase-me")
    assert code == 0 and f"head seq 6 sha256:{before.hash}" in report


@pytest.mark.parametrize("who", ["operator", "app"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE integraci.audit_log SET action = 'forged'",
        "UPDATE integraci.audit_log SET detail = '{}'",
        "DELETE FROM integraci.audit_log",
        "TRUNCATE integraci.audit_log",
    ],
)
def test_update_delete_truncate_are_refused(pg, who, statement) -> None:
    fill(pg, "locked", 1)
    dsn = pg.operator_dsn if who == "operator" else pg.app_dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        if who == "operator":  # even after taking the owner role
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(pg.settings.owner_role))
                )
                conn.execute(statement)


def test_trigger_refuses_even_a_superuser(pg) -> None:
    fill(pg, "su", 1)
    with pg.superuser() as su:
        for statement in (
            "UPDATE integraci.audit_log SET action = 'x'",
            "DELETE FROM integraci.audit_log",
            "TRUNCATE integraci.audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                su.execute(statement)


def test_app_role_cannot_redact_or_disable_the_trigger(pg) -> None:
    with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
        for statement in (
            "SELECT integraci.redact_audit('locked')",
            "ALTER TABLE integraci.audit_log DISABLE TRIGGER audit_log_append_only",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_verify_command_reports_bad_input_and_empty_chains(pg) -> None:
    assert verify(pg, "nobody-here") == (
        0,
        "audit chain 'nobody-here': OK, 0 entries verified (empty chain), "
        "not compared with a mirror\n",
    )
    code, report = verify(pg, "Bad'Slug")
    assert code == 2 and "cannot verify" in report
    assert PLATFORM_CHAIN.startswith("_")  # can never collide with a slug
