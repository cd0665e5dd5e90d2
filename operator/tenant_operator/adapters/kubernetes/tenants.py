"""Tenant objects as the operator touches them outside kopf's own handling.

Nudging (an annotation patch) makes kopf run the Tenant's update handler; it is how
Secret changes, sub-processor changes and the drift scanner ask for a reconcile.
"""

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate
from tenant_operator.api.common import GROUP, VERSION
from tenant_operator.api.tenant import PLURAL

log = logging.getLogger(__name__)

NUDGE_ANNOTATION = "integraci.io/reconcile-requested"
EVENTS_NAMESPACE = "default"  # events of cluster-scoped objects live here (as kubectl expects)


class KubeTenants:
    def __init__(self, api_client: client.ApiClient, *, component: str = "tenant-operator") -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._component = component

    async def list_all(self) -> list[Mapping[str, Any]]:
        return await asyncio.to_thread(self._list)

    def _list(self) -> list[Mapping[str, Any]]:
        try:
            result = self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        except (ApiException, *TRANSPORT_ERRORS) as exc:
            raise translate(exc, "list tenants") from None
        items: list[Mapping[str, Any]] = result["items"] if isinstance(result, dict) else []
        return items

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
