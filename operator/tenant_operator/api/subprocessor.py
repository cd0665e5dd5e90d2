"""The ``SubProcessor`` resource: one entry of the platform's sub-processor register."""

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from tenant_operator.api.common import (
    ApiModel,
    Condition,
    ObjectMeta,
    Text,
    checked_name,
    list_map,
)
from tenant_operator.domain import naming

KIND = "SubProcessor"
PLURAL = "subprocessors"


class SubProcessorSpec(ApiModel):
    """A third party that processes tenant data on the platform's behalf (DPA section 5)."""

    purpose: Text
    """What the sub-processor does, e.g. Subscription billing."""
    data_categories: list[Text] = Field(min_length=1, max_length=32)
    """Categories of personal data it processes."""
    location: Text
    """Where it processes the data (country or region)."""
    transfer_mechanism: Text
    """Safeguard for international transfers, e.g. SCCs."""
    notice_days: int = Field(30, ge=0, le=365)
    """Days of advance notice enterprise tenants get before it becomes active for them."""


class SubProcessorStatusModel(ApiModel):
    """Observed state of a register entry."""

    observed_generation: int | None = None
    """The .metadata.generation last processed."""
    announced_at: datetime | None = None
    """When the operator first saw the entry: the notice period starts here."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=list_map("type"))
    """Conditions of the entry."""


class SubProcessor(ApiModel):
    """A sub-processor in the platform's register."""

    model_config = ApiModel.model_config | {"extra": "ignore"}

    api_version: Literal["integraci.io/v1alpha1"] = "integraci.io/v1alpha1"
    kind: Literal["SubProcessor"] = "SubProcessor"
    metadata: ObjectMeta
    spec: SubProcessorSpec
    status: SubProcessorStatusModel | None = None

    @field_validator("metadata")
    @classmethod
    def _name(cls, metadata: ObjectMeta) -> ObjectMeta:
        return checked_name(
            metadata, lambda name: naming.validate_label(name, what="sub-processor name")
        )
