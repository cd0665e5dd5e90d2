"""Tenant objects as the operator touches them outside kopf's own handling.

Nudging (an annotation patch) makes kopf run the Tenant's update handler; it is how
Secret changes, sub-processor changes and the drift scanner ask for a reconcile.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate
from tenant_operator.adapters.kubernetes.paging import METADATA_ONLY, PAGE_SIZE, pages
from tenant_operator.api.common import GROUP, VERSION
from tenant_operator.api.subprocessor import PLURAL as SUBPROCESSORS
from tenant_operator.api.tenant import PLURAL

log = logging.getLogger(__name__)

NUDGE_ANNOTATION = "integraci.io/reconcile-requested"
EVENTS_NAMESPACE = "default"  # events of cluster-scoped objects live here (as kubectl expects)


async def _in_threads(
    pages: Iterator[list[dict[str, Any]]],
) -> AsyncIterator[list[dict[str, Any]]]:
    """Fetch each page of a blocking LIST in a thread, off the event loop."""
    while (page := await asyncio.to_thread(next, pages, None)) is not None:
        yield page


class KubeTenants:
    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        component: str = "tenant-operator",
        label_selector: str | None = None,
    ) -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._component = component
        #: This shard's tenants only (filtered by the API server); None: every tenant.
        self._tenants = {"label_selector": label_selector} if label_selector else {}

    def _lister(self, plural: str, **extra: Any) -> Callable[[str | None], Any]:
        def fetch(token: str | None) -> Any:
            return self._custom.list_cluster_custom_object(
                GROUP, VERSION, plural, limit=PAGE_SIZE, _continue=token, **extra
            )

        return fetch

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Every Tenant (of this shard), a page at a time (never the whole fleet at once)."""
        async for page in _in_threads(pages(self._lister(PLURAL, **self._tenants), "tenants")):
            yield page

    async def names(self) -> list[str]:
        """The names of every Tenant of this shard (metadata only)."""
        fetch = self._lister(
            PLURAL, _headers=METADATA_ONLY, _preload_content=False, **self._tenants
        )

        def collect() -> list[str]:
            return [str(i["metadata"]["name"]) for p in pages(fetch, "tenants") for i in p]

        return await asyncio.to_thread(collect)

    async def list_subprocessors(self) -> list[dict[str, Any]]:
        fetch = self._lister(SUBPROCESSORS)

        def collect() -> list[dict[str, Any]]:
            return [item for page in pages(fetch, "sub-processors") for item in page]

        return await asyncio.to_thread(collect)

    async def nudge(self, slug: str, why: str) -> None:
        """Ask kopf to reconcile ``slug`` again (no-op if it is gone)."""
        await asyncio.to_thread(self._nudge, slug, why)

    def _nudge(self, slug: str, why: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        body = {"metadata": {"annotations": {NUDGE_ANNOTATION: f"{stamp} {why}"[:250]}}}
        try:
            self._custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, slug, body)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise translate(exc, f"annotate tenant {slug}") from None
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, f"annotating tenant {slug}") from None

    async def event(
        self, tenant: Mapping[str, Any], *, type_: str, reason: str, message: str
    ) -> None:
        """Post an Event about a Tenant (best effort: a failure is logged, not raised)."""
        await asyncio.to_thread(self._event, tenant, type_, reason, message)

    def _event(self, tenant: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = tenant.get("metadata", {})
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta.get('name', 'tenant')}."),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}",
                kind="Tenant",
                name=meta.get("name"),
                uid=meta.get("uid"),
            ),
            type=type_,
            reason=reason,
            message=message[:1024],
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component=self._component),
            reporting_component=self._component,
        )
        try:
            self._core.create_namespaced_event(EVENTS_NAMESPACE, event)
        except (ApiException, *TRANSPORT_ERRORS) as exc:
            log.warning("could not post event %s for tenant %s: %s", reason, meta.get("name"), exc)
