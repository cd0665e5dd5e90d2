"""A throwaway S3 server: SeaweedFS's ``weed server -s3`` built by ``tools/seaweedfs/build.sh``.

Master, volume, filer and S3 gateway in one process on 127.0.0.1 with free ports, data
under a temp directory. Two identities: ``admin`` (full access) and ``reader`` (Read and
List only, for the "unwritable destination" tests). The secrets are random, never logged.
"""

import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from devenv import process

log = logging.getLogger(__name__)

DIR_ENV = "TENANT_OPERATOR_SEAWEEDFS_DIR"
BUILD_HINT = "run `make s3-bins` (or `bash tools/seaweedfs/build.sh`)"
_MODULE = "github.com/seaweedfs/seaweedfs"
_TOOLS = Path(__file__).resolve().parent.parent / "tools" / "seaweedfs"


def find_weed() -> Path:
    """The ``weed`` binary in the versioned cache, or a ServiceError naming ``make s3-bins``."""
    override = os.environ.get(DIR_ENV)
    if override:
        directory = Path(override)
    else:
        match = re.search(
            rf"^\s*(?:require\s+)?{re.escape(_MODULE)}\s+(v\S+)",
            (_TOOLS / "go.mod").read_text(),
            re.MULTILINE,
        )
        if match is None:
            raise process.ServiceError(f"cannot read the {_MODULE} version from {_TOOLS}/go.mod")
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        directory = cache / "tenant-operator" / "bin" / f"seaweedfs-{match.group(1)}"
    weed = directory / "weed"
    if not os.access(weed, os.X_OK):
        raise process.ServiceError(f"SeaweedFS `weed` not found in {directory}; {BUILD_HINT}")
    return weed


@dataclass(frozen=True)
class S3Identity:
    name: str
    access_key: str
    secret_key: str


class S3Server(process.Service):
    """``weed server -s3`` on loopback; ``endpoint``, ``admin`` and ``reader`` once started."""

    def __init__(self, *, root: Path | None = None) -> None:
        self.binary = find_weed()
        self.root = root or Path(tempfile.mkdtemp(prefix="tenantop-s3-"))
        self._own_root = root is None
        self.port = process.free_port()
        self.admin = S3Identity("admin", "admin-" + secrets.token_hex(8), secrets.token_hex(20))
        self.reader = S3Identity("reader", "reader-" + secrets.token_hex(8), secrets.token_hex(20))
        self.log_path = self.root / "seaweedfs.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"S3Server(endpoint={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, object]:
        return {
            "identities": [
                {
                    "name": self.admin.name,
                    "credentials": [
                        {"accessKey": self.admin.access_key, "secretKey": self.admin.secret_key}
                    ],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": self.reader.name,
                    "credentials": [
                        {"accessKey": self.reader.access_key, "secretKey": self.reader.secret_key}
                    ],
                    "actions": ["Read", "List"],
                },
            ]
        }

    def start(self) -> Self:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps(self._config()))
        config.chmod(0o600)
        ports = {name: process.free_port() for name in ("master", "volume", "filer")}
        argv = [
            str(self.binary),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=400",  # each bucket is a collection of 7 volumes (files grow as written)
            "-s3",
            f"-s3.port={self.port}",
            f"-s3.port.grpc={process.free_port()}",
            f"-s3.config={config}",
            f"-metricsPort={process.free_port()}",
        ]
        for name, port in ports.items():
            argv += [f"-{name}.port={port}", f"-{name}.port.grpc={process.free_port()}"]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root)}
        self._proc = process.spawn(argv, None, log_path=self.log_path, env=env)
        process.wait_until(
            self._ready, what="SeaweedFS S3", proc=self._proc, log_path=self.log_path, timeout=90
        )
        log.info("SeaweedFS S3 at %s", self.endpoint)
        return self

    def _ready(self) -> bool:
        """The S3 gateway answers (an anonymous request is refused with 403: it is up)."""
        try:
            with urllib.request.urlopen(self.endpoint + "/", timeout=2):  # noqa: S310 (http://127.0.0.1 only)
                return True
        except urllib.error.HTTPError as error:
            return error.code in (403, 200)
        except OSError:
            return False

    def stop(self) -> None:
        process.stop(self._proc, timeout=5.0)  # weed waits ~20 s for SIGTERM; nothing to lose
        self._proc = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
