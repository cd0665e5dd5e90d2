"""A strict, deterministic USTAR tar: the container of an export bundle.

Written members have fixed metadata (mode 0644, uid/gid 0, no owner names, one mtime for
the whole archive), so a member's header is a pure function of (name, size, mtime):
:func:`header`. Reading (:func:`members`) therefore checks every header byte by rebuilding
it, every padding byte and both end blocks for zeros, and that nothing follows them; with
every member's content hashed by the caller, one changed byte anywhere in the file is
found. Standard ``tar`` reads these archives; this reader reads only these.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

BLOCK = 512
END = b"\0" * (2 * BLOCK)
MAX_NAME = 100
MAX_SIZE = 8**11 - 1  # what 11 octal digits hold (8 GiB)
MODE = 0o644
CHUNK = 1 << 20


class BundleInvalid(PermanentError):
    """The bundle is not exactly what the exporter wrote: what differs, where."""

    reason: str = Reason.EXPORT_INVALID


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def header(name: str, size: int, mtime: int) -> bytes:
    """The 512-byte USTAR header of a regular file ``name`` of ``size`` bytes."""
    raw = name.encode()
    if not raw or len(raw) > MAX_NAME or not 0 <= size <= MAX_SIZE or not 0 <= mtime < 8**11:
        raise ValueError(f"tar member {name!r} ({size} bytes) does not fit a USTAR header")
    fields = [
        raw.ljust(100, b"\0"),
        _octal(MODE, 8),
        _octal(0, 8),  # uid
        _octal(0, 8),  # gid
        _octal(size, 12),
        _octal(mtime, 12),
        b" " * 8,  # the checksum, counted as spaces
        b"0",  # a regular file
        b"\0" * 100,  # linkname
        b"ustar\x0000",
        b"\0" * 32,  # uname
        b"\0" * 32,  # gname
        _octal(0, 8),  # devmajor
        _octal(0, 8),  # devminor
        b"\0" * 155,  # prefix
    ]
    block = b"".join(fields).ljust(BLOCK, b"\0")
    checksum = b"%06o\0 " % sum(block)
    return block[:148] + checksum + block[156:]


def padding(size: int) -> bytes:
    """The zeros after ``size`` bytes of content, up to the next block."""
    return b"\0" * (-size % BLOCK)


@dataclass(frozen=True)
class Member:
    """A member as its header states it (checked against :func:`header` by the reader)."""

    name: str
    size: int
    mtime: int


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise BundleInvalid(f"the bundle ends inside {what} (truncated)")
    return data


def _parse(block: bytes, offset: int) -> Member:
    try:
        name = block[:100].rstrip(b"\0").decode()
        size = int(block[124:135].decode("ascii"), 8)
        mtime = int(block[136:147].decode("ascii"), 8)
        wanted = header(name, size, mtime)
    except ValueError:
        raise BundleInvalid(f"the tar header at byte {offset} is not a bundle header") from None
    if block != wanted:
        diff = next(i for i in range(BLOCK) if block[i] != wanted[i])
        raise BundleInvalid(
            f"the tar header of {name!r} at byte {offset} differs at byte {offset + diff}"
        )
    return Member(name, size, mtime)


def members(stream: BinaryIO) -> Iterator[tuple[Member, Iterator[bytes]]]:
    """Each member and its content (chunks; consume them before the next member).

    Raises :class:`BundleInvalid` on anything but exact bundle headers, zero padding, the
    two zero end blocks, and the end of the stream right after them.
    """
    offset = 0
    while True:
        block = _read_exact(stream, BLOCK, "a tar header")
        if block == b"\0" * BLOCK:
            rest = _read_exact(stream, BLOCK, "the end blocks")
            if rest != b"\0" * BLOCK:
                raise BundleInvalid(f"the tar end blocks at byte {offset} are not all zero")
            if stream.read(1):
                raise BundleInvalid(f"bytes follow the tar end blocks (at byte {offset + 1024})")
            return
        member = _parse(block, offset)
        offset += BLOCK
        consumed = [False]
        yield member, _content(stream, member, consumed)
        if not consumed[0]:
            raise RuntimeError("a member's content must be read before the next member")
        pad = padding(member.size)
        if _read_exact(stream, len(pad), f"the padding of {member.name}") != pad:
            raise BundleInvalid(f"the tar padding of {member.name!r} is not all zero")
        offset += member.size + len(pad)


def _content(stream: BinaryIO, member: Member, consumed: list[bool]) -> Iterator[bytes]:
    left = member.size
    while left:
        chunk = _read_exact(stream, min(CHUNK, left), f"the content of {member.name}")
        left -= len(chunk)
        yield chunk
    consumed[0] = True
