"""Process plumbing shared by the local-service launchers."""

import abc
import logging
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

#: Unprivileged account used to run servers that refuse root (initdb, postgres).
FALLBACK_USER = "tenantop-svc"


class Service(abc.ABC):
    """A local service: ``with Service() as svc`` starts it and always stops it."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServiceError(RuntimeError):
    """A local service could not be started; the message says what to install or check."""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unprivileged_user(preferred: str = "postgres") -> pwd.struct_passwd | None:
    """The account to run a root-refusing server as, or None when we are not root.

    As root: Debian's ``postgres`` user when it exists, otherwise a system user the
    launcher creates once (``tenantop-svc``).
    """
    if os.geteuid() != 0:
        return None
    for name in (preferred, FALLBACK_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
    )
    return pwd.getpwnam(FALLBACK_USER)


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    os.chown(path, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(Path(root) / name, user.pw_uid, user.pw_gid)


def run_as(
    argv: Sequence[str], user: pwd.struct_passwd | None, *, log_path: Path, env: dict[str, str]
) -> None:
    """Run a command to completion as ``user``; on failure raise with its log's tail."""
    with log_path.open("ab") as out:
        result = subprocess.run(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            check=False,
        )
    if result.returncode != 0:
        raise ServiceError(f"{argv[0]} failed (exit {result.returncode}):\n{tail(log_path)}")


def spawn(
    argv: Sequence[str], user: pwd.struct_passwd | None, *, log_path: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start a long-running server in its own process group, output to ``log_path``."""
    out = log_path.open("ab")
    try:
        return subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            start_new_session=True,
        )
    finally:
        out.close()


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    timeout: float = 60.0,
) -> None:
    """Poll ``ready`` until it is true; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"{what} exited with code {proc.returncode} while starting:\n{tail(log_path)}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise ServiceError(f"{what} was not ready after {timeout:.0f}s:\n{tail(log_path)}")


def stop(
    proc: subprocess.Popen[bytes] | None, *, sig: int = signal.SIGTERM, timeout: float = 20.0
) -> None:
    """Stop a spawned server (and its process group); escalate to SIGKILL after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        log.warning("process %s did not stop in %.0fs; killing it", proc.args, timeout)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def tail(log_path: Path | None, lines: int = 30) -> str:
    if log_path is None or not log_path.exists():
        return "(no log)"
    text = log_path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])
