"""Pieces shared by the API models: the base model, names, metadata and conditions."""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


@dataclass(frozen=True)
class Cel:
    """A CEL validation rule the API server enforces on this value (x-kubernetes-validations)."""

    rule: str
    message: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        rules = schema.setdefault("x-kubernetes-validations", [])
        rules.append({"rule": self.rule, "message": self.message})
        return schema


#: Unicode categories refused in text: controls (Cc), format characters (Cf: bidi
#: overrides and isolates, zero-width spaces and joiners, the BOM, soft hyphens), line and
#: paragraph separators (Zl, Zp), private use (Co) and surrogates (Cs). Unassigned code
#: points are not refused: what is unassigned depends on each engine's Unicode version.
REFUSED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Co", "Cs")
#: The same as an RE2 class (the API server's CEL ``matches`` is RE2).
_REFUSED_RE2 = "[" + "".join(f"\\p{{{c}}}" for c in REFUSED_CATEGORIES) + "]"
#: Machine strings (connector config values) may span lines: tab, LF and CR are allowed.
_MACHINE_REFUSED_RE2 = (
    "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
    + "".join(f"\\p{{{c}}}" for c in REFUSED_CATEGORIES if c != "Cc")
    + "]"
)
_MACHINE_ALLOWED = frozenset("\t\n\r")
TEXT_MESSAGE = (
    "must not contain a format or control character (bidi override or isolate, zero-width "
    "space or joiner, line or paragraph separator, private-use or control character): "
    "retype the text without it"
)


def refused_character(value: str, *, allowed: frozenset[str] = frozenset()) -> str | None:
    """The first character of ``value`` in a refused category, as U+XXXX, or None."""
    for char in value:
        if char not in allowed and unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def _clean_text(value: str) -> str:
    """``value`` NFC-normalised; ValueError naming the first refused character."""
    if (found := refused_character(value)) is not None:
        raise ValueError(f"{TEXT_MESSAGE} (found {found})")
    return unicodedata.normalize("NFC", value)


def _clean_machine_string(value: str) -> str:
    if (found := refused_character(value, allowed=_MACHINE_ALLOWED)) is not None:
        raise ValueError(f"{TEXT_MESSAGE} (found {found})")
    return value


#: Free text shown to people (organisation, owner name, purposes): bounded, single line,
#: no format or control characters, stored NFC-normalised.
Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_clean_text),
    Cel(f"!self.matches(r'{_REFUSED_RE2}')", TEXT_MESSAGE),
]
#: A machine string (connector config value): may span lines, no format characters.
MachineString = Annotated[
    str,
    AfterValidator(_clean_machine_string),
    Cel(f"!self.matches(r'{_MACHINE_REFUSED_RE2}')", TEXT_MESSAGE),
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
