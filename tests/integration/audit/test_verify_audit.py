"""``verify-audit`` verifies every entry from genesis in parallel chunks, against real
PostgreSQL: the first broken seq is named whatever chunk it falls in, and PostgreSQL's
canonical body agrees byte for byte with the domain's on hostile strings."""

import asyncio
import hashlib
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from psycopg.types.json import Jsonb

from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.audit_verify import ChainVerifier
from tenant_operator.adapters.postgres.statements import queries as q
from tenant_operator.adapters.postgres.verify_command import verify_audit_command
from tenant_operator.domain.audit import (
    GENESIS,
    VerifyResult,
    detail_digest,
    entry_hash,
    split_body,
)
from tests.support.postgres import PgDatabase

pytestmark = pytest.mark.integration

HOSTILE = [
    "plain",
    "jané 日本 😀",
    'say "hi"',
    "back\\slash \\u0041 \\n",
    "new\nline\ttab\rcr\bbs\fff",
    "\x01\x02\x1f\x7f",
    "\u2028\u2029 \ufeff",
    "'single' %s {} </script>",
    "",
]


def verify(pg: PgDatabase, tenant: str | None) -> tuple[int, str]:
    out = io.StringIO()
    code = asyncio.run(verify_audit_command(pg.operator_dsn, pg.settings, tenant, out=out))
    return code, out.getvalue()


def verify_in_chunks(pg: PgDatabase, tenant: str, chunk: int) -> VerifyResult:
    async def main() -> VerifyResult:
        async with pg.pool() as pool:
            return await ChainVerifier(pool, pg.settings, chunk=chunk).verify(tenant)

    return asyncio.run(main())


def fill(pg: PgDatabase, tenant: str, n: int) -> None:
    async def main() -> None:
        async with pg.pool() as pool:
            log = AuditLog(pool, pg.settings)
            for i in range(1, n + 1):
                await log.append(
                    tenant, actor="op", action="ensure", target=f"t-{i}", detail={"i": i % 3}
                )

    asyncio.run(main())


def tamper(pg: PgDatabase, statement: str, *params: object) -> None:
    with pg.superuser() as su, su.transaction():
        su.execute("SET LOCAL session_replication_role = replica")
        su.execute(statement, params)


@pytest.mark.parametrize("chunk", [4, 50_000])
def test_an_intact_chain_verifies_in_any_chunking(pg, chunk) -> None:
    fill(pg, f"intact-{chunk}", 13)
    assert verify_in_chunks(pg, f"intact-{chunk}", chunk) == VerifyResult(ok=True, checked=13)


