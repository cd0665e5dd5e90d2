"""An ``s3://bucket/prefix`` destination: an S3-compatible bucket, never overwriting.

``put_new`` is one PUT with ``If-None-Match: *``: S3 (and SeaweedFS) answer 412 when the
object exists, so two writers, or a restart after the upload, can never replace a
finished export. The payload's SHA-256 is signed, so the store checks what it received.
``check_writable`` looks up the bucket (a store that creates buckets on first write must
not get one made by a typo) and writes and deletes one probe object under the prefix.
Requests are path-style (``endpoint/bucket/key``), signed with SigV4; the bundle is sent
from its file in chunks (no copy in memory).
"""

import asyncio
import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import requests

from tenant_operator.adapters.storage.names import check_name
from tenant_operator.adapters.storage.sigv4 import EMPTY_SHA256, Credentials, sign
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

_CHUNK = 1 << 20
OperatorErrorType = PermanentError | RetryableError
_TIMEOUT = (10, 300)  # connect, read (seconds)
#: Written and deleted by check_writable; one fixed name, so a failed delete leaves one.
PROBE = ".tenant-operator-write-probe"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class S3Destination:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint: str | None,
        region: str,
        credentials: Credentials,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix  # "" or ends with "/"
        self.endpoint = (endpoint or f"https://s3.{region}.amazonaws.com").rstrip("/")
        self.region = region
        self.credentials = credentials
        self.session = requests.Session()

    def __repr__(self) -> str:
        return f"S3Destination({self.location('')!r}, endpoint={self.endpoint!r})"

    def location(self, name: str) -> str:
        if name:
            check_name(name)
        return f"s3://{self.bucket}/{self.prefix}{name}"

    async def exists(self, name: str) -> bool:
        key = self.prefix + check_name(name)
        return await asyncio.to_thread(self._exists, key)

    async def check_writable(self) -> None:
        await asyncio.to_thread(self._check_writable)

    async def put_new(self, name: str, path: Path) -> str:
        key = self.prefix + check_name(name)
        await asyncio.to_thread(self._put_new, key, path)
        return self.location(name)

    async def fetch(self, name: str, path: Path) -> None:
        key = self.prefix + check_name(name)
        await asyncio.to_thread(self._fetch, key, path)

    # The requests, in a worker thread.

    def _send(
        self,
        method: str,
        key: str = "",
        *,
        body: IO[bytes] | None = None,
        sha256: str = EMPTY_SHA256,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        url = f"{self.endpoint}/{self.bucket}" + (f"/{key}" if key else "")
        signed = sign(
            method,
            url,
            region=self.region,
            credentials=self.credentials,
            payload_sha256=sha256,
            at=datetime.now(UTC),
            headers=headers,
        )
        try:
            return self.session.request(
                method, url, headers=signed, data=body, timeout=_TIMEOUT, stream=stream
            )
        except requests.RequestException as error:
            raise RetryableError(
                f"S3 endpoint {self.endpoint} did not answer {method} "
                f"{self.location('')}: {type(error).__name__}"
            ) from None

    def _refused(self, response: requests.Response, doing: str) -> PermanentError:
        why = {
            403: "refuses these credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY need "
            "read and write access to the bucket)",
            404: "does not exist (create the bucket; the operator never creates one)",
        }.get(response.status_code, f"answered HTTP {response.status_code}")
        return PermanentError(
            f"export destination s3://{self.bucket} at {self.endpoint}: {doing}: the bucket "
            f"{why}; fix it or name another destination",
            reason=Reason.DESTINATION_UNWRITABLE,
        )

    def _unexpected(self, response: requests.Response, doing: str) -> OperatorErrorType:
        if response.status_code >= 500 or response.status_code in (408, 429):
            return RetryableError(
                f"S3 endpoint {self.endpoint}: {doing} answered HTTP {response.status_code}"
            )
        return self._refused(response, doing)

    def _check_writable(self) -> None:
        head = self._send("HEAD")
        if head.status_code != 200:
            raise self._unexpected(head, "looking up the bucket")
        probe = self.prefix + PROBE
        put = self._send("PUT", probe, body=None, headers={"Content-Length": "0"})
        if put.status_code != 200:
            raise self._unexpected(put, "writing a probe object")
        deleted = self._send("DELETE", probe)
        if deleted.status_code not in (200, 204):
            raise self._unexpected(deleted, "deleting the probe object")

    def _exists(self, key: str) -> bool:
        response = self._send("HEAD", key)
        if response.status_code == 404:
            return False
        if response.status_code == 200:
            return True
        raise self._unexpected(response, f"looking up {key}")

    def _put_new(self, key: str, path: Path) -> None:
        sha256 = file_sha256(path)
        headers = {"Content-Length": str(path.stat().st_size), "If-None-Match": "*"}
        with path.open("rb") as body:
            response = self._send("PUT", key, body=body, sha256=sha256, headers=headers)
        if response.status_code == 412:
            raise PermanentError(
                f"export s3://{self.bucket}/{key} already exists and is never overwritten; "
                "remove or move it first if a new export under this name is wanted",
                reason=Reason.DESTINATION_EXISTS,
            )
        if response.status_code != 200:
            raise self._unexpected(response, f"writing {key}")

    def _fetch(self, key: str, path: Path) -> None:
        response = self._send("GET", key, stream=True)
        with response:
            if response.status_code == 404:
                raise PermanentError(
                    f"export s3://{self.bucket}/{key} does not exist",
                    reason=Reason.INVALID_DESTINATION,
                )
            if response.status_code != 200:
                raise self._unexpected(response, f"reading {key}")
            response.raw.decode_content = True
            with path.open("wb") as out:
                shutil.copyfileobj(response.raw, out, _CHUNK)
