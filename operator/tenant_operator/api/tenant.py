"""The ``Tenant`` resource: one isolated tenant of the IntegraCI platform (cluster-scoped)."""

from datetime import datetime
from typing import Annotated, Any, Literal

import idna
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    field_validator,
)

from tenant_operator.api.common import (
    ApiModel,
    Cel,
    Condition,
    Label,
    MachineString,
    ObjectMeta,
    Slug,
    Subdomain,
    Text,
    checked_name,
    list_map,
)
from tenant_operator.domain import naming
from tenant_operator.domain.vocabulary import DeletionPolicy as DeletionPolicy
from tenant_operator.domain.vocabulary import Isolation as Isolation
from tenant_operator.domain.vocabulary import Plan as Plan
from tenant_operator.domain.vocabulary import SubProcessorState as SubProcessorState

KIND = "Tenant"
PLURAL = "tenants"
PAUSED_ANNOTATION = "integraci.io/paused"
PREVENT_DELETION_ANNOTATION = "integraci.io/prevent-deletion"
MAX_CONNECTORS = 32
MAX_CONFIG_KEYS = 32
MAX_CONFIG_VALUE = 1024


EMAIL_ASCII_MESSAGE = (
    "must be ASCII: write an internationalised domain in its IDNA A-label form (xn--...), "
    "e.g. jane@xn--bcher-kva.example for jane@b\u00fccher.example; a non-ASCII local part "
    "cannot be used"
)


def _owner_email(value: str) -> str:
    """An ASCII address with valid IDNA A-labels, its domain lower-cased; else ValueError."""
    local, _, domain = value.rpartition("@")
    if not value.isascii():
        hint = ""
        if local.isascii():
            try:
                hint = f" (here: {local}@{idna.encode(domain, uts46=True).decode()})"
            except idna.IDNAError:
                hint = ""
        raise ValueError(f"{EMAIL_ASCII_MESSAGE}{hint}")
    try:
        for label in domain.split("."):
            if label.lower().startswith("xn--"):
                idna.decode(label)
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{value!r} has an invalid IDNA label in its domain: {exc}") from None
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid email address: {exc}") from None
    return str(checked.ascii_email)


#: The owner's email: ASCII only (internationalised domains as IDNA A-labels).
OwnerEmail = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_owner_email),
    Field(json_schema_extra={"format": "email"}),
    Cel("self.matches('^[!-~]+$')", f"the owner email {EMAIL_ASCII_MESSAGE}"),
]


class Owner(ApiModel):
    """The tenant's owner: the first account, invited by email."""

    name: Text
    """Full name of the owner."""
    email: OwnerEmail
    """Work email of the owner; the invite is delivered to it."""


class SecretRef(ApiModel):
    """A Kubernetes Secret whose data the operator routes into OpenBao."""

    namespace: Label
    """Namespace of the Secret; must be one the operator is allowed to read from."""
    name: Subdomain
    """Name of the Secret."""


ConfigKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][-._A-Za-z0-9]*$", max_length=63)
]
ConfigValue = Annotated[MachineString, StringConstraints(max_length=MAX_CONFIG_VALUE)]


class Connector(ApiModel):
    """An integration of the tenant: non-secret configuration and where its secret is now."""

    name: Label
    """Unique name of the connector within the tenant (a DNS label)."""
    type: Label
    """Kind of integration, e.g. github, gitlab, slack."""
    config: dict[ConfigKey, ConfigValue] = Field(default_factory=dict, max_length=MAX_CONFIG_KEYS)
    """Non-secret settings as string values. Never put secrets here: use secretRef."""
    secret_ref: SecretRef
    """The Secret holding this connector's credentials; routed into OpenBao."""

    @field_validator("config", mode="before")
    @classmethod
    def _strings_only(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, str):
                    raise ValueError(
                        f"config.{key} must be a string, got {type(item).__name__}: "
                        'quote it in YAML (e.g. "true", "42")'
                    )
        return value


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
    return values


