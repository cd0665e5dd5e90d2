"""Read connector Secrets. Values are returned to the caller only; never logged.

Each read carries the Secret's owner (its ``integraci.io/tenant`` label): the caller
routes a Secret only into the tenant that owns it.
"""

import asyncio
import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate
from tenant_operator.adapters.kubernetes.paging import METADATA_ONLY, PAGE_SIZE, pages
from tenant_operator.domain.ownership import owner_of


@dataclass(frozen=True)
class SecretContent:
    data: Mapping[str, bytes]
    version: str
    """The Secret's resourceVersion when it was read."""
    owner: str | None
    """The tenant its owner label names (None: none)."""


@dataclass(frozen=True)
class SecretStamp:
    """What the startup listing keeps of a Secret (metadata only, never data)."""

    version: str
    owner: str | None


class KubeSecrets:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api_client)

    async def read(self, namespace: str, name: str) -> SecretContent | None:
        """The decoded data of a Secret, or None when it does not exist."""
        return await asyncio.to_thread(self._read, namespace, name)

    def _read(self, namespace: str, name: str) -> SecretContent | None:
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise translate(exc, f"read Secret {namespace}/{name}") from None
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, f"reading Secret {namespace}/{name}") from None
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        meta = secret.metadata
        version = str(meta.resource_version if meta else "")
        return SecretContent(data, version, owner_of(meta.labels if meta else None))

    async def stamps(self, namespaces: Iterable[str]) -> dict[tuple[str, str], SecretStamp]:
        """The resourceVersion and owner of every Secret in ``namespaces`` (metadata, paged)."""
        return await asyncio.to_thread(self._stamps, tuple(namespaces))

    def _stamps(self, namespaces: tuple[str, ...]) -> dict[tuple[str, str], SecretStamp]:
        found: dict[tuple[str, str], SecretStamp] = {}
        for namespace in namespaces:

            def fetch(token: str | None, namespace: str = namespace) -> object:
                return self._core.list_namespaced_secret(
                    namespace,
                    limit=PAGE_SIZE,
                    _continue=token,
                    _headers=METADATA_ONLY,
                    _preload_content=False,
                )

            for page in pages(fetch, f"Secrets in {namespace}"):
                for item in page:
                    meta = item["metadata"]
                    found[(namespace, str(meta["name"]))] = SecretStamp(
                        str(meta["resourceVersion"]), owner_of(meta.get("labels"))
                    )
        return found
