"""Encryption in transit, as the operator process does it against the real servers: TLS
verified by default, plaintext refused unless allowed (then a warning and the metric),
and a server whose certificate does not verify is a clear error.
"""

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devenv import certs
from devenv.operator import OperatorProcess
from tests.e2e.operator.conftest import Stack

CLI = Path(sys.executable).with_name("tenant-operator")


def run_once(env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    done = subprocess.run(
        [str(CLI), "run", "--standalone"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def plaintext(env: dict[str, str]) -> dict[str, str]:
    """The stack operator's environment, its DSN not verifying and OpenBao over http://."""
    dsn = env["DATABASE_URL"].replace("sslmode=verify-full", "sslmode=require")
    addr = env["BAO_ADDR"].replace("https://", "http://")
    return {**env, "DATABASE_URL": dsn, "BAO_ADDR": addr}


def test_the_stack_operator_verifies_both_servers(stack: Stack) -> None:
    env = stack.operator.env
    assert "sslmode=verify-full" in env["DATABASE_URL"] and "sslrootcert=" in env["DATABASE_URL"]
    assert env["BAO_ADDR"].startswith("https://") and Path(env["BAO_CACERT"]).is_file()
    ((ssl,),) = stack.sql(
        "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
        " WHERE a.usename = %s",
        [stack.settings.operator_role],
    )
    assert ssl is True, "every connection of the operator's role is TLS"


def test_plaintext_is_refused_with_a_message_that_says_how_to_fix_it(stack: Stack) -> None:
    code, out = run_once(plaintext(stack.operator.env))
    assert code != 0, out[-2000:]
    assert "refusing to connect without verified TLS" in out
    assert "sslmode is 'require'" in out and "sslmode=verify-full" in out
    assert "BAO_CACERT" in out and "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT" in out
    assert stack.operator.env["BAO_TOKEN"] not in out


def logged(stack: Stack, env: dict[str, str], log: Path, *wanted: str) -> str:
    """Run an operator with ``env`` (the stack's one stopped) until its log has ``wanted``."""
    stack.operator.stop()  # one operator at a time on the stack's tenants
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(CLI), "run", "--standalone"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + 90
            text = ""
            while time.monotonic() < deadline:
                text = log.read_text()
                if all(w in text for w in wanted):
                    return text
                time.sleep(0.5)
            raise AssertionError(f"{wanted} not in the log:\n{text[-3000:]}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        stack.operator.start()


def test_a_wrong_ca_is_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.crt"
    other.write_bytes(certs._cert_pem(certs._build_ca().cert))
    env = {**stack.operator.env, "BAO_CACERT": str(other)}
    logged(
        stack,
        env,
        tmp_path / "bao.log",
        "OpenBao's TLS certificate does not verify",
        "certificate verify failed",
        "set BAO_CACERT",
    )
    dsn = stack.operator.env["DATABASE_URL"].replace(str(stack.pg.ca_cert), str(other))
    env = {**stack.operator.env, "DATABASE_URL": dsn}
    logged(stack, env, tmp_path / "pg.log", "certificate verify failed")


def test_allowed_plaintext_runs_and_says_so_in_a_warning_and_the_metric(
    stack: Stack, tmp_path: Path
) -> None:
    env = {**plaintext(stack.operator.env), "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT": "true"}
    env["BAO_ADDR"] = stack.operator.env["BAO_ADDR"]  # OpenBao serves TLS only: kept
    insecure = OperatorProcess(env, tmp_path / "insecure.log")
    stack.operator.stop()  # one operator at a time on the stack's tenants
    try:
        with insecure:
            deadline = time.monotonic() + 60
            text = ""
            while time.monotonic() < deadline and "insecure_transport{" not in text:
                try:
                    with urllib.request.urlopen(insecure.metrics_url, timeout=5) as resp:
                        text = resp.read().decode()
                except OSError:
                    time.sleep(0.5)
        assert 'tenant_operator_insecure_transport{connection="postgres"} 1.0' in text
        assert 'connection="openbao"' not in text
        log = insecure.log_path.read_text()
        assert "insecure transport allowed: PostgreSQL sslmode is 'require'" in log
    finally:
        stack.operator.start()
