"""Fleets of tenants on a kube-apiserver of their own, with an operator that is restarted.

:class:`Fleet` is the tenants on one API server and the operator handling them;
:func:`fleet_on` builds one for a test module (``tests/e2e/scale``), with the operator
started or not, and stops whichever operator the tests left running.
"""

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from kubernetes import client, config

from devenv.kube import KubeApi
from devenv.openbao import OpenBaoServer
from devenv.operator import OperatorProcess, operator_for
from devenv.postgres import PostgresServer
from tests.support.kube import GROUP, PLURAL, VERSION, is_ready, iter_tenants


@dataclass
class Fleet:
    """Tenants on ``kube`` and the operator that handles them."""

    kube: KubeApi
    pg: PostgresServer
    dbname: str
    operator: OperatorProcess
    api: Any

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def create(self, slugs: list[str], *, plan: str = "free") -> None:
        for slug in slugs:
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Tenant",
                "metadata": {"name": slug},
                "spec": {
                    "organisation": f"{slug} Ltd",
                    "plan": plan,
                    "owner": {"name": "Jane Roe", "email": f"jane@{slug}.example"},
                },
            }
            self.custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)

    def patch(self, slug: str, spec: dict[str, Any]) -> None:
        self.custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, slug, {"spec": spec})

    def tenants(self) -> list[dict[str, Any]]:
        """Every Tenant, listed in pages (as a client of a large fleet should)."""
        return list(iter_tenants(self.custom))

    def audit_counts(self) -> dict[str, int]:
        with psycopg.connect(self.pg.dsn(self.dbname), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT chain, count(*) FROM integraci.audit_log GROUP BY chain"
            ).fetchall()
        return {str(chain): int(count) for chain, count in rows}

    def wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(1.0)
        tail = "\n".join(self.operator.log().splitlines()[-30:])
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")

    def wait_ready(self, slugs: set[str], timeout: float) -> list[dict[str, Any]]:
        def all_ready() -> list[dict[str, Any]] | None:
            mine = [t for t in self.tenants() if t["metadata"]["name"] in slugs]
            waiting = [t for t in mine if not is_ready(t)]
            return mine if len(mine) == len(slugs) and not waiting else None

        def describe() -> str:
            mine = [t for t in self.tenants() if t["metadata"]["name"] in slugs]
            return f"{sum(map(is_ready, mine))} of {len(slugs)} tenants Ready"

        try:
            found: list[dict[str, Any]] = self.wait("tenants Ready", all_ready, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{describe()}: {exc}") from None
        return found


def fleet_operator(
    fresh_kube: KubeApi,
    pg: PostgresServer,
    bao: OpenBaoServer,
    log_path: Path,
    dbname: str,
    **extra: str,
) -> OperatorProcess:
    return operator_for(
        pg, bao, fresh_kube, dbname=dbname, log_path=log_path, settings=None, **extra
    )


def slugs(prefix: str, count: int) -> list[str]:
    run = uuid.uuid4().hex[:5]
    return [f"{prefix}-{run}-{i:04d}" for i in range(count)]


def api_for(kube: KubeApi) -> Any:
    return config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kube.kubeconfig)
    )


@contextlib.contextmanager
def fleet_on(
    kube: KubeApi,
    pg: PostgresServer,
    bao: OpenBaoServer,
    log_dir: Path,
    dbname: str,
    *,
    start: bool,
    **extra: str,
) -> Iterator[Fleet]:
    """A fleet on ``kube`` whose operator logs to ``log_dir``; started now if ``start``.

    On the way out the fleet's current operator is stopped (tests may replace it).
    """
    operator = fleet_operator(kube, pg, bao, log_dir / "operator.log", dbname, **extra)
    running = operator if start else contextlib.nullcontext()
    with api_for(kube) as api, running:
        fleet = Fleet(kube, pg, dbname, operator, api)
        try:
            yield fleet
        finally:
            fleet.operator.stop()
