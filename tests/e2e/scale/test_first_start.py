"""An operator started while the API server is still initialising the CRDs' storage.

The CRDs are applied and the operator starts at once; its first requests can meet
429 "storage is (re)initializing". Tenants created right after, many more than the
worker limit, must all become Ready, and so must tenants that existed, never handled,
before an operator was first started.
"""

from collections.abc import Iterator

import pytest

from devenv.kube import KubeApi
from devenv.kubedev import apply_crds
from devenv.openbao import OpenBaoServer
from devenv.postgres import PostgresServer
from tests.support.fleet import Fleet, fleet_on, slugs
from tests.support.kube import CRD_DIR

pytestmark = [pytest.mark.e2e]

WORKERS = "8"


@pytest.fixture(scope="module")
def fleet(
    fresh_kube: KubeApi,
    postgres_server: PostgresServer,
    openbao_server: OpenBaoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    with fleet_on(
        fresh_kube,
        postgres_server,
        openbao_server,
        tmp_path_factory.mktemp("first-start"),
        "firststart",
        start=False,
        max_workers=WORKERS,
        drift_period_seconds="3600",
    ) as fleet:
        yield fleet


def test_start_during_api_initialisation_then_a_burst(fleet: Fleet) -> None:
    apply_crds(fleet.kube, sorted(CRD_DIR.glob("*.yaml")))
    fleet.operator.start()  # at once: the CRDs' storage may still be initialising
    names = slugs("init", 200)
    fleet.create(names)
    fleet.wait_ready(set(names), timeout=400)


def test_tenants_that_exist_before_the_operator_starts(fleet: Fleet) -> None:
    fleet.operator.stop()
    apply_crds(fleet.kube, sorted(CRD_DIR.glob("*.yaml")))  # whether or not the test above ran
    names = slugs("pre", 100)
    fleet.create(names)
    fleet.operator.start()
    fleet.wait_ready(set(names), timeout=300)
