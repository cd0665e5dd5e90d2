"""Check at startup that the operator's CRDs are served.

kopf's own scanning of CRDs and namespaces is disabled (it would need cluster-wide read
access to both), so without this check an operator started before its CRDs were installed
would sit idle without a word. It exits instead, saying what to install.
"""

import asyncio
from collections.abc import Iterable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

Resource = tuple[str, str, str]  # (group, version, plural)


async def require_served(api_client: client.ApiClient, resources: Iterable[Resource]) -> None:
    """Raise PermanentError naming every resource the API server does not serve."""
    missing = await asyncio.to_thread(_missing, api_client, list(resources))
    if missing:
        raise PermanentError(
            f"the Kubernetes API does not serve {', '.join(missing)}: install the CRDs "
            "first (`kubectl apply --server-side -f crds/`, or the Helm chart's crds/)",
            reason=Reason.CRDS_MISSING,
        )


def _missing(api_client: client.ApiClient, resources: list[Resource]) -> list[str]:
    custom = client.CustomObjectsApi(api_client)
    served: dict[tuple[str, str], set[str]] = {}
    missing = []
    for group, version, plural in resources:
        if (group, version) not in served:
            served[(group, version)] = _served(custom, group, version)
        if plural not in served[(group, version)]:
            missing.append(f"{plural}.{group}/{version}")
    return missing


def _served(custom: client.CustomObjectsApi, group: str, version: str) -> set[str]:
    try:
        answer = custom.get_api_resources(group, version)
    except ApiException as exc:
        if exc.status == 404:
            return set()
        raise translate(exc, f"discover {group}/{version}") from None
    except TRANSPORT_ERRORS as exc:
        raise translate(exc, f"discover {group}/{version}") from None
    return {r.name for r in answer.resources or []}
