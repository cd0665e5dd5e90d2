"""The audit chain's hashing rules and its verification, as pure functions.

Canonical JSON (the one definition used for every hash in the chain):
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` encoded
    as UTF-8: keys sorted, no whitespace, non-ASCII kept as UTF-8. Only ``str`` keys and
    ``str``/``int``/``bool``/``None``/list/dict values are allowed; floats are refused because
    their text form is not canonical across JSON implementations (and jsonb rewrites them).

One entry of a chain::

    detail_digest = hmac_sha256(chain_key, canonical(detail)).hexdigest()
    hash = sha256(prev_hash_hex_ascii || canonical({"seq", "at", "actor", "action",
                                                   "target", "detail_digest"})).hexdigest()

``at`` enters the hash as UTC ISO-8601 with microseconds (``2026-06-18T10:00:00.000001Z``),
which PostgreSQL's ``timestamptz`` stores exactly. The first entry's ``prev_hash`` is
:data:`GENESIS`. ``detail`` itself is stored apart, so erasure can redact it (set it to NULL)
and the chain still verifies through ``detail_digest``.

The digest is keyed (HMAC-SHA256) with a random 256-bit key per chain that lives only
outside PostgreSQL (OpenBao, the platform mount) and is destroyed when the tenant is erased:
a redacted detail cannot be recovered by hashing guesses, not even by whoever holds the
database or its backups. Entries written before keyed digests existed carry the plain
``sha256(canonical(detail))``; both verify (see :func:`digest_matches`): a stored detail is
accepted if either digest of it equals the stored one, which a forger cannot arrange without
a preimage of SHA-256, and the digest itself is covered by the entry's hash.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

#: ``prev_hash`` of the first entry of every chain.
GENESIS = "0" * 64
#: The chain key of the platform's own chain (a slug can never start with '_').
PLATFORM_CHAIN = "_platform"


def _check_canonical(value: object, path: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit detail key at {path} is not a string: {key!r}")
            _check_canonical(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_canonical(item, f"{path}[{index}]")
        return
    raise TypeError(
        f"audit detail value at {path} has type {type(value).__name__}; "
        "use str, int, bool, None, lists and string-keyed mappings"
    )


def canonical(value: object) -> bytes:
    """The canonical JSON bytes of ``value`` (see the module docstring)."""
    _check_canonical(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_at(at: datetime) -> str:
    """``at`` as it enters the hash: UTC, microseconds, ``Z`` suffix."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def detail_digest(detail: Mapping[str, object], key: bytes | None = None) -> str:
    """The digest of ``detail``: keyed with the chain's key, or (no key) the legacy SHA-256."""
    body = canonical(dict(detail))
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def digest_matches(detail: Mapping[str, object], digest: str, key: bytes | None) -> bool:
    """Whether ``digest`` is the keyed (with ``key``) or the legacy digest of ``detail``."""
    if hmac.compare_digest(detail_digest(detail), digest):
        return True
    return key is not None and hmac.compare_digest(detail_digest(detail, key), digest)


def _body(seq: int, at: datetime, actor: str, action: str, target: str, digest: str) -> bytes:
    return canonical(
        {
            "seq": seq,
            "at": format_at(at),
            "actor": actor,
            "action": action,
            "target": target,
            "detail_digest": digest,
        }
    )


def split_body(
    *, at: datetime, actor: str, action: str, target: str, digest: str
) -> tuple[str, str]:
    """The canonical entry body as the text before and after its ``seq`` value.

    For stores that assign ``seq`` themselves: ``prev_hash || before || str(seq) || after``
    is exactly what :func:`entry_hash` hashes (``seq`` is a bare integer in canonical JSON).
    """
    text = _body(0, at, actor, action, target, digest).decode()
    before, after = text.split('"seq":0', 1)
    return before + '"seq":', after


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    digest: str,
) -> str:
    body = _body(seq, at, actor, action, target, digest)
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


@dataclass(frozen=True)
class AuditHead:
    """The last entry of a chain: mirrored to the Tenant status and to OpenBao."""

    seq: int
    hash: str


