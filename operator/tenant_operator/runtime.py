"""The composition root: the only module that names the concrete adapters.

Builds what the operator talks to and the controller's :class:`Context` over it, serves
the metrics, and closes it all at shutdown; kept in kopf's memo, never in globals.
"""

import asyncio
import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kubernetes import client
from prometheus_client import start_http_server

from tenant_operator.adapters.export.bundle import BundleWriter, remove_stale
from tenant_operator.adapters.kubernetes.client import build_api_client
from tenant_operator.adapters.kubernetes.discovery import require_served
from tenant_operator.adapters.kubernetes.peering import PeeringConfig, PeeringView
from tenant_operator.adapters.kubernetes.secrets import KubeSecrets
from tenant_operator.adapters.kubernetes.tenants import KubeTenants
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.export import PostgresExport
from tenant_operator.adapters.postgres.isolation import verify_isolation
from tenant_operator.adapters.postgres.migrations import migrate
from tenant_operator.adapters.postgres.requests import PostgresRequests
from tenant_operator.adapters.postgres.session import Pool, make_pool
from tenant_operator.adapters.postgres.tenants import PostgresTenants
from tenant_operator.adapters.storage import open_destination
from tenant_operator.adapters.transport import require_secure
from tenant_operator.api.common import GROUP, VERSION
from tenant_operator.api.datarequest import PLURAL as DATA_REQUESTS
from tenant_operator.api.subprocessor import PLURAL as SUBPROCESSORS
from tenant_operator.api.tenant import PLURAL as TENANTS
from tenant_operator.controller.context import Context
from tenant_operator.controller.inventory import Inventory
from tenant_operator.controller.metrics import Metrics
from tenant_operator.controller.ports import Ports, RequestPorts
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.reserved import reserved_slugs, settings_problems
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The opened adapters (to close at shutdown) and the controller's context over them."""

    settings: Settings
    pool: Pool
    bao: OpenBaoTenants
    api_client: client.ApiClient
    context: Context


async def start(settings: Settings, peering: PeeringConfig | None = None) -> Runtime:
    """Check the CRDs are served, open the pool, migrate, ensure OpenBao's platform objects.

    Also lists the sub-processor register and the Secrets' versions (see inventory), before
    any handler runs.
    """
    check_names(settings)
    insecure = require_secure(settings, os.environ)  # before any connection is made
    for why in insecure.values():
        log.warning("insecure transport allowed: %s", why)
    api_client = build_api_client()
    pool = make_pool(
        settings.database_url.get_secret_value(), settings, timeout=settings.pool_timeout_seconds
    )
    try:
        await require_served(
            api_client,
            [
                (GROUP, VERSION, TENANTS),
                (GROUP, VERSION, SUBPROCESSORS),
                (GROUP, VERSION, DATA_REQUESTS),
            ],
        )
        await pool.open()
        version = await migrate(pool, settings)
        log.info("platform schema %s at version %d", settings.platform_schema, version)
        db = PostgresTenants(pool, settings)
        upgraded = await db.upgrade_schemas()
        if upgraded:
            log.info("upgraded tenant schemas: %s", upgraded)
        bao = OpenBaoTenants(settings)
        await bao.ensure_platform()
        work_dir = _work_dir(settings)
        if work_dir is not None and (stale := remove_stale(work_dir)):
            log.info("removed exports left staged by an earlier run: %s", ", ".join(stale))
        kube = KubeTenants(api_client, label_selector=settings.scope.own_selector())
        k8s_secrets = KubeSecrets(api_client)
        inventory = Inventory.build(
            await kube.list_subprocessors(),
            await k8s_secrets.stamps(settings.allowed_secret_namespaces),
        )
    except BaseException:
        await pool.close()
        api_client.close()  # type: ignore[no-untyped-call]
        raise
    ports = Ports(
        db=db,
        audit=AuditLog(pool, settings, vault=bao),
        bao=bao,
        k8s_secrets=k8s_secrets,
        verify_isolation=partial(verify_isolation, pool, settings),
        tenants=kube,
    )
    context = Context(
        settings=settings,
        ports=ports,
        metrics=Metrics.create(),
        inventory=inventory,
        peering=PeeringView(
            api_client,
            peering or PeeringConfig(name=None, identity="standalone"),
            settings.allowed_secret_namespaces,
        ),
        admission=asyncio.Semaphore(settings.max_concurrent_reconciles),
        requests=RequestPorts(
            log=PostgresRequests(pool, settings),
            export_source=PostgresExport(pool, settings, vault=bao),
            signer=bao,
            destination=partial(open_destination, settings=settings),
            new_files=partial(BundleWriter, workdir=work_dir),
        ),
    )
    for connection in insecure:
        context.metrics.insecure_transport.labels(connection=connection).set(1)
    return Runtime(settings=settings, pool=pool, bao=bao, api_client=api_client, context=context)


def serve_metrics(metrics: Metrics, port: int) -> None:
    """Serve ``metrics`` on ``port`` (0: not at all), on every interface of the pod."""
    if port:
        start_http_server(port, addr="0.0.0.0", registry=metrics.registry)  # noqa: S104


def check_names(settings: Settings) -> None:
    """Refuse settings under which whole families of slugs collide; log the refused slugs."""
    problems = settings_problems(settings.names)
    if problems:
        raise PermanentError("; ".join(problems), reason=Reason.INVALID_SETTINGS)
    for slug, message in reserved_slugs(settings.names).items():
        log.info("slug %s is refused under these settings: %s", slug, message)


async def stop(runtime: Runtime) -> None:
    await runtime.pool.close()
    runtime.bao.close()
    runtime.api_client.close()  # type: ignore[no-untyped-call]


def _work_dir(settings: Settings) -> Path | None:
    return None if settings.export_work_dir is None else Path(settings.export_work_dir)
