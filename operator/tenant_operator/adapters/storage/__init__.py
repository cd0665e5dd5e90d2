"""Export destinations: where a finished bundle goes, never overwriting one already there.

``open_destination(url, settings)`` checks the URL and returns a :class:`FileDestination`
for ``file:///dir``; every check is done before any I/O. ``s3://bucket/prefix`` is parsed
and validated here too (its adapter is not in this tree yet).
"""

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from tenant_operator.adapters.storage.file import FileDestination
from tenant_operator.adapters.storage.names import check_name
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

__all__ = ["FileDestination", "S3Location", "check_name", "open_destination", "parse_s3"]

#: S3 bucket naming rules (3-63 lowercase letters, digits, dots, hyphens).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _invalid(url: str, why: str) -> PermanentError:
    return PermanentError(
        f"export destination {url!r} {why}; use file:///absolute/dir or s3://bucket/prefix",
        reason=Reason.INVALID_DESTINATION,
    )


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ends with "/"


def parse_s3(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise _invalid(url, "is not an s3:// URL")
    if not parts.netloc:
        raise _invalid(url, "names no bucket (s3://BUCKET/prefix)")
    if not _BUCKET.fullmatch(parts.netloc) or ".." in parts.netloc:
        raise _invalid(url, f"has an invalid bucket name {parts.netloc!r}")
    if parts.query or parts.fragment:
        raise _invalid(url, "has a query or fragment")
    segments = [s for s in unquote(parts.path).split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise _invalid(url, "has '.' or '..' in its prefix")
    prefix = "/".join(segments)
    return S3Location(parts.netloc, prefix + "/" if prefix else "")


def parse_file(url: str) -> PurePosixPath:
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise _invalid(url, "is not a file:// URL")
    if parts.netloc not in ("", "localhost"):
        raise _invalid(url, f"names a host ({parts.netloc!r}); a file:// directory is local")
    if parts.query or parts.fragment:
        raise _invalid(url, "has a query or fragment")
    path = PurePosixPath(unquote(parts.path))
    if not path.is_absolute() or path == PurePosixPath("/"):
        raise _invalid(url, "is not an absolute directory below /")
    if any(p in (".", "..") for p in path.parts):
        raise _invalid(url, "has '.' or '..' in its path")
    return path


def open_destination(url: str, settings: Settings) -> FileDestination:
    """The destination ``url`` names, checked before any I/O (PermanentError otherwise)."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FileDestination(parse_file(url))
    if scheme == "s3":
        location = parse_s3(url)
        raise PermanentError(
            f"s3://{location.bucket} destinations are not available in this build "
            f"(endpoint {settings.s3_endpoint or 'AWS'}); use a file:// destination",
            reason=Reason.DESTINATION_UNWRITABLE,
        )
    raise _invalid(url, f"has an unsupported scheme {scheme!r}")
