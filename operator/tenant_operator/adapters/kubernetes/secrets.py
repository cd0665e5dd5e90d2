"""Read connector Secrets. Values are returned to the caller only; never logged."""

import asyncio
import base64
from collections.abc import Mapping

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate


class KubeSecrets:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api_client)

    async def read(self, namespace: str, name: str) -> Mapping[str, bytes] | None:
        """The decoded data of a Secret, or None when it does not exist."""
        return await asyncio.to_thread(self._read, namespace, name)

    def _read(self, namespace: str, name: str) -> Mapping[str, bytes] | None:
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise translate(exc, f"read Secret {namespace}/{name}") from None
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, f"reading Secret {namespace}/{name}") from None
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        return data
