"""Reading Tenants from a real API server: readiness as GitOps tools see it, paged listing."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from kubernetes import client

GROUP, VERSION, PLURAL = "integraci.io", "v1alpha1", "tenants"
PAGE = 500
#: The committed CRDs (``tenant-operator crds`` writes them).
CRD_DIR = Path(__file__).resolve().parents[2] / "crds"


def is_ready(tenant: dict[str, Any]) -> bool:
    """Ready=True for the current generation (the status observed the latest spec)."""
    status = tenant.get("status") or {}
    if status.get("observedGeneration") != tenant["metadata"]["generation"]:
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


def iter_tenants(
    custom: client.CustomObjectsApi, *, label_selector: str = "", page: int = PAGE
) -> Iterator[dict[str, Any]]:
    """Every Tenant, listed in pages of ``page`` (``limit``/``continue``); nothing is kept."""
    token: str | None = None
    for _ in range(100_000):  # bounded: 100k pages
        kwargs: dict[str, Any] = {"limit": page, "label_selector": label_selector}
        if token:
            kwargs["_continue"] = token
        listed = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)
        answer = cast(dict[str, Any], listed)
        yield from answer["items"]
        token = answer["metadata"].get("continue")
        if not token:
            return
