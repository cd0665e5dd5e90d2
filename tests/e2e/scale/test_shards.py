"""Two operator shards on one real kube-apiserver, sharing PostgreSQL and OpenBao.

Each shard is an operator started with ``shards=2`` and its own ``shard``, peering in its
own neighbourhood (both are active at once). A shard's Tenant watch is filtered by the
API server, so who handled a tenant shows in kopf's own annotations: a shard writes only
under its prefix (``<shard>.kopf.integraci.io``). The chart's admission policy (rendered
from the chart, applied here) refuses a silent change of a tenant's shard label.
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from devenv.kube import KubeApi
from devenv.kubedev import apply_crds
from devenv.openbao import OpenBaoServer
from devenv.operator import OperatorProcess
from devenv.postgres import PostgresServer
from devenv.process import free_port
from tenant_operator.domain.sharding import MOVE_ANNOTATION, SHARD_LABEL, assign_shard
from tests.support.chart import documents
from tests.support.fleet import Fleet, api_for, fleet_operator, slugs
from tests.support.kube import CRD_DIR, GROUP, PLURAL, VERSION, is_ready

pytestmark = [pytest.mark.e2e]

SHARDS = 2
SECRETS_NS = "tenant-secrets"
PEERINGS = ("tenant-operator", "tenant-operator-shard-1")
REFUSED = "is not changed or removed silently"


class Shards(Fleet):
    shard: dict[str, OperatorProcess]

    def labelled(self, slugs_: list[str], shard: str | None) -> None:
        for slug in slugs_:
            body: dict[str, Any] = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Tenant",
                "metadata": {"name": slug, "labels": {SHARD_LABEL: shard} if shard else {}},
                "spec": {
                    "organisation": f"{slug} Ltd",
                    "plan": "free",
                    "owner": {"name": "Jane Roe", "email": f"jane@{slug}.example"},
                },
            }
            self.custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)

    def get(self, slug: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, slug)
        return found

    def wait(self, what: str, check: Any, timeout: float) -> Any:
        try:
            return super().wait(what, check, timeout)
        except AssertionError as exc:
            tails = [
                f"--- shard {n}:\n" + "\n".join(op.log().splitlines()[-15:])
                for n, op in self.shard.items()
            ]
            raise AssertionError(f"{exc}\n" + "\n".join(tails)) from None


def handled_by(tenant: dict[str, Any]) -> set[str]:
    """The shards whose kopf wrote its bookkeeping on ``tenant``."""
    annotations = tenant["metadata"].get("annotations") or {}
    return {
        key.split(".", 1)[0]
        for key in annotations
        if key.endswith(".kopf.integraci.io/last-handled-configuration")
    }


def shard_env(base: dict[str, str], shard: str | None) -> dict[str, str]:
    env = dict(base)
    env["TENANT_OPERATOR_SHARDS"] = str(SHARDS)
    env.pop("TENANT_OPERATOR_SHARD", None)
    if shard is not None:
        env["TENANT_OPERATOR_SHARD"] = shard
    env["TENANT_OPERATOR_METRICS_PORT"] = str(free_port())
    env["TENANT_OPERATOR_LIVENESS_PORT"] = str(free_port())
    return env


def apply(kube: KubeApi, docs: list[dict[str, Any]]) -> None:
    manifest = "\n".join(json.dumps(d) for d in docs)
    done = kube.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def shards(
    fresh_kube: KubeApi,
    postgres_server: PostgresServer,
    openbao_server: OpenBaoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Shards]:
    apply_crds(fresh_kube, sorted(CRD_DIR.glob("*.yaml")))
    log_dir = tmp_path_factory.mktemp("shards")
    base = fleet_operator(
        fresh_kube,
        postgres_server,
        openbao_server,
        log_dir / "unused.log",
        "shards",
        drift_period_seconds="3600",
    )
    rendered = documents({"shards": SHARDS})
    apply(
        fresh_kube,
        [d for d in rendered if d["kind"].startswith("ValidatingAdmissionPolicy")]
        + [
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "KopfPeering",
                "metadata": {"name": name, "namespace": SECRETS_NS},
            }
            for name in PEERINGS
        ],
    )
    operators = {
        str(n): OperatorProcess(
            shard_env(base.env, str(n)), log_dir / f"shard-{n}.log", standalone=False
        )
        for n in range(SHARDS)
    }
    with api_for(fresh_kube) as api, operators["0"], operators["1"]:
        fleet = Shards(fresh_kube, postgres_server, "shards", operators["0"], api)
        fleet.shard = operators
        yield fleet


def test_a_sharded_replica_without_a_shard_refuses_to_start(shards: Shards) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tenant_operator.cli", "run"],
        env=shard_env(shards.shard["0"].env, None),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to start" in done.stderr
    assert "set TENANT_OPERATOR_SHARD to one of 0, 1" in done.stderr


def test_each_shard_reconciles_only_its_own_and_unlabelled_ones_are_assigned(
    shards: Shards,
) -> None:
    zero, one, unlabelled = slugs("s0", 4), slugs("s1", 4), slugs("un", 8)
    shards.labelled(zero, "0")
    shards.labelled(one, "1")
    shards.labelled(unlabelled, None)
    tenants = {t["metadata"]["name"]: t for t in shards.wait_ready({*zero, *one, *unlabelled}, 180)}
    for slug in unlabelled:  # assigned once, by the slug's stable hash
        assert tenants[slug]["metadata"]["labels"][SHARD_LABEL] == assign_shard(slug, SHARDS)
    assert {assign_shard(s, SHARDS) for s in unlabelled} == {"0", "1"}, "pick other slugs"
    for slug in zero:
        assert handled_by(tenants[slug]) == {"0"}, slug
    for slug in one:
        assert handled_by(tenants[slug]) == {"1"}, slug
    for slug in unlabelled:
        # the default shard assigned it; its owner reconciled it
        assert handled_by(tenants[slug]) == {"0", assign_shard(slug, SHARDS)}, slug
    # Both shards are active at once: each peers in its own neighbourhood.
    for operator in shards.shard.values():
        assert "Resuming operations after the pause" in operator.log()


def refused(shards: Shards, slug: str, patch: dict[str, Any], *, dry_run: bool = False) -> str:
    try:
        shards.custom.patch_cluster_custom_object(
            GROUP, VERSION, PLURAL, slug, patch, **({"dry_run": "All"} if dry_run else {})
        )
    except ApiException as exc:
        assert exc.status in (403, 422), exc
        return str(exc.body)
    return ""


def test_a_shard_label_is_moved_only_on_purpose(shards: Shards) -> None:
    (slug,) = slugs("mv", 1)
    shards.labelled([slug], "0")
    shards.wait_ready({slug}, 120)
    move = {"metadata": {"labels": {SHARD_LABEL: "1"}}}
    # The policy is enforced once the API server has loaded it (dry-run probes change nothing).
    shards.wait("the shard-label policy", lambda: refused(shards, slug, move, dry_run=True), 30)
    assert REFUSED in refused(shards, slug, move)
    assert REFUSED in refused(shards, slug, {"metadata": {"labels": {SHARD_LABEL: None}}})
    wrong = {"metadata": {"labels": {SHARD_LABEL: "1"}, "annotations": {MOVE_ANNOTATION: "0"}}}
    assert REFUSED in refused(shards, slug, wrong)
    assert shards.get(slug)["metadata"]["labels"][SHARD_LABEL] == "0"
    # Other label and spec changes are not the policy's business.
    assert refused(shards, slug, {"metadata": {"labels": {"team": "billing"}}}) == ""
    # An explicit move: the new shard takes the tenant over and reconciles it.
    on_purpose = {"metadata": {"labels": {SHARD_LABEL: "1"}, "annotations": {MOVE_ANNOTATION: "1"}}}
    assert refused(shards, slug, on_purpose) == ""
    shards.wait(
        "shard 1 to take the moved tenant over", lambda: "1" in handled_by(shards.get(slug)), 60
    )
    shards.patch(slug, {"organisation": f"{slug} Moved Ltd"})
    shards.wait_ready({slug}, 60)


def test_stopping_one_shard_leaves_the_other_working(shards: Shards) -> None:
    zero, one = slugs("st0", 2), slugs("st1", 2)
    shards.labelled(zero, "0")
    shards.labelled(one, "1")
    shards.wait_ready({*zero, *one}, 120)
    shards.shard["1"].stop()
    try:
        for slug in (*zero, *one):
            shards.patch(slug, {"organisation": f"{slug} Renamed Ltd"})
        fresh = slugs("new", 6)
        shards.labelled(fresh, None)
        mine = [s for s in fresh if assign_shard(s, SHARDS) == "0"]
        theirs = [s for s in fresh if s not in mine]
        # Shard 0 keeps reconciling its own tenants and assigning new ones.
        shards.wait_ready({*zero, *mine}, 90)
        shards.wait(
            "every new tenant labelled",
            lambda: all(SHARD_LABEL in shards.get(s)["metadata"].get("labels", {}) for s in fresh),
            60,
        )
        time.sleep(3)  # shard 1's tenants wait for shard 1: nobody else touches them
        waiting = [shards.get(s) for s in (*one, *theirs)]
        assert not [t["metadata"]["name"] for t in waiting if is_ready(t)]
        assert all(handled_by(t) <= {"0"} for t in waiting if t["metadata"]["name"] in theirs)
    finally:
        shards.shard["1"].start()
    shards.wait_ready({*one, *theirs}, 120)
