"""The ``TenantDataRequest`` resource: a data-subject request (DPA s.7, GDPR Art. 12-20)."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from tenant_operator.api.common import (
    ApiModel,
    Condition,
    ObjectMeta,
    Slug,
    checked_name,
    list_map,
)
from tenant_operator.api.tenant import OwnerEmail
from tenant_operator.domain import naming
from tenant_operator.domain.vocabulary import DataRequestType

KIND = "TenantDataRequest"
PLURAL = "tenantdatarequests"

#: Where a bundle goes: an S3-compatible bucket (and prefix) or a directory.
DESTINATION_PATTERN = (
    r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._/-]*)?|file:///[!-~]*)$"
)
Destination = Annotated[str, StringConstraints(pattern=DESTINATION_PATTERN, max_length=1024)]


class Subject(ApiModel):
    """The person the request is about: one account of the tenant, by email or by id."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {"rule": "has(self.email) != has(self.id)", "message": "give email or id, not both"}
            ]
        }
    }

    email: OwnerEmail | None = None
    """The account's email address."""
    id: uuid.UUID | None = None
    """The account's id."""

    @model_validator(mode="after")
    def _one(self) -> "Subject":
        if (self.email is None) == (self.id is None):
            raise ValueError("give email or id, not both")
        return self


class DataRequestSpec(ApiModel):
    """What is asked. Immutable: a different request is a new object."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "a data-subject request cannot be changed: create a new one",
                },
                {
                    "rule": "self.type != 'Erasure' || has(self.subject)",
                    "message": "an Erasure names its subject (spec.subject.email or .id); "
                    "erasing a whole tenant is deleting it with deletionPolicy Delete",
                    "fieldPath": ".subject",
                    "reason": "FieldValueRequired",
                },
                {
                    "rule": "self.type != 'Erasure' || !has(self.destination)",
                    "message": "only an Export has a destination",
                    "fieldPath": ".destination",
                    "reason": "FieldValueForbidden",
                },
            ]
        }
    }

    tenant: Slug
    """The tenant (its Tenant's name) whose data is asked for."""
    type: DataRequestType
    """Export (a copy of the data, GDPR Art. 15 and 20) or Erasure (Art. 17)."""
    subject: Subject | None = None
    """The person; absent means the whole tenant (Export only)."""
    destination: Destination | None = None
    """Export only: s3://bucket/prefix or file:///directory (default: the operator's setting)."""

    @model_validator(mode="after")
    def _consistent(self) -> "DataRequestSpec":
        if self.type == DataRequestType.ERASURE and self.subject is None:
            raise ValueError("an Erasure names its subject (spec.subject.email or .id)")
        if self.type == DataRequestType.ERASURE and self.destination is not None:
            raise ValueError("only an Export has a destination")
        return self


class ExportStatus(ApiModel):
    """Where the bundle is and how to check it."""

    location: str
    """The bundle's URL (s3://... or file:///...)."""
    sha256: str
    """SHA-256 of the bundle file; `tenant-operator verify-export` checks it all."""
    rows: int
    """Rows exported, all tables together."""
    files: int
    """Data files in the bundle."""


class Recipient(ApiModel):
    """A sub-processor that received the subject's data and must be told (GDPR Art. 19)."""

    name: str
    purpose: str
    location: str
    data_categories: list[str] = Field(default_factory=list)


class Erased(ApiModel):
    """What one store held about the subject and what was done with it."""

    where: str
    """The store and table or path, e.g. postgres:accounts or openbao:invites."""
    action: Literal["erased", "anonymised", "redacted", "destroyed"]
    """erased: rows deleted; anonymised: rows kept for the tenant's records with the link to
    the person removed; redacted: audit details nulled (the chain still verifies);
    destroyed: OpenBao data destroyed with all its versions."""
    count: int
    """How many rows, entries or objects."""


class ErasureStatus(ApiModel):
    """What was erased, where, and who else must erase."""

    erased: list[Erased] = Field(default_factory=list, json_schema_extra=list_map("where"))
    """Per store and table, what was erased, anonymised, redacted or destroyed."""
    recipients: list[Recipient] = Field(default_factory=list, json_schema_extra=list_map("name"))
    """Sub-processors to inform of the erasure."""
    key_rotated_at: datetime | None = None
    """When the tenant's data key was replaced and live data re-sealed without the subject."""
    backups_clear_at: datetime | None = None
    """From this date no backup holds anything readable about the subject (old key versions
    trimmed once the backup-retention window has passed)."""
    key_versions_trimmed_at: datetime | None = None
    """When the old key versions were trimmed."""


class DataRequestStatus(ApiModel):
    """Observed state of the request."""

    observed_generation: int | None = None
    """The .metadata.generation last processed."""
    received_at: datetime | None = None
    """When the operator first recorded the request."""
    due_at: datetime | None = None
    """The legal time limit: one month after receipt (GDPR Art. 12(3))."""
    completed_at: datetime | None = None
    """When the export or erasure was done."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=list_map("type"))
    """Ready, Reconciling, Stalled, Completed and Overdue."""
    export: ExportStatus | None = None
    """Export only: the bundle."""
    erasure: ErasureStatus | None = None
    """Erasure only: what was erased and who to inform."""


class TenantDataRequest(ApiModel):
    """A data-subject request on one tenant: an export or the erasure of one person."""

    model_config = ApiModel.model_config | {"extra": "ignore"}

    api_version: Literal["integraci.io/v1alpha1"] = "integraci.io/v1alpha1"
    kind: Literal["TenantDataRequest"] = "TenantDataRequest"
    metadata: ObjectMeta
    spec: DataRequestSpec
    status: DataRequestStatus | None = None

    @field_validator("metadata")
    @classmethod
    def _name(cls, metadata: ObjectMeta) -> ObjectMeta:
        return checked_name(
            metadata, lambda name: naming.validate_label(name, what="data request name")
        )