class SubProcessorChoices(ApiModel):
    """The tenant's choices about the platform's sub-processors (DPA section 7)."""

    objections: Annotated[list[Label], AfterValidator(_unique)] = Field(
        default_factory=list, max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Names of SubProcessors the tenant objects to."""


class TenantSpec(ApiModel):
    """Desired state of a tenant."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "!has(oldSelf.isolation) || "
                    "(has(self.isolation) && self.isolation == oldSelf.isolation)",
                    "message": "isolation cannot be changed or removed once set: "
                    "create a new Tenant and migrate instead",
                    "fieldPath": ".isolation",
                    "reason": "FieldValueForbidden",
                }
            ]
        }
    }

    organisation: Text
    """Legal or display name of the customer organisation."""
    plan: Plan
    """free, team or enterprise."""
    isolation: Isolation | None = None
    """shared or schema; defaults from the plan (enterprise: schema). Fixed after creation."""
    owner: Owner
    """The tenant's owner account."""
    connectors: list[Connector] = Field(
        default_factory=list, max_length=MAX_CONNECTORS, json_schema_extra=list_map("name")
    )
    """Integrations; names must be unique."""
    sub_processors: SubProcessorChoices = Field(default_factory=SubProcessorChoices)
    """Objections to sub-processors."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """Retain (default) keeps data and secrets when the Tenant is deleted; Delete erases them."""

    @field_validator("connectors")
    @classmethod
    def _unique_connectors(cls, value: list[Connector]) -> list[Connector]:
        _unique([c.name for c in value])
        return value

    @property
    def effective_isolation(self) -> Isolation:
        """The isolation tier: the explicit one, else the plan's default."""
        if self.isolation is not None:
            return self.isolation
        return Isolation.SCHEMA if self.plan is Plan.ENTERPRISE else Isolation.SHARED


class DatabaseStatus(ApiModel):
    """Where the tenant lives in PostgreSQL."""

    isolation: Isolation
    """The isolation tier in effect."""
    schema_: str | None = Field(None, alias="schema")
    """The dedicated schema (schema tier only)."""
    schema_version: int | None = None
    """Version of the table template the schema is at (schema tier only)."""


class SecretsStatus(ApiModel):
    """Where the tenant's secrets live in OpenBao."""

    namespace: str | None = None
    """OpenBao namespace of the tenant (namespace layout)."""
    mount: str
    """KV v2 mount of the tenant."""
    policy: str
    """ACL policy that reaches only the tenant's mount."""
    auth_role: str
    """Kubernetes-auth role of the tenant's workloads."""


class ConnectorStatus(ApiModel):
    """A connector whose secret was routed into OpenBao."""

    name: Label
    """Connector name."""
    ref: str
    """Opaque reference to the secret in OpenBao (openbao://...)."""
    version: int
    """KV version of the secret."""
    secret_version: str | None = None
    """resourceVersion of the Kubernetes Secret last routed (a change is routed again)."""


class SubProcessorStatus(ApiModel):
    """One sub-processor as it applies to this tenant."""

    name: Label
    """SubProcessor name."""
    state: SubProcessorState
    """Active, PendingNotice or Objected."""
    effective_at: datetime | None = None
    """When the notice period ends (or ended)."""
    objected_at: datetime | None = None
    """When the tenant objected (Objected only)."""


class AuditStatus(ApiModel):
    """Head of the tenant's audit chain."""

    seq: int
    """Sequence number of the last entry."""
    head: str
    """Hash of the last entry, sha256:<hex>."""


class TenantStatus(ApiModel):
    """Observed state of a tenant, written by the operator."""

    observed_generation: int | None = None
    """The .metadata.generation last reconciled."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=list_map("type"))
    """Ready, Reconciling, Stalled and one condition per aspect."""
    database: DatabaseStatus | None = None
    """PostgreSQL placement."""
    secrets: SecretsStatus | None = None
    """OpenBao placement."""
    connectors: list[ConnectorStatus] = Field(
        default_factory=list, json_schema_extra=list_map("name")
    )
    """Routed connector secrets."""
    sub_processors: list[SubProcessorStatus] = Field(
        default_factory=list, json_schema_extra=list_map("name")
    )
    """Sub-processors and their state for this tenant."""
    audit: AuditStatus | None = None
    """Audit chain head."""


class Tenant(ApiModel):
    """A tenant of the IntegraCI platform, provisioned in PostgreSQL and OpenBao."""

    model_config = ApiModel.model_config | {"extra": "ignore"}

    api_version: Literal["integraci.io/v1alpha1"] = "integraci.io/v1alpha1"
    kind: Literal["Tenant"] = "Tenant"
    metadata: ObjectMeta
    spec: TenantSpec
    status: TenantStatus | None = None

    @field_validator("metadata")
    @classmethod
    def _slug(cls, metadata: ObjectMeta) -> ObjectMeta:
        return checked_name(metadata, naming.validate_slug)

    @property
    def slug(self) -> Slug:
        return self.metadata.name
