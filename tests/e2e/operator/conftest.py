"""The operator as a subprocess against real kube-apiserver, PostgreSQL and OpenBao."""

import base64
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import psycopg
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devenv.kube import KubeApi
from devenv.openbao import OpenBaoServer
from devenv.operator import OperatorProcess, ensure_namespaces, operator_for
from devenv.postgres import PostgresServer
from devenv.s3 import S3Server
from tenant_operator.domain.envelope import DataKey, KeyRing
from tenant_operator.settings import Settings

GROUP, VERSION, PLURAL = "integraci.io", "v1alpha1", "tenants"
SECRETS_NS = "tenant-secrets"
OWNER_LABEL = "integraci.io/tenant"  # the tenant owning a connector Secret
DB = "e2e"


@dataclass
class Stack:
    api: Any
    pg: PostgresServer
    bao: OpenBaoServer
    operator: OperatorProcess
    settings: Settings
    planted: set[str]
    s3: S3Server

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.pg.dsn(DB), autocommit=True) as conn:
            cur = conn.execute(query.encode(), params)  # test-only, superuser
            return cur.fetchall() if cur.description else []

    def bao_root(self, namespace: str | None = None) -> hvac.Client:
        return hvac.Client(
            url=self.bao.addr,
            verify=str(self.bao.ca_cert),
            token=self.bao.root_token,
            namespace=namespace,
        )

    def key_ring(self, tenant_id: uuid.UUID) -> KeyRing:
        """The tenant's data keys, unwrapped with OpenBao's root token (personal data is
        stored sealed: the test opens it the way the platform application does)."""
        (slug,), *_ = self.sql("SELECT slug FROM integraci.tenants WHERE id = %s", [tenant_id])
        rows = self.sql(
            "SELECT version, wrapped FROM integraci.tenant_keys WHERE tenant_id = %s",
            [tenant_id],
        )
        transit = self.bao_root(self.settings.bao_namespace)
        path = f"/v1/{self.settings.transit_mount}/decrypt/tenant-{slug}"
        return KeyRing.of(
            tenant_id,
            [
                DataKey(
                    v,
                    base64.b64decode(
                        transit.adapter.post(path, json={"ciphertext": w})["data"]["plaintext"]
                    ),
                )
                for v, w in rows
            ],
        )

    def tenant(self, slug: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, slug)
        return obj

    def apply_tenant(self, slug: str, **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Tenant",
            "metadata": {"name": slug, "annotations": spec.pop("annotations", {})},
            "spec": {
                "organisation": f"{slug.title()} Ltd",
                "plan": "team",
                "owner": {"name": "Jane Roe", "email": f"jane@{slug}.example"},
                **spec,
            },
        }
        obj: dict[str, Any] = self.custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
        return obj

    def patch_tenant(self, slug: str, patch: dict[str, Any]) -> None:
        self.custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, slug, patch)

    def delete_tenant(self, slug: str) -> None:
        self.custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, slug)

    def put_secret(self, name: str, data: dict[str, str], *, owner: str | None) -> None:
        """Create or replace a connector Secret; ``owner``: the tenant its label names."""
        self.planted.update(data.values())
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        labels = {OWNER_LABEL: owner} if owner else None
        body = client.V1Secret(metadata=client.V1ObjectMeta(name=name, labels=labels), data=encoded)
        try:
            self.core.create_namespaced_secret(SECRETS_NS, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_secret(name, SECRETS_NS, body)

    def condition(self, slug: str, type_: str) -> dict[str, Any] | None:
        for c in (self.tenant(slug).get("status") or {}).get("conditions") or []:
            if c["type"] == type_:
                return dict(c)
        return None

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
            except ApiException as exc:
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.25)
        tail = "\n".join(self.operator.log().splitlines()[-40:])
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}\noperator log:\n{tail}")

    def wait_ready(self, slug: str, status: str = "True", timeout: float = 60) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            tenant = self.tenant(slug)
            cond = self.condition(slug, "Ready")
            generation = tenant["metadata"]["generation"]
            observed = (tenant.get("status") or {}).get("observedGeneration")
            if cond and cond["status"] == status and observed == generation:
                return tenant
            return None

        result: dict[str, Any] = self.wait(f"tenant {slug} Ready={status}", ready, timeout)
        return result

    def wait_gone(self, slug: str, timeout: float = 60) -> None:
        def gone() -> bool:
            try:
                self.tenant(slug)
            except ApiException as exc:
                return exc.status == 404
            return False

        self.wait(f"tenant {slug} deleted", gone, timeout)


@pytest.fixture(scope="session")
def stack(
    kube_api: KubeApi,
    crds: list[Path],
    api_client: Any,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    # A durable OpenBao of its own: an outage test stops and restarts it, keeping state.
    with OpenBaoServer(durable=True) as openbao_server:
        yield from _stack(
            kube_api, api_client, postgres_server, openbao_server, s3_server, tmp_path_factory
        )


def _stack(
    kube_api: KubeApi,
    api_client: Any,
    postgres_server: PostgresServer,
    openbao_server: OpenBaoServer,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    settings = Settings()
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    ensure_namespaces(kube_api, ["default"])
    running = operator_for(
        postgres_server,
        openbao_server,
        kube_api,
        dbname=DB,
        log_path=log_path,
        settings=settings,
        drift_period_seconds="2",
        drift_tenants_per_second="1000",
        backup_retention_seconds="0",  # no backups here: an erasure's key trim is due at once
        data_request_recheck_seconds="2",
        s3_endpoint=s3_server.endpoint,  # s3:// exports go to the local SeaweedFS
        export_work_dir=str(tmp_path_factory.mktemp("export-work")),
    )
    running.env["AWS_ACCESS_KEY_ID"] = s3_server.admin.access_key
    running.env["AWS_SECRET_ACCESS_KEY"] = s3_server.admin.secret_key
    with running as operator:
        token = operator.env["BAO_TOKEN"]
        yield Stack(
            api_client,
            postgres_server,
            openbao_server,
            operator,
            settings,
            {token, s3_server.admin.secret_key},
            s3_server,
        )


def metrics(stack: Stack) -> str:
    with urllib.request.urlopen(stack.operator.metrics_url, timeout=5) as resp:
        return str(resp.read().decode())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