@dataclass(frozen=True)
class ChainRow:
    """One stored entry, as read back for verification (``detail`` None when redacted)."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: Mapping[str, object] | None
    detail_digest: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def _bad(checked: int, seq: int, reason: str) -> VerifyResult:
    return VerifyResult(ok=False, checked=checked, first_bad_seq=seq, reason=reason)


#: Why an unkeyed digest after a keyed one, or a redacted entry of a keyed chain, is refused.
DOWNGRADED = (
    "unkeyed digest after a keyed entry: the operator keys every entry once the chain has "
    "a key, so this entry was written without it (behind the operator's back)"
)
REDACTED_OPEN = (
    "redacted while the chain's key exists: only erasure redacts, and it destroys the key, "
    "so this detail was removed (or the entry written) behind the operator's back"
)


def _check_row(
    row: ChainRow, key: bytes | None, after_keyed: bool, closed: bool
) -> tuple[str | None, bool]:
    """(the problem of ``row``, whether its digest is keyed)."""
    keyed = False
    if row.detail is None:
        if key is not None and not closed:  # redacted only once the key is destroyed
            return REDACTED_OPEN, False
    else:
        try:
            legacy = hmac.compare_digest(detail_digest(row.detail), row.detail_digest)
            keyed = not legacy and digest_matches(row.detail, row.detail_digest, key)
        except TypeError:  # e.g. a float written behind the operator's back
            return "detail mismatch: the stored detail is not canonical JSON", False
        if not (legacy or keyed):
            return "detail mismatch: the stored detail does not match its digest", False
        if legacy and after_keyed and key is not None:
            return DOWNGRADED, False
    recomputed = entry_hash(
        row.prev_hash,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        digest=row.detail_digest,
    )
    if recomputed != row.hash:
        return "hash mismatch: the entry's fields do not hash to its stored hash", keyed
    return None, keyed


def verify_chain(
    rows: Sequence[ChainRow],
    *,
    expected_head: AuditHead | None = None,
    first_seq: int = 1,
    elsewhere: Mapping[str, int] | None = None,
    key: bytes | None = None,
    closed: bool = False,
) -> VerifyResult:
    """Verify a chain given its rows ordered by ``seq``; report the first broken ``seq``.

    Reasons: ``gap`` (a seq is missing, e.g. a deleted row), ``reordered`` (an entry links to
    an entry stored at another position), ``wrong prev_hash``, ``hash mismatch``, ``detail
    mismatch``, and ``head mismatch`` when ``expected_head`` (the mirrored head) disagrees,
    which catches a truncated tail or a rewrite of the whole chain.

    ``first_seq`` > 1 verifies a segment: the rows start at that entry, whose own
    ``prev_hash`` is taken as given because the caller has pinned the entry (its stored hash
    equals a checkpoint kept outside PostgreSQL, or every entry before it verified); the
    entry's own hash is still recomputed, so its ``prev_hash`` cannot change unnoticed.
    ``elsewhere`` maps hashes of entries outside ``rows`` to their seq, to name reorderings.
    ``key`` is the chain's digest key (None: only legacy digests verify). With a key, a
    legacy digest after a keyed one (:data:`DOWNGRADED`) and a redacted entry
    (:data:`REDACTED_OPEN`, unless ``closed``: the vault marks the chain erased) are refused:
    whoever writes without the key (a PostgreSQL role
    calling ``append_audit`` or ``redact_audit`` itself) cannot pass for the operator.
    """
    hashes = {**(elsewhere or {}), **{row.hash: row.seq for row in rows}}
    expected_seq = first_seq
    after_keyed = False
    prev_hash = GENESIS if first_seq == 1 or not rows else rows[0].prev_hash
    for checked, row in enumerate(rows):
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                return _bad(checked, expected_seq, f"gap: entry {expected_seq} is missing")
            return _bad(checked, row.seq, f"reordered: entry {row.seq} appears twice")
        if row.prev_hash != prev_hash:
            linked = hashes.get(row.prev_hash)
            if linked is not None and linked != row.seq - 1:
                return _bad(
                    checked,
                    row.seq,
                    f"reordered: entry {row.seq} links to the entry now stored at {linked}",
                )
            return _bad(checked, row.seq, "wrong prev_hash: does not match the previous hash")
        problem, keyed = _check_row(row, key, after_keyed, closed)
        if problem is not None:
            return _bad(checked, row.seq, problem)
        after_keyed = after_keyed or keyed
        prev_hash, expected_seq = row.hash, row.seq + 1
    checked = len(rows)
    if expected_head is not None:
        last = AuditHead(rows[-1].seq, rows[-1].hash) if rows else None
        if last != expected_head:
            seq = min(expected_head.seq, last.seq if last else 0) + 1
            return _bad(checked, seq, f"head mismatch: expected seq {expected_head.seq}")
    return VerifyResult(ok=True, checked=checked)


def mirror_problem(rows: Sequence[ChainRow], mirrored: AuditHead | None) -> str | None:
    """Why the stored chain disagrees with the head mirrored outside PostgreSQL, if it does.

    The chain may have grown since the mirror was written (an append whose mirroring has
    not happened yet is not tampering), but the mirrored entry must still be there,
    unchanged: otherwise entries were removed or the chain was rewritten.
    """
    if mirrored is None:
        return None
    stored = next((row for row in rows if row.seq == mirrored.seq), None)
    if stored is None:
        return (
            f"entry {mirrored.seq}, recorded outside PostgreSQL, is missing: entries were removed"
        )
    if stored.hash != mirrored.hash:
        return f"entry {mirrored.seq} differs from the head recorded outside PostgreSQL: rewritten"
    return None
