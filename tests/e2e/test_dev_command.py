"""`make dev` as a user runs it: nothing secret on its output.

The attack: whoever sees the terminal, a CI log or a screen share of ``make dev`` must not
get the OpenBao root token or the PostgreSQL superuser DSN; they are only in ``.dev/env``,
which is readable by its owner alone even when it existed before with a wider mode.
"""

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devenv.kubebin import KubeBinariesMissing, find_kube_binaries

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Press Ctrl-C to stop"
EXAMPLE_TENANTS = ("acme", "globex", "initech")
START_TIMEOUT = 300.0


def _env_values(env_file: Path) -> dict[str, str]:
    values = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value.strip("'")
    return values


def test_make_dev_prints_no_secret_and_keeps_its_env_file_private(tmp_path: Path) -> None:
    try:
        find_kube_binaries()
    except KubeBinariesMissing as exc:
        pytest.fail(f"`make dev` needs the real kube-apiserver: {exc}", pytrace=False)
    env_file = tmp_path / "dev" / "env"
    env_file.parent.mkdir()
    env_file.write_text("stale\n")
    env_file.chmod(0o644)  # left world-readable by an earlier run or by hand
    command = [
        sys.executable, "-m", "devenv",
        "--env-file", str(env_file),
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if READY_LINE in line:
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(1.0):
            assert proc.poll() is None, "the dev stack exited:\n" + "".join(lines[-40:])
            assert time.monotonic() < deadline, "not up in time:\n" + "".join(lines[-40:])
        mode = stat.S_IMODE(env_file.stat().st_mode)
        values = _env_values(env_file)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=10)
    output = "".join(lines)
    token, dsn = values["BAO_TOKEN"], values["DATABASE_URL"]
    assert token and dsn, "the env file lost its settings"
    problems = []
    if mode != 0o600:
        problems.append(f".dev/env is mode {mode:o}, readable by others")
    if token in output:
        problems.append("make dev printed the OpenBao root token")
    if dsn in output:
        problems.append("make dev printed the PostgreSQL superuser DSN")
    if token in (env_file.parent / "operator.log").read_text():
        problems.append("the operator's log holds the OpenBao root token")
    assert not problems
    assert str(env_file) in output  # still tells the user where to look
    # and still brings every example tenant to Ready (its `kubectl get tenants` table)
    rows = {line.split()[0]: line.split() for line in lines if line.split()}
    for name in EXAMPLE_TENANTS:
        assert name in rows and "True" in rows[name], f"example {name} not Ready:\n{output}"