ATTACKS = {
    "hash mismatch": (
        "UPDATE integraci.audit_log SET target = 'forged' WHERE chain = %s AND seq = {seq}",
        "hash mismatch",
    ),
    "detail mismatch": (
        "UPDATE integraci.audit_log SET detail = '{{\"i\": 7}}' WHERE chain = %s AND seq = {seq}",
        "detail mismatch: the stored detail does not match its digest",
    ),
    "float detail": (
        "UPDATE integraci.audit_log SET detail = '{{\"i\": 1.5}}' WHERE chain = %s AND seq = {seq}",
        "detail mismatch: the stored detail is not canonical JSON",
    ),
    "wrong prev_hash": (
        "UPDATE integraci.audit_log SET prev_hash = repeat('a', 64) WHERE chain = %s"
        " AND seq = {seq}",
        "wrong prev_hash",
    ),
    "gap": ("DELETE FROM integraci.audit_log WHERE chain = %s AND seq = {seq}", "gap: entry"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("seq", [1, 4, 5, 8, 9, 12])  # chunk of 4: first and last of chunks
def test_the_first_broken_seq_is_named_in_every_chunk_position(pg, attack, seq) -> None:
    slug = f"atk-{attack.replace(' ', '-').replace('_', '-')}-{seq}"
    fill(pg, slug, 12)
    statement, reason = ATTACKS[attack]
    tamper(pg, statement.format(seq=seq), slug)
    if attack == "wrong prev_hash" and seq == 1:
        reason = "wrong prev_hash"  # entry 1 must link to genesis
    result = verify_in_chunks(pg, slug, 4)
    if attack == "gap" and seq == 12:  # the newest entry gone: a consistent, shorter chain
        assert result == VerifyResult(ok=True, checked=11)  # only the mirror shows the cut
        return
    assert (result.ok, result.first_bad_seq, result.checked) == (False, seq, seq - 1)
    assert result.reason is not None and result.reason.startswith(reason)
    code, report = verify(pg, slug)
    assert code == 1 and f"BROKEN at seq {seq}: {reason}" in report


@pytest.mark.parametrize("cut", [(5, 8), (3, 6), (9, 12), (7, 7)])
def test_a_run_of_missing_entries_is_a_gap_at_its_first_seq(pg, cut) -> None:
    slug = f"cut-{cut[0]}-{cut[1]}"
    fill(pg, slug, 14)
    tamper(
        pg,
        "DELETE FROM integraci.audit_log WHERE chain = %s AND seq BETWEEN %s AND %s",
        slug,
        *cut,
    )
    result = verify_in_chunks(pg, slug, 4)
    assert (result.first_bad_seq, result.reason) == (cut[0], f"gap: entry {cut[0]} is missing")


def test_swapped_entries_are_named_a_reordering(pg) -> None:
    fill(pg, "swap", 10)
    for a, b in ((2, 1000), (7, 2), (1000, 7)):
        tamper(
            pg,
            "UPDATE integraci.audit_log SET seq = %s WHERE chain = %s AND seq = %s",
            b,
            "swap",
            a,
        )
    result = verify_in_chunks(pg, "swap", 4)
    assert result.first_bad_seq == 2
    assert result.reason == "reordered: entry 2 links to the entry now stored at 6"


def test_postgres_builds_the_domains_canonical_body_byte_for_byte(pg) -> None:
    """Appended through the adapter (the hash is the domain's), then rebuilt by SQL."""

    async def main() -> list[tuple[int, str]]:
        async with pg.pool() as pool:
            log = AuditLog(pool, pg.settings)
            for text in HOSTILE:
                await log.append("hostile", actor=text, action=text[::-1], target=text, detail={})
            async with pool.connection() as conn:
                cur = await conn.execute(
                    q.audit_bodies(pg.settings.platform_schema), ["hostile", 1]
                )
                return [(int(seq), str(body)) for seq, body in await cur.fetchall()]

    bodies = asyncio.run(main())
    with pg.superuser() as su:
        rows = su.execute(
            "SELECT seq, at, actor, action, target, detail_digest FROM integraci.audit_log"
            " WHERE chain = 'hostile' ORDER BY seq"
        ).fetchall()
    assert len(bodies) == len(rows) == len(HOSTILE)
    for (seq, body), (_, at, actor, action, target, digest) in zip(bodies, rows, strict=True):
        before, after = split_body(at=at, actor=actor, action=action, target=target, digest=digest)
        assert body.encode() == f"{before}{seq}{after}".encode()
    assert verify_in_chunks(pg, "hostile", 4) == VerifyResult(ok=True, checked=len(HOSTILE))


def test_hand_built_timestamps_and_details_verify_and_a_hostile_rewrite_does_not(pg) -> None:
    """Entries written directly (as the bench loads them): times at odd offsets and
    microseconds, details with hostile keys and nesting."""
    plus = timezone(timedelta(hours=5, minutes=30))
    times = [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=plus),
        datetime(1999, 2, 28, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-8))),
        datetime(9999, 12, 30, tzinfo=UTC),
    ]
    details = [{}, {"é": ["a", None, True, -3]}, {"b": {"a\n": '"q"\\'}, "a": []}, {"z": 10**20}]
    prev, rows = GENESIS, []
    for seq, (at, detail) in enumerate(zip(times, details, strict=True), start=1):
        digest = detail_digest(detail)
        target = HOSTILE[seq]
        hashed = entry_hash(
            prev, seq=seq, at=at, actor="op", action="a", target=target, digest=digest
        )
        rows.append(("built", seq, at, "op", "a", target, Jsonb(detail), digest, prev, hashed))
        prev = hashed
    with pg.superuser() as su, su.cursor() as cur:
        cur.executemany(
            "INSERT INTO integraci.audit_log (chain, seq, at, actor, action, target, detail,"
            " detail_digest, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    assert verify_in_chunks(pg, "built", 2) == VerifyResult(ok=True, checked=4)
    # one escaped character swapped for another: the body differs, so does the hash
    tamper(
        pg,
        "UPDATE integraci.audit_log SET target = replace(target, '\\', '/') WHERE chain = %s"
        " AND seq = 3",
        "built",
    )
    result = verify_in_chunks(pg, "built", 2)
    assert (result.first_bad_seq, result.reason) == (
        3,
        "hash mismatch: the entry's fields do not hash to its stored hash",
    )
    assert hashlib.sha256(b"").hexdigest()  # hashlib available for the floor of the bench
