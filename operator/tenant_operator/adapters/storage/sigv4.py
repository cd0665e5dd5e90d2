"""AWS Signature Version 4 for S3 requests (path-style, no query string): the few headers
an export destination needs, signed as S3 checks them.

Only what :mod:`tenant_operator.adapters.storage.s3` sends is covered: a method, a bucket
and an object key, a payload whose SHA-256 is known (an empty one for HEAD, GET, DELETE).
The key is percent-encoded once per segment, as S3 wants (unlike other AWS services).
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"Credentials(access_key={self.access_key!r})"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_uri(path: str) -> str:
    """``path`` (already the request's path) encoded once per segment, '/' kept."""
    return quote(path, safe="/~")


def sign(
    method: str,
    url: str,
    *,
    region: str,
    credentials: Credentials,
    payload_sha256: str,
    at: datetime,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers to send: ``headers`` plus host, x-amz-date, x-amz-content-sha256, the
    session token if any, and Authorization. Every header given is signed."""
    parts = urlsplit(url)
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    signed: dict[str, str] = {k.lower(): v.strip() for k, v in (headers or {}).items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = stamp
    signed["x-amz-content-sha256"] = payload_sha256
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            canonical_uri(parts.path or "/"),
            parts.query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + credentials.secret_key).encode(), day)
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in signed.items() if k != "host"}
    out["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out
