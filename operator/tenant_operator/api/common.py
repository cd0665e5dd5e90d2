"""Pieces shared by the API models: the base model, names, metadata and conditions."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from tenant_operator.domain import naming
from tenant_operator.domain.errors import PermanentError

GROUP = "integraci.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: A DNS-1123 label (connector names, namespaces, sub-processor names).
Label = Annotated[
    str,
    StringConstraints(pattern=naming.LABEL_PATTERN, max_length=naming.LABEL_MAX_LENGTH),
]
#: A tenant slug: a DNS label of at most 40 characters.
Slug = Annotated[
    str, StringConstraints(pattern=naming.SLUG_PATTERN, max_length=naming.SLUG_MAX_LENGTH)
]
#: A DNS-1123 subdomain (Kubernetes object names such as Secrets).
Subdomain = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        max_length=253,
    ),
]
#: Free text shown to people (organisation, owner name, purposes): bounded, single line.
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class ApiModel(BaseModel):
    """Base of every API model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class ObjectMeta(BaseModel):
    """The parts of Kubernetes object metadata the operator reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    name: str
    generation: int | None = None
    uid: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    deletion_timestamp: str | None = Field(None, alias="deletionTimestamp")
    creation_timestamp: str | None = Field(None, alias="creationTimestamp")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """One aspect of the object's state, in the Kubernetes API conventions' shape."""

    type: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=316)]
    """CamelCase type of the condition, e.g. Ready or DatabaseReady."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    ]
    """A CamelCase, machine-readable reason for the last transition."""
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    """A human-readable message: what happened and what to do."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation the condition was set for."""
    last_transition_time: datetime
    """When the status last changed (not when the condition was last checked)."""


def checked_name(metadata: ObjectMeta, validate: Callable[[str], str]) -> ObjectMeta:
    """``metadata`` if ``validate`` accepts its name, else the ValueError pydantic reports."""
    try:
        validate(metadata.name)
    except PermanentError as exc:
        raise ValueError(exc.message) from None
    return metadata


def list_map(*keys: str) -> dict[str, Any]:
    """Schema markers for a list keyed by ``keys`` (server-side apply merges by key)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def dump(model: BaseModel) -> dict[str, Any]:
    """The wire form of a model: camelCase, no unset optionals, JSON types."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
