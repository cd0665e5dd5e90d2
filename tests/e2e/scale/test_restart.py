"""A restarted operator resumes every tenant, whatever the worker limit, writing nothing.

300 tenants against a worker limit of 8: kopf keeps a worker per object while the
object is being handled, so any start that waits for every object before handling one
(as kopf does while its indexes are incomplete) can never finish with more objects than
workers. The test also changes tenants while the operator is down, SIGKILLs it in the
middle of a burst, and checks that unchanged tenants got no write and no audit entry.
"""

import os
import re
import signal
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from devenv.kube import KubeApi
from devenv.kubedev import apply_crds
from devenv.openbao import OpenBaoServer
from devenv.operator import OperatorProcess
from devenv.postgres import PostgresServer
from tests.support.fleet import Fleet, fleet_on, slugs
from tests.support.kube import CRD_DIR

pytestmark = [pytest.mark.e2e]

TENANTS = 300
WORKERS = "8"
CHANGED_WHILE_DOWN = 3


@pytest.fixture(scope="module")
def fleet(
    fresh_kube: KubeApi,
    postgres_server: PostgresServer,
    openbao_server: OpenBaoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    apply_crds(fresh_kube, sorted(CRD_DIR.glob("*.yaml")))
    with fleet_on(
        fresh_kube,
        postgres_server,
        openbao_server,
        tmp_path_factory.mktemp("restart"),
        "restart",
        start=True,
        max_workers=WORKERS,
        drift_period_seconds="3600",
    ) as fleet:
        yield fleet  # the tests replace the operator: fleet_on stops the last one


def restarted(fleet: Fleet, name: str) -> OperatorProcess:
    old = fleet.operator
    fleet.operator = OperatorProcess(old.env, old.log_path.with_name(f"{name}.log"))
    return fleet.operator.start()


def counter(operator: OperatorProcess, outcome: str) -> float:
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    pattern = rf'^tenant_operator_reconciles_total\{{outcome="{outcome}"\}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def versions(tenants: list[dict[str, Any]]) -> dict[str, str]:
    return {t["metadata"]["name"]: t["metadata"]["resourceVersion"] for t in tenants}


def test_restart_resumes_every_tenant_and_writes_nothing(fleet: Fleet) -> None:
    names = slugs("rs", TENANTS)
    fleet.create(names)
    before = versions(fleet.wait_ready(set(names), timeout=400))
    audit_before = fleet.audit_counts()

    fleet.operator.stop()
    changed = names[:CHANGED_WHILE_DOWN]
    for slug in changed:
        fleet.patch(slug, {"organisation": f"{slug} Renamed Ltd"})
    operator = restarted(fleet, "restarted")

    # Changed while the operator was down: reconciled after the restart.
    fleet.wait_ready(set(changed), timeout=120)
    # Changed after the restart: observed too (the operator is not wedged).
    late = names[-1]
    fleet.patch(late, {"organisation": f"{late} Later Ltd"})
    fleet.wait_ready({late}, timeout=120)
    # Every unchanged tenant was resumed (handled, found Ready at its generation)...
    unchanged = TENANTS - CHANGED_WHILE_DOWN
    fleet.wait(
        f"{unchanged} tenants resumed",
        lambda: counter(operator, "resumed") >= unchanged,
        timeout=120,
    )
    # ...and none of them was written to or audited.
    after = versions(fleet.tenants())
    written = sorted(s for s in names if after[s] != before[s] and s not in {*changed, late})
    assert written == [], f"{len(written)} unchanged tenants were written: {written[:5]}"
    audit_after = fleet.audit_counts()
    audited = sorted(
        s for s in names if s not in {*changed, late} and audit_after.get(s) != audit_before.get(s)
    )
    assert audited == [], f"{len(audited)} unchanged tenants got audit entries: {audited[:5]}"
    for slug in changed:
        assert audit_after[slug] > audit_before[slug]


def test_a_sigkilled_operator_is_replaced_by_one_that_finishes_the_burst(fleet: Fleet) -> None:
    names = slugs("kill", 100)
    fleet.create(names)
    fleet.wait(
        "a few tenants of the burst Ready",
        lambda: (
            sum(
                1
                for t in fleet.tenants()
                if t["metadata"]["name"] in names
                and (t.get("status") or {}).get("observedGeneration")
            )
            >= 10
        ),
        timeout=120,
    )
    assert fleet.operator.pid is not None
    os.kill(fleet.operator.pid, signal.SIGKILL)
    fleet.operator.stop()
    restarted(fleet, "after-kill")
    fleet.wait_ready(set(names), timeout=300)
