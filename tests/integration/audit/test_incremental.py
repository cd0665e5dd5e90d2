"""Incremental verification of a tenant's chain from the head mirrored in OpenBao.

Attacks are made the way only a superuser can (the append-only trigger bypassed with
``session_replication_role = replica``), against the real PostgreSQL and OpenBao.
"""

import io

import pytest

from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.verify_command import verify_audit_command
from tenant_operator.controller.chain import ChainCheck, check_chain
from tenant_operator.domain.audit import entry_hash
from tests.integration.audit.conftest import ChainPorts, drive
from tests.support.openbao import run
from tests.support.postgres import PgDatabase

pytestmark = pytest.mark.integration


def append(pg: PgDatabase, bao: OpenBaoTenants, slug: str, n: int) -> None:
    async def body(ports: ChainPorts) -> None:
        for i in range(n):
            await ports.audit.append(
                slug, actor="op", action="ensure", target=f"thing-{i}", detail={"i": i}
            )

    drive(pg, bao, body)


def reconcile_audit(pg: PgDatabase, bao: OpenBaoTenants, slug: str) -> ChainCheck:
    """What the reconcile's audit step does: check, then mirror the head if it verified."""

    async def body(ports: ChainPorts) -> ChainCheck:
        check = await check_chain(ports, slug)  # type: ignore[arg-type]
        if check.problem is None and check.head and check.head != check.mirrored:
            await ports.bao.mirror_audit_head(slug, check.head.seq, check.head.hash)
        return check

    result: ChainCheck = drive(pg, bao, body)
    return result


def tamper(pg: PgDatabase, statement: str, *params: object) -> None:
    with pg.superuser() as su, su.transaction():
        su.execute("SET LOCAL session_replication_role = replica")
        su.execute(statement, params)


def checkpointed(pg: PgDatabase, bao: OpenBaoTenants, slug: str, n: int) -> ChainCheck:
    """A chain of ``n`` entries, verified from genesis once, its head now mirrored."""
    append(pg, bao, slug, n)
    first = reconcile_audit(pg, bao, slug)
    assert first.problem is None and first.mirrored is None and first.checked == n
    assert run(bao.read_audit_head(slug)) == (n, first.head.hash)  # type: ignore[union-attr]
    return first


def test_appends_after_the_checkpoint_verify_and_only_they_are_read(pg, bao) -> None:
    checkpointed(pg, bao, "inc-grow", 40)
    append(pg, bao, "inc-grow", 3)
    grown = reconcile_audit(pg, bao, "inc-grow")
    assert grown.problem is None
    assert (grown.mirrored.seq, grown.head.seq, grown.checked) == (40, 43, 4)  # type: ignore[union-attr]
    assert run(bao.read_audit_head("inc-grow")) == (43, grown.head.hash)  # type: ignore[union-attr]
    idle = reconcile_audit(pg, bao, "inc-grow")
    assert (idle.problem, idle.checked, idle.head) == (None, 1, grown.head)


def test_a_tampered_entry_after_the_checkpoint_is_broken_at_its_seq(pg, bao) -> None:
    checkpointed(pg, bao, "inc-tamper", 5)
    append(pg, bao, "inc-tamper", 3)
    tamper(
        pg,
        "UPDATE integraci.audit_log SET target = 'forged' WHERE chain = %s AND seq = 7",
        "inc-tamper",
    )
    check = reconcile_audit(pg, bao, "inc-tamper")
    assert check.problem == (
        "AuditChainBroken",
        "entry 7: hash mismatch: the entry's fields do not hash to its stored hash",
    )
    assert run(bao.read_audit_head("inc-tamper"))[0] == 5  # type: ignore[index]  # not advanced


def test_a_tampered_detail_after_the_checkpoint_is_detected(pg, bao) -> None:
    checkpointed(pg, bao, "inc-detail", 4)
    append(pg, bao, "inc-detail", 2)
    tamper(
        pg,
        "UPDATE integraci.audit_log SET detail = '{\"i\": 42}' WHERE chain = %s AND seq = 6",
        "inc-detail",
    )
    problem = reconcile_audit(pg, bao, "inc-detail").problem
    assert problem is not None and problem[1].startswith("entry 6: detail mismatch")


