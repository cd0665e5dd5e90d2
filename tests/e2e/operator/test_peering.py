"""Two replicas with kopf peering: one works, the other stands by and takes over."""

import contextlib
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from devenv.operator import OperatorProcess
from devenv.process import free_port
from tests.e2e.operator.conftest import SECRETS_NS, Stack, unique

RESUMING = "Resuming operations after the pause"


def replica(stack: Stack, log_dir: Path, name: str, priority: int) -> OperatorProcess:
    env = dict(stack.operator.env)
    env["TENANT_OPERATOR_METRICS_PORT"] = str(free_port())
    env["TENANT_OPERATOR_LIVENESS_PORT"] = str(free_port())
    env["TENANT_OPERATOR_PEERING_LIFETIME_SECONDS"] = "10"
    return OperatorProcess(env, log_dir / f"{name}.log", standalone=False, priority=priority)


@pytest.fixture
def peering(stack: Stack) -> Iterator[None]:
    """The peering object of the tenant-operator neighbourhood; the standalone one stops."""
    body = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {"name": "tenant-operator", "namespace": SECRETS_NS},
    }
    try:
        stack.custom.create_namespaced_custom_object(
            "kopf.dev", "v1", SECRETS_NS, "kopfpeerings", body
        )
    except ApiException as exc:
        if exc.status != 409:
            raise
    stack.operator.stop()
    try:
        yield
    finally:
        stack.operator.start()


@contextlib.contextmanager
def replica_logs_on_failure(*replicas: OperatorProcess) -> Iterator[None]:
    try:
        yield
    except AssertionError as exc:
        tails = [
            f"--- {r.log_path.name}:\n" + "\n".join(r.log().splitlines()[-25:]) for r in replicas
        ]
        raise AssertionError(f"{exc}\n" + "\n".join(tails)) from None


def handled(operator: OperatorProcess, slug: str) -> bool:
    """This replica provisioned ``slug`` (the OpenBao adapter logs each new tenant)."""
    return f"OpenBao tenant {slug}:" in operator.log()


def drift_scans(operator: OperatorProcess) -> float:
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    found = re.search(r"^tenant_operator_drift_scan_seconds_count (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.usefixtures("peering")
def test_standby_replica_pauses_and_takes_over(stack: Stack, tmp_path: Path) -> None:
    with (
        replica(stack, tmp_path, "active", 100) as active,
        replica(stack, tmp_path, "standby", 50) as standby,
        replica_logs_on_failure(active, standby),
    ):
        # With mandatory peering every replica starts paused; only the highest resumes.
        stack.wait("the active replica to resume", lambda: RESUMING in active.log())

        def priorities() -> list[int]:
            peers = (
                stack.custom.get_namespaced_custom_object(
                    "kopf.dev", "v1", SECRETS_NS, "kopfpeerings", "tenant-operator"
                ).get("status")
                or {}
            )
            return sorted(p["priority"] for p in peers.values())

        # A replica answers /healthz before its first peering keep-alive is written.
        stack.wait("both replicas in the peering record", lambda: priorities() == [50, 100])
        assert RESUMING not in standby.log()
        first = unique("ha")
        stack.apply_tenant(first)
        stack.wait_ready(first)
        assert handled(active, first)
        assert not handled(standby, first)
        # Only the active replica runs the drift scanner (a scan every 2 s here).
        stack.wait("a drift scan on the active replica", lambda: drift_scans(active) >= 2)
        assert drift_scans(standby) == 0
        active.stop()
        stack.wait(
            "the standby to resume",
            lambda: RESUMING in standby.log(),
            timeout=60,
        )
        second = unique("ha")
        stack.apply_tenant(second)
        stack.wait_ready(second)
        assert handled(standby, second)
