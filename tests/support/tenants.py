"""Builders of Tenant bodies (the dicts kopf hands the handlers) for tests."""

from typing import Any

SECRET_NAMESPACE = "tenant-secrets"
CREATED = "2026-05-01T00:00:00+00:00"


def tenant_body(
    slug: str = "acme",
    *,
    plan: str = "team",
    connectors: tuple[str, ...] = ("github",),
    secret_namespace: str = SECRET_NAMESPACE,
    generation: int = 1,
    uid: str = "00000000-0000-4000-8000-000000000001",
    annotations: dict[str, str] | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Tenant as the API server returns it; ``spec`` adds or overrides spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "integraci.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {
            "name": slug,
            "uid": uid,
            "generation": generation,
            "creationTimestamp": CREATED,
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "organisation": f"{slug.title()} Ltd",
            "plan": plan,
            "owner": {"name": "Jo Owner", "email": f"jo@{slug}.example"},
            "connectors": [
                {
                    "name": name,
                    "type": name,
                    "secretRef": {"namespace": secret_namespace, "name": f"{slug}-{name}"},
                }
                for name in connectors
            ],
            **spec,
        },
    }
    if status is not None:
        body["status"] = status
    return body


def tenant_manifest(
    name: str,
    *,
    organisation: str = "Acme Ltd",
    plan: str = "team",
    email: str = "jane@acme.example",
    **spec: Any,
) -> dict[str, Any]:
    """A Tenant as a user writes it (name and spec only); ``spec`` adds or overrides fields."""
    return {
        "apiVersion": "integraci.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {
            "organisation": organisation,
            "plan": plan,
            "owner": {"name": "Jane Roe", "email": email},
            **spec,
        },
    }
