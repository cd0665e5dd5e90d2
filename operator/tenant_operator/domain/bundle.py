"""The export bundle: its manifest, how rows are written, and its strict verification.

A bundle is one USTAR tar (:mod:`tenant_operator.domain.tarball`): ``manifest.json``,
``manifest.sig`` (the OpenBao transit signature of manifest.json's bytes), then every file
the manifest lists, in its order. The manifest names each file's rows, bytes and SHA-256,
so the signature over it covers everything; :func:`verify` checks all of it, and that
nothing else is there. Pure: streams in, verdicts out; the signature is checked against
an Ed25519 public key (PEM) given by the caller.
"""

import base64
import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tenant_operator.domain import tarball
from tenant_operator.domain.tarball import BundleInvalid

__all__ = ["BundleInvalid", "FileEntry", "Manifest", "Verified", "verify", "verify_path"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNING_KEY = "operator-export-signing"
AUDIT_FILE = "audit/entries.jsonl"
CONNECTORS_FILE = "connectors.json"
_SIGNATURE_RE = re.compile(r"^vault:v([1-9][0-9]{0,8}):[A-Za-z0-9+/]+={0,2}$")
_PATH_RE = re.compile(r"^(tables/[a-z_]+\.(jsonl|csv)|audit/entries\.jsonl|connectors\.json)$")


def table_files(table: str) -> tuple[str, str]:
    """The two files of a table: JSON Lines and CSV."""
    return f"tables/{table}.jsonl", f"tables/{table}.csv"


# --- the manifest -------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    path: str
    rows: int
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """What manifest.json says (camelCase keys in the file; see :meth:`document`)."""

    tenant: Mapping[str, str]  # {slug, id}
    subject: Mapping[str, str] | None  # {email|id, accountId (absent: no data held)}
    exported_at: str
    files: tuple[FileEntry, ...]
    audit: Mapping[str, Any]  # {chain, seq, head, verified, entries}
    sub_processors: tuple[Mapping[str, Any], ...]
    signed_by: Mapping[str, Any]  # {key, version}: the transit key version that signs it
    format_version: int = FORMAT_VERSION

    def document(self) -> dict[str, Any]:
        return {
            "formatVersion": self.format_version,
            "tenant": dict(self.tenant),
            "subject": None if self.subject is None else dict(self.subject),
            "exportedAt": self.exported_at,
            "files": [vars(f) for f in self.files],
            "audit": dict(self.audit),
            "subProcessors": [dict(s) for s in self.sub_processors],
            "signedBy": dict(self.signed_by),
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes (what is signed): sorted keys, two-space indent, one newline."""
        return canonical(self.document())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Manifest":
        """Parse manifest.json; BundleInvalid unless it is exactly the canonical form."""
        try:
            doc = json.loads(data)
            manifest = cls(
                tenant=doc["tenant"],
                subject=doc["subject"],
                exported_at=doc["exportedAt"],
                files=tuple(FileEntry(**f) for f in doc["files"]),
                audit=doc["audit"],
                sub_processors=tuple(doc["subProcessors"]),
                signed_by=doc["signedBy"],
                format_version=doc["formatVersion"],
            )
            same = manifest.to_bytes() == data and set(doc) == set(manifest.document())
        except (ValueError, KeyError, TypeError):
            raise BundleInvalid("manifest.json is not a bundle manifest") from None
        if not same:
            raise BundleInvalid("manifest.json is not in its canonical form (edited?)")
        if manifest.format_version != FORMAT_VERSION:
            raise BundleInvalid(f"manifest formatVersion {manifest.format_version} is unknown")
        return manifest

    @property
    def mtime(self) -> int:
        """Every member's tar mtime: exportedAt, in whole seconds."""
        return int(datetime.fromisoformat(self.exported_at).timestamp())


def canonical(doc: Any) -> bytes:
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class Signature:
    """manifest.sig: which transit key signed manifest.json, and the signature."""

    key: str
    signature: str

    @property
    def version(self) -> int:
        match = _SIGNATURE_RE.match(self.signature)
        if match is None:
            raise BundleInvalid("manifest.sig holds no transit signature")
        return int(match.group(1))

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.signature.split(":", 2)[2], validate=True)

    def to_bytes(self) -> bytes:
        return canonical({"key": self.key, "signature": self.signature})

    @classmethod
    def from_bytes(cls, data: bytes) -> "Signature":
        try:
            doc = json.loads(data)
            sig = cls(key=doc["key"], signature=doc["signature"])
            same = sig.to_bytes() == data
        except (ValueError, KeyError, TypeError):
            raise BundleInvalid("manifest.sig is not a bundle signature") from None
        if not same:
            raise BundleInvalid("manifest.sig is not in its canonical form (edited?)")
        sig.version  # noqa: B018  (checks the form)
        return sig


# --- rows as written ----------------------------------------------------------------------


def json_value(value: object) -> object:
    """A column value as JSON: ids and times as strings, jsonb as it is."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("binary columns are never exported")
    return value


def csv_value(value: object) -> object:
    """A column value in CSV: empty for null, JSON for objects and lists, true/false."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return json_value(value)


def jsonl_lines(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """One JSON object per row, one line each (JSON escapes newlines inside values)."""
    dumps = json.JSONEncoder(ensure_ascii=False, default=json_value).encode
    for row in rows:
        yield dumps(dict(zip(columns, row, strict=True))) + "\n"


def csv_writer(out: io.TextIOBase) -> Any:
    return csv.writer(out, lineterminator="\n")


def csv_rows(rows: Iterable[Sequence[object]]) -> Iterator[list[object]]:
    for row in rows:
        yield [csv_value(v) for v in row]


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """A bundle that verified: its manifest, signature and total size."""

    manifest: Manifest
    signature: Signature
    size: int = 0
    members: tuple[str, ...] = field(default=())


PublicKeys = Callable[[int], str | None]


class _Hashing(io.RawIOBase):
    """A member's content as a stream, hashed and counted as it is read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = iter(chunks)
        self.digest = hashlib.sha256()
        self.size = 0
        self.last = b""
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            self.pending = next(self.chunks, b"")
            self.digest.update(self.pending)
            self.size += len(self.pending)
            self.last = self.pending[-1:] or self.last
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _counted(path: str, chunks: Iterable[bytes]) -> tuple[int, str, int]:
    """(rows, sha256, bytes) of a member: JSON Lines lines, CSV records after the header,
    the length of a JSON array."""
    raw = _Hashing(chunks)
    buffered = io.BufferedReader(raw, tarball.CHUNK)
    try:
        if path.endswith(".csv"):
            text = io.TextIOWrapper(buffered, "utf-8", newline="")
            rows = max(sum(1 for _ in csv.reader(text)) - 1, 0)
            text.detach()
        elif path.endswith(".json"):
            rows = len(json.load(buffered))
        else:
            rows = sum(1 for _ in buffered)
        while buffered.read(tarball.CHUNK):  # whatever a parser left unread is hashed too
            pass
    except (ValueError, TypeError, csv.Error):
        raise BundleInvalid(f"{path} is not what its name says (CSV, JSON, JSON Lines)") from None
    if raw.size and raw.last != b"\n":
        raise BundleInvalid(f"{path} does not end with a newline")
    return rows, raw.digest.hexdigest(), raw.size


def verify(stream: BinaryIO, public_key: PublicKeys) -> Verified:
    """Verify a bundle read from ``stream``; raise :class:`BundleInvalid` naming what failed.

    ``public_key(version)`` is the PEM of the signing key's version (None: unknown).
    """
    found = tarball.members(stream)
    manifest_bytes = _small(next(found, None), MANIFEST)
    manifest_member, manifest_data = manifest_bytes
    sig_member, sig_data = _small(next(found, None), SIGNATURE)
    manifest = Manifest.from_bytes(manifest_data)
    signature = Signature.from_bytes(sig_data)
    if dict(manifest.signed_by) != {"key": signature.key, "version": signature.version}:
        raise BundleInvalid(
            f"manifest.sig names {signature.key} v{signature.version}; the manifest says "
            f"it is signed by {manifest.signed_by}"
        )
    _check_signature(manifest_data, signature, public_key)
    names = [MANIFEST, SIGNATURE]
    for member in (manifest_member, sig_member):
        _check_mtime(member, manifest)
    listed = list(manifest.files)
    for member, chunks in found:
        _check_mtime(member, manifest)
        if not listed:
            raise BundleInvalid(f"{member.name} is in the bundle but not in the manifest")
        entry = listed.pop(0)
        if member.name != entry.path or not _PATH_RE.match(member.name):
            raise BundleInvalid(f"{member.name} is in the bundle where {entry.path} is listed")
        rows, sha, size = _counted(member.name, chunks)
        if (rows, sha, size) != (entry.rows, entry.sha256, entry.bytes):
            raise BundleInvalid(
                f"{member.name}: {rows} rows, {size} bytes, sha256 {sha}; the manifest says "
                f"{entry.rows} rows, {entry.bytes} bytes, sha256 {entry.sha256}"
            )
        names.append(member.name)
    if listed:
        raise BundleInvalid(f"{listed[0].path} is listed in the manifest but missing")
    return Verified(manifest, signature, members=tuple(names))


def _small(item: tuple[tarball.Member, Iterator[bytes]] | None, name: str) -> Any:
    if item is None or item[0].name != name:
        raise BundleInvalid(f"the bundle does not begin with {MANIFEST} and {SIGNATURE}")
    member, chunks = item
    if member.size > 16 << 20:
        raise BundleInvalid(f"{name} is too large ({member.size} bytes)")
    return member, b"".join(chunks)


def _check_mtime(member: tarball.Member, manifest: Manifest) -> None:
    if member.mtime != manifest.mtime:
        raise BundleInvalid(f"{member.name}: its tar mtime is not the manifest's exportedAt")


def _check_signature(data: bytes, signature: Signature, public_key: PublicKeys) -> None:
    pem = public_key(signature.version)
    if pem is None:
        raise BundleInvalid(
            f"signed with version {signature.version} of {signature.key}, which is unknown here"
        )
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise BundleInvalid("the public key given is not an Ed25519 key")
    try:
        key.verify(signature.raw, data)
    except (InvalidSignature, ValueError):
        raise BundleInvalid(
            f"the signature of {MANIFEST} does not verify with {signature.key} v{signature.version}"
        ) from None


def verify_path(path: Path, public_key: PublicKeys) -> Verified:
    with path.open("rb") as stream:
        verified = verify(stream, public_key)
    return Verified(verified.manifest, verified.signature, path.stat().st_size, verified.members)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(tarball.CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