def test_a_tail_cut_below_the_mirrored_head_is_a_head_mismatch(pg, bao) -> None:
    checkpointed(pg, bao, "inc-cut", 6)
    tamper(pg, "DELETE FROM integraci.audit_log WHERE chain = %s AND seq >= 5", "inc-cut")
    check = reconcile_audit(pg, bao, "inc-cut")
    assert check.problem is not None and check.problem[0] == "AuditHeadMismatch"
    assert "entry 6" in check.problem[1] and "missing" in check.problem[1]
    assert check.head is not None and check.head.seq == 4  # the status shows what is left


def test_a_cut_of_the_whole_chain_is_a_head_mismatch(pg, bao) -> None:
    checkpointed(pg, bao, "inc-gone", 3)
    tamper(pg, "DELETE FROM integraci.audit_log WHERE chain = %s", "inc-gone")
    check = reconcile_audit(pg, bao, "inc-gone")
    assert check.problem is not None and check.problem[0] == "AuditHeadMismatch"
    assert check.head is None


def rewrite_entry(pg: PgDatabase, slug: str, seq: int, target: str) -> str:
    """Change an entry's target and store the hash its new fields really have."""
    with pg.superuser() as su:
        row = su.execute(
            "SELECT at, actor, action, detail_digest, prev_hash FROM integraci.audit_log"
            " WHERE chain = %s AND seq = %s",
            [slug, seq],
        ).fetchone()
    assert row is not None
    at, actor, action, digest, prev = row
    forged = entry_hash(
        prev, seq=seq, at=at, actor=actor, action=action, target=target, digest=digest
    )
    tamper(
        pg,
        "UPDATE integraci.audit_log SET target = %s, hash = %s WHERE chain = %s AND seq = %s",
        target,
        forged,
        slug,
        seq,
    )
    return forged


def test_a_rewritten_checkpoint_row_is_a_head_mismatch(pg, bao) -> None:
    checkpointed(pg, bao, "inc-rewrite", 5)
    rewrite_entry(pg, "inc-rewrite", 5, "forged")  # self-consistent, but not the mirrored hash
    check = reconcile_audit(pg, bao, "inc-rewrite")
    assert check.problem is not None and check.problem[0] == "AuditHeadMismatch"
    assert "entry 5" in check.problem[1] and "rewritten" in check.problem[1]


def test_a_checkpoint_row_changed_under_its_hash_is_broken(pg, bao) -> None:
    checkpointed(pg, bao, "inc-pinned", 5)
    tamper(
        pg,
        "UPDATE integraci.audit_log SET actor = 'mallory' WHERE chain = %s AND seq = 5",
        "inc-pinned",
    )
    assert reconcile_audit(pg, bao, "inc-pinned").problem == (
        "AuditChainBroken",
        "entry 5: hash mismatch: the entry's fields do not hash to its stored hash",
    )


def test_history_rewritten_up_to_the_checkpoint_is_a_head_mismatch(pg, bao) -> None:
    checkpointed(pg, bao, "inc-history", 6)
    # Rewrite entry 2 and recompute every later hash, as a careful attacker would: the
    # chain is consistent again, but its entry 6 no longer has the mirrored hash.
    prev = rewrite_entry(pg, "inc-history", 2, "forged")
    for seq in range(3, 7):
        tamper(
            pg,
            "UPDATE integraci.audit_log SET prev_hash = %s WHERE chain = %s AND seq = %s",
            prev,
            "inc-history",
            seq,
        )
        prev = rewrite_entry(pg, "inc-history", seq, f"thing-{seq - 1}")
    check = reconcile_audit(pg, bao, "inc-history")
    assert check.problem is not None and check.problem[0] == "AuditHeadMismatch"


def test_a_change_before_the_checkpoint_is_left_to_verify_audit(pg, bao) -> None:
    """The documented limit: history below the checkpoint is not re-read by a reconcile."""
    checkpointed(pg, bao, "inc-below", 6)
    tamper(
        pg,
        "UPDATE integraci.audit_log SET target = 'forged' WHERE chain = %s AND seq = 2",
        "inc-below",
    )
    assert reconcile_audit(pg, bao, "inc-below").problem is None
    out = io.StringIO()
    code = run(verify_audit_command(pg.operator_dsn, pg.settings, "inc-below", out=out))
    report = out.getvalue()
    assert code == 1 and "BROKEN at seq 2: hash mismatch" in report
