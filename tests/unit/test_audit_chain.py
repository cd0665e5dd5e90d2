"""Pure tests of the audit chain's hashing and verification rules."""

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tenant_operator.domain.audit import (
    GENESIS,
    AuditHead,
    ChainRow,
    VerifyResult,
    canonical,
    detail_digest,
    digest_matches,
    entry_hash,
    format_at,
    split_body,
    verify_chain,
)
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import validate_chain

T0 = datetime(2026, 6, 18, 10, 0, 0, 1, tzinfo=UTC)


def build_chain(n: int) -> list[ChainRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = T0 + timedelta(seconds=seq)
        detail = {"n": seq, "who": "jané"}
        digest = detail_digest(detail)
        h = entry_hash(prev, seq=seq, at=at, actor="op", action="a", target="t", digest=digest)
        rows.append(ChainRow(seq, at, "op", "a", "t", detail, digest, prev, h))
        prev = h
    return rows


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()


@pytest.mark.parametrize("bad", [{"x": 1.5}, {1: "a"}, {"x": object()}, {"x": b"raw"}])
def test_canonical_refuses_non_canonical_values(bad: object) -> None:
    with pytest.raises(TypeError):
        canonical(bad)


def test_entry_hash_follows_the_documented_formula() -> None:
    digest = detail_digest({"k": "v"})
    assert digest == hashlib.sha256(b'{"k":"v"}').hexdigest()
    body = (
        '{"action":"a","actor":"op","at":"2026-06-18T10:00:00.000001Z",'
        f'"detail_digest":"{digest}","seq":1,"target":"t"}}'
    )
    expected = hashlib.sha256(GENESIS.encode() + body.encode()).hexdigest()
    got = entry_hash(GENESIS, seq=1, at=T0, actor="op", action="a", target="t", digest=digest)
    assert got == expected


def test_format_at_normalises_to_utc_and_refuses_naive() -> None:
    plus2 = T0.astimezone(timezone(timedelta(hours=2)))
    assert format_at(plus2) == "2026-06-18T10:00:00.000001Z"
    with pytest.raises(ValueError):
        format_at(datetime(2026, 1, 1))


def test_intact_chain_verifies_and_matches_head() -> None:
    rows = build_chain(5)
    result = verify_chain(rows, expected_head=AuditHead(5, rows[-1].hash))
    assert result.ok and result.checked == 5


def test_empty_chain_is_ok() -> None:
    assert verify_chain([]).ok


def test_redacted_detail_still_verifies() -> None:
    rows = build_chain(3)
    rows[1] = dataclasses.replace(rows[1], detail=None)
    assert verify_chain(rows).ok


def test_tampered_field_is_a_hash_mismatch_at_its_seq() -> None:
    rows = build_chain(5)
    rows[2] = dataclasses.replace(rows[2], action="forged")
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason is not None and result.reason.startswith("hash mismatch")


def test_tampered_detail_is_detected() -> None:
    rows = build_chain(4)
    rows[3] = dataclasses.replace(rows[3], detail={"n": 99})
    result = verify_chain(rows)
    assert result.first_bad_seq == 4 and "detail mismatch" in (result.reason or "")


def test_deleted_middle_row_is_a_gap() -> None:
    rows = build_chain(5)
    del rows[2]
    result = verify_chain(rows)
    assert result.first_bad_seq == 3 and (result.reason or "").startswith("gap")


def test_deleted_first_row_is_a_gap_at_one() -> None:
    assert verify_chain(build_chain(3)[1:]).first_bad_seq == 1


def test_swapped_seqs_are_reported_as_reordered() -> None:
    rows = build_chain(5)
    third, fourth = rows[2], rows[3]
    rows[2] = dataclasses.replace(fourth, seq=3)
    rows[3] = dataclasses.replace(third, seq=4)
    result = verify_chain(rows)
    assert result.first_bad_seq == 3 and (result.reason or "").startswith("reordered")


def test_rehashed_forgery_breaks_the_next_link() -> None:
    rows = build_chain(4)
    forged = dataclasses.replace(rows[1], target="elsewhere")
    forged = dataclasses.replace(
        forged,
        hash=entry_hash(
            forged.prev_hash,
            seq=2,
            at=forged.at,
            actor="op",
            action="a",
            target="elsewhere",
            digest=forged.detail_digest,
        ),
    )
    rows[1] = forged
    result = verify_chain(rows)
    assert result.first_bad_seq == 3 and (result.reason or "").startswith("wrong prev_hash")


def test_truncated_tail_is_caught_by_the_mirrored_head() -> None:
    rows = build_chain(5)
    result = verify_chain(rows[:3], expected_head=AuditHead(5, rows[-1].hash))
    assert result.first_bad_seq == 4 and (result.reason or "").startswith("head mismatch")


def test_split_body_reassembles_to_the_entry_hash() -> None:
    digest = detail_digest({"x": "ü"})
    before, after = split_body(at=T0, actor='a"b', action="é", target="t\n", digest=digest)
    for seq in (1, 42, 10**12):
        text = GENESIS + before + str(seq) + after
        assert hashlib.sha256(text.encode()).hexdigest() == entry_hash(
            GENESIS, seq=seq, at=T0, actor='a"b', action="é", target="t\n", digest=digest
        )


def test_a_segment_verifies_from_its_pinned_first_entry() -> None:
    rows = build_chain(8)
    assert verify_chain(rows[4:], first_seq=5) == VerifyResult(ok=True, checked=4)
    assert verify_chain([], first_seq=5).ok  # nothing from there on: the mirror check decides


def test_a_segment_still_recomputes_its_pinned_entry() -> None:
    rows = build_chain(8)
    forged = dataclasses.replace(rows[4], actor="mallory")
    result = verify_chain([forged, *rows[5:]], first_seq=5)
    assert (result.first_bad_seq, result.checked) == (5, 0)
    assert result.reason is not None and result.reason.startswith("hash mismatch")


def test_a_segment_missing_its_first_entry_is_a_gap_there() -> None:
    rows = build_chain(8)
    result = verify_chain(rows[5:], first_seq=5)
    assert (result.first_bad_seq, result.reason) == (5, "gap: entry 5 is missing")


def test_a_segment_names_a_reordering_through_hashes_stored_elsewhere() -> None:
    rows = build_chain(8)
    relinked = dataclasses.replace(rows[5], prev_hash=rows[1].hash)
    result = verify_chain([rows[4], relinked], first_seq=5, elsewhere={rows[1].hash: 2})
    assert result.reason == "reordered: entry 6 links to the entry now stored at 2"
    plain = verify_chain([rows[4], relinked], first_seq=5)
    assert plain.reason == "wrong prev_hash: does not match the previous hash"


def test_a_non_canonical_detail_is_a_detail_mismatch_not_a_crash() -> None:
    rows = build_chain(3)
    rows[1] = dataclasses.replace(rows[1], detail={"n": 2.0})
    result = verify_chain(rows)
    assert (result.first_bad_seq, result.reason) == (
        2,
        "detail mismatch: the stored detail is not canonical JSON",
    )


KEY = bytes(range(32))


def test_a_keyed_digest_is_an_hmac_under_the_chain_key_and_not_the_plain_hash() -> None:
    detail = {"email": "jane@example.com"}
    keyed = detail_digest(detail, KEY)
    assert keyed == hmac.new(KEY, canonical(detail), hashlib.sha256).hexdigest()
    assert keyed != hashlib.sha256(canonical(detail)).hexdigest()  # a guess does not match
    assert digest_matches(detail, keyed, KEY)
    assert not digest_matches(detail, keyed, None)  # without the key it cannot be checked
    assert not digest_matches(detail, keyed, bytes(32))  # nor under another chain's key
    assert digest_matches(detail, detail_digest(detail), KEY)  # legacy entries still verify


def test_a_chain_of_keyed_digests_verifies_only_with_its_key() -> None:
    rows, prev = [], GENESIS
    for seq in (1, 2):
        detail = {"n": seq}
        digest = detail_digest(detail, KEY)
        h = entry_hash(prev, seq=seq, at=T0, actor="op", action="a", target="t", digest=digest)
        rows.append(ChainRow(seq, T0, "op", "a", "t", detail, digest, prev, h))
        prev = h
    assert verify_chain(rows, key=KEY).ok
    assert verify_chain(rows).first_bad_seq == 1
    redacted = [dataclasses.replace(row, detail=None) for row in rows]
    assert verify_chain(redacted).ok  # once redacted (and the key destroyed) it still verifies


@pytest.mark.parametrize("chain", ["acme", "acme@0b4f7c3e-9d1a-4c53-8e0f-1a2b3c4d5e6f", "a-b-c"])
def test_tenant_chain_names_are_slugs_or_slug_at_uuid(chain: str) -> None:
    assert validate_chain(chain) == chain


@pytest.mark.parametrize(
    "chain", ["_platform", "acme@", "acme@x", "../acme", "acme/../b", "ACME", "acme@0b4f7c3e"]
)
def test_other_chain_names_are_refused(chain: str) -> None:
    with pytest.raises(PermanentError):
        validate_chain(chain)
