"""Export destinations: where a finished bundle goes, never overwriting one already there.

``open_destination(url, settings)`` checks the URL and returns a :class:`FileDestination`
for ``file:///dir`` or an :class:`S3Destination` for ``s3://bucket/prefix`` (credentials
from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``); every check
is done before any I/O.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from tenant_operator.adapters.storage.file import FileDestination
from tenant_operator.adapters.storage.names import check_name
from tenant_operator.adapters.storage.s3 import S3Destination
from tenant_operator.adapters.storage.sigv4 import Credentials
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

__all__ = [
    "FileDestination",
    "S3Destination",
    "S3Location",
    "check_name",
    "open_destination",
    "parse_s3",
    "s3_credentials",
]

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


def s3_credentials(environ: Mapping[str, str]) -> Credentials:
    """The S3 credentials of the environment (PermanentError naming what to set)."""
    access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise PermanentError(
            "s3:// export destinations need credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the operator's environment (the chart's "
            "dataRequests.s3.credentialsSecret), or use a file:// destination",
            reason=Reason.DESTINATION_UNWRITABLE,
        )
    return Credentials(access, secret, environ.get("AWS_SESSION_TOKEN") or None)


def open_destination(
    url: str, settings: Settings, environ: Mapping[str, str] = os.environ
) -> FileDestination | S3Destination:
    """The destination ``url`` names, checked before any I/O (PermanentError otherwise)."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FileDestination(parse_file(url))
    if scheme == "s3":
        location = parse_s3(url)
        return S3Destination(
            location.bucket,
            location.prefix,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            credentials=s3_credentials(environ),
        )
    raise _invalid(url, f"has an unsupported scheme {scheme!r}")
