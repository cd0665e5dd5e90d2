"""Is this replica the active one? Read from kopf's peering objects, by kopf's own rule.

kopf pauses a replica's watches while another live peer has a higher priority, or the
same one. Operator-wide tasks that are not watches (the drift scanner) are not paused by
kopf, so they ask here before each round. The KopfPeering status maps each peer's
identity to its priority, when it was last seen and for how long that counts.
"""

import asyncio
import getpass
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate

KOPF_GROUP, KOPF_VERSION, KOPF_PEERINGS = "kopf.dev", "v1", "kopfpeerings"


@dataclass(frozen=True)
class PeeringConfig:
    """How this replica peers: ``name`` None means standalone (always active)."""

    name: str | None
    identity: str
    priority: int = 0


def peering_identity() -> str:
    """This replica's peering identity: ``POD_ID`` (the chart sets the pod name), else
    user@host/pid. kopf is given the same one, so the peering status can be read back."""
    return os.environ.get("POD_ID") or f"{getpass.getuser()}@{socket.gethostname()}/{os.getpid()}"


def replica_priority(explicit: int | None, *, standalone: bool) -> int:
    """This replica's peering priority: ``explicit`` (``run --priority``) when given.

    Otherwise a random one from 1 to 2**31: the chart starts every replica of its
    Deployment with the same arguments, and kopf pauses all peers of equal priority, so
    two replicas at the same default would both stand by. Drawn, one is active (the
    higher) and the other stands by until it goes.
    """
    if explicit is not None:
        return explicit
    return 0 if standalone else 1 + secrets.randbelow(2**31)


def outranked(peers: Mapping[str, Any], *, identity: str, priority: int, now: datetime) -> bool:
    """True when a live peer other than ``identity`` has a priority >= ``priority``."""
    for peer, info in peers.items():
        if peer == identity or not isinstance(info, Mapping):
            continue
        seen = info.get("lastseen")
        if not seen:
            continue
        deadline = datetime.fromisoformat(str(seen)) + timedelta(
            seconds=int(info.get("lifetime", 60))
        )
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        if deadline > now and int(info.get("priority", 0)) >= priority:
            return True
    return False


class PeeringView:
    def __init__(
        self, api_client: client.ApiClient, config: PeeringConfig, namespaces: Sequence[str]
    ) -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self.config = config
        self.namespaces = tuple(namespaces)

    async def active(self) -> bool:
        if self.config.name is None:
            return True
        return await asyncio.to_thread(self._active, self.config.name)

    def _active(self, name: str) -> bool:
        now = datetime.now(UTC)
        for namespace in self.namespaces:
            try:
                body = self._custom.get_namespaced_custom_object(
                    KOPF_GROUP, KOPF_VERSION, namespace, KOPF_PEERINGS, name
                )
            except ApiException as exc:
                if exc.status == 404:
                    continue  # no peering object here: nobody else peers in it
                raise translate(exc, f"read KopfPeering {namespace}/{name}") from None
            except TRANSPORT_ERRORS as exc:
                raise translate(exc, f"reading KopfPeering {namespace}/{name}") from None
            peers = body.get("status") or {} if isinstance(body, dict) else {}
            if outranked(
                peers, identity=self.config.identity, priority=self.config.priority, now=now
            ):
                return False
        return True
