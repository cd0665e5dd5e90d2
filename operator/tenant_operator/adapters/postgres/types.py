"""What the provisioning adapter returns (frozen); what it takes is in domain.records."""

import uuid
from dataclasses import dataclass

from tenant_operator.domain.identity import Adoption
from tenant_operator.domain.vocabulary import Isolation


@dataclass(frozen=True)
class DatabaseState:
    """What a tenant is in PostgreSQL after ``ensure_tenant`` (``changed`` empty on no-op)."""

    tenant_id: uuid.UUID
    isolation: Isolation
    schema: str | None
    schema_version: int | None
    changed: tuple[str, ...] = ()
    #: Set when this reconcile adopted a retained tenant (the audit entry's content).
    adopted: Adoption | None = None


@dataclass(frozen=True)
class OwnerState:
    """The owner account after ``ensure_owner_account``.

    ``token`` is the plaintext invite when one was issued now (a new owner; returned once,
    Postgres keeps only its SHA-256); ``replaced`` the previous owner's account, deleted
    with its password hash and invite (an owner change revokes the previous owner).
    """

    account_id: uuid.UUID
    token: str | None = None
    replaced: uuid.UUID | None = None
    changed: tuple[str, ...] = ()
