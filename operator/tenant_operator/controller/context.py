"""What every trigger is handed: the ports and the operator's own in-memory state.

Built once at startup by :func:`tenant_operator.runtime.start` (the composition root) and
kept in kopf's memo; in unit tests, built over in-memory fakes of the ports.
"""

import asyncio
import weakref
from dataclasses import dataclass, field

from tenant_operator.controller.inventory import Inventory
from tenant_operator.controller.metrics import Metrics
from tenant_operator.controller.ports import Peering, Ports, RequestPorts
from tenant_operator.settings import Settings


@dataclass
class Context:
    settings: Settings
    ports: Ports
    metrics: Metrics
    inventory: Inventory
    peering: Peering
    #: How many tenants are worked on at once (reconciles and erasures): what PostgreSQL
    #: and OpenBao are given, however many objects kopf has handed a worker.
    admission: asyncio.Semaphore
    #: Data-subject requests (None where a test or tool builds a context without them).
    requests: RequestPorts | None = None
    #: The uids of the requests currently Overdue (the gauge counts them).
    overdue: set[str] = field(default_factory=set)
    #: One lock per request uid while it is handled: kopf runs a resource's timer beside
    #: its change handlers, and two runs of one request must never overlap.
    request_locks: "weakref.WeakValueDictionary[str, asyncio.Lock]" = field(
        default_factory=weakref.WeakValueDictionary
    )

    def request_lock(self, uid: str) -> asyncio.Lock:
        lock = self.request_locks.get(uid)
        if lock is None:
            lock = self.request_locks[uid] = asyncio.Lock()
        return lock
