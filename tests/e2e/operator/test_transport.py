"""Encryption in transit, as the operator process does it: refused unless allowed, and
then said (a warning at startup, the metric).

The local PostgreSQL and OpenBao listen in plaintext (TLS in devenv is not built yet), so
the stack's operator runs with TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT; without it, the
same operator must refuse to start.
"""

import subprocess
import sys
from pathlib import Path

from tests.e2e.operator.conftest import Stack, metrics


def test_without_the_allowance_the_operator_refuses_plaintext_and_says_how_to_fix_it(
    stack: Stack,
) -> None:
    env = {
        k: v
        for k, v in stack.operator.env.items()
        if k != "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT"
    }
    cli = Path(sys.executable).with_name("tenant-operator")
    done = subprocess.run(
        [str(cli), "run", "--standalone"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-2000:]
    assert "refusing to connect without verified TLS" in out
    assert "sslmode=verify-full" in out and "BAO_CACERT" in out
    assert "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT" in out
    assert env["BAO_TOKEN"] not in out


def test_with_the_allowance_the_metric_names_each_insecure_connection(stack: Stack) -> None:
    text = metrics(stack)
    assert 'tenant_operator_insecure_transport{connection="postgres"} 1.0' in text
    assert 'tenant_operator_insecure_transport{connection="openbao"} 1.0' in text
