"""Which Kubernetes object a registered tenant belongs to, and how another one adopts it (pure).

The registry row of a tenant records the ``metadata.uid`` of its Tenant object. A Tenant
deleted with deletionPolicy Retain leaves its row (``retained_at`` set), data, OpenBao
secrets and owner account behind; a new Tenant object under the same slug has another uid
and gets none of it unless it carries the adoption annotation naming the retained tenant's
registry id (shown in the refusal). Rows from before the uid was recorded (no uid, not
retained) are claimed by the first Tenant reconciled under their slug: the upgrade path.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

ADOPT_ANNOTATION = "integraci.io/adopt"
RETAINED_TENANT_EXISTS = Reason.RETAINED_TENANT_EXISTS

Claim = Literal["owned", "claim", "adopt"]


@dataclass(frozen=True)
class Registered:
    """What the registry says about a slug: its tenant id and the object it belongs to."""

    tenant_id: uuid.UUID
    k8s_uid: uuid.UUID | None
    retained_at: datetime | None

    def belongs_to(self, uid: uuid.UUID | None) -> bool:
        """Whether the object with ``uid`` owns this row (an unclaimed live row: presumed)."""
        if self.k8s_uid is None:
            return self.retained_at is None
        return self.k8s_uid == uid


@dataclass(frozen=True)
class Adoption:
    """An adoption that happened: the audit entry's detail (ids only, nothing personal)."""

    tenant_id: uuid.UUID
    previous_uid: uuid.UUID | None
    uid: uuid.UUID
    retained_at: datetime | None

    def detail(self) -> dict[str, str | None]:
        return {
            "retainedTenant": str(self.tenant_id),
            "previousUid": str(self.previous_uid) if self.previous_uid else None,
            "uid": str(self.uid),
            "retainedAt": self.retained_at.isoformat() if self.retained_at else None,
            "annotation": f"{ADOPT_ANNOTATION}={self.tenant_id}",
        }


def parse_uid(value: str | None) -> uuid.UUID:
    """The Tenant's metadata.uid as a UUID (Kubernetes always sets one)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise PermanentError(
            "the Tenant has no valid metadata.uid; it cannot be told apart from a retained "
            "tenant under the same slug",
            reason=Reason.INVALID_SPEC,
        ) from None


def decide(slug: str, registered: Registered, uid: uuid.UUID, adopt: str | None) -> Claim:
    """Own, claim or adopt the row; refuse (RetainedTenantExists) anything else."""
    if registered.k8s_uid == uid:
        return "owned"
    if registered.k8s_uid is None and registered.retained_at is None:
        return "claim"
    if adopt is not None and adopt.strip().lower() == str(registered.tenant_id):
        return "adopt"
    # The id is the adoption key: it is never shown to whoever wrote this Tenant (a status
    # condition), only to whoever may read the registry (a platform administrator).
    if registered.retained_at is not None:
        what = (
            "a retained tenant (its Tenant was deleted with deletionPolicy Retain at "
            f"{registered.retained_at.isoformat()})"
        )
    else:
        what = "the tenant of another Tenant object (deleted without the operator's finalizer)"
    wrong = f"{ADOPT_ANNOTATION}={adopt[:64]!r} does not name it; " if adopt is not None else ""
    raise PermanentError(
        f"the slug {slug} belongs to {what}: its data, OpenBao secrets and owner account are "
        f"kept and nothing was changed; {wrong}to take them over with this Tenant, a platform "
        f"administrator annotates it {ADOPT_ANNOTATION}=<the retained tenant's id, from the "
        "tenant registry; not shown here> (audited), or choose another name",
        reason=RETAINED_TENANT_EXISTS,
    )
