"""The operator's one frozen settings object, read from the environment.

Every field can be set as ``TENANT_OPERATOR_<FIELD>``; the connection settings also accept
the conventional ``DATABASE_URL``, ``BAO_ADDR``, ``BAO_TOKEN`` and ``BAO_NAMESPACE`` that the
PostgreSQL and OpenBao tools use, so ``.dev/env`` works for both the operator and a shell.
Tests build smaller values by passing keyword arguments; nothing reads a global.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenant_operator.domain.reserved import NameContext
from tenant_operator.domain.sharding import SHARD_LABEL, ShardScope, shard_names


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"TENANT_OPERATOR_{name}")


class Settings(BaseSettings):
    """Settings of one operator process. Frozen: build a new one to change anything."""

    model_config = SettingsConfigDict(
        env_prefix="TENANT_OPERATOR_", frozen=True, extra="ignore", populate_by_name=True
    )

    # PostgreSQL
    database_url: SecretStr = Field(
        SecretStr("postgresql://localhost/integraci"),
        validation_alias=_env("DATABASE_URL"),
        description="libpq DSN the operator connects with (its own role).",
    )
    platform_schema: str = Field("integraci", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    owner_role: str = Field("integraci_owner", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    app_role: str = Field("integraci_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    operator_role: str = Field("integraci_operator", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(8, ge=1)
    pool_timeout_seconds: float = Field(
        10.0, gt=0, description="Wait at most this long for a connection, then retry later."
    )

    # OpenBao
    bao_addr: str = Field("http://127.0.0.1:8200", validation_alias=_env("BAO_ADDR"))
    bao_token: SecretStr | None = Field(None, validation_alias=_env("BAO_TOKEN"))
    bao_namespace: str | None = Field(
        None,
        validation_alias=_env("BAO_NAMESPACE"),
        description="Namespace the operator works in (tenant namespaces are created below).",
    )
    bao_auth_role: str | None = Field(
        None, description="Kubernetes-auth role to log in with when no token is given."
    )
    bao_auth_mount: str = "kubernetes"
    bao_operator_policy: str = Field(
        "tenant-operator",
        pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$",
        description="Name of the operator's own OpenBao policy (a slug deriving it is refused).",
    )
    secrets_layout: Literal["namespace", "mount"] = "namespace"
    tenants_parent: str = Field("tenants", pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    kv_mount: str = Field("kv", pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    transit_mount: str = Field("transit", pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    tenant_auth_mount: str = Field("kubernetes", pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    tenant_service_accounts: tuple[str, ...] = ("tenant-app",)
    tenant_token_audience: str = Field(
        "openbao",
        pattern=r"^[-._:/a-zA-Z0-9]{1,253}$",
        description="Audience the tenant's Kubernetes-auth role requires: workloads request "
        "their service-account token for it (TokenRequest / projected token audience).",
    )
    tenant_token_ttl_seconds: int = Field(
        3600, ge=60, description="TTL of a tenant workload's OpenBao token."
    )
    tenant_token_max_ttl_seconds: int = Field(
        14400, ge=60, description="Longest a tenant workload's OpenBao token can be renewed to."
    )
    invite_ttl_seconds: int = Field(
        7 * 24 * 3600,
        ge=60,
        description="OpenBao deletes the owner's invite token (KV delete_version_after) "
        "this long after it is written.",
    )
    tenant_workload_namespace_prefix: str = Field(
        "tenant-",
        pattern=r"^[a-z]([-a-z0-9]*)?$",
        description="Tenant workloads run in <prefix><slug>; its service accounts get the role.",
    )
    bao_timeout_seconds: float = Field(10.0, gt=0)
    bao_auth_jwt_path: Path = Field(
        Path("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        description="Service-account JWT the operator logs in with through bao_auth_role "
        "(re-read at every login, so a rotated projected token is picked up).",
    )
    # The Kubernetes-auth config the operator writes to every tenant auth mount (namespace
    # layout) or to the shared auth mount (mount layout): where OpenBao checks the
    # service-account tokens of tenant workloads with the TokenReview API.
    kubernetes_host: str = Field(
        "https://kubernetes.default.svc",
        min_length=1,
        description="URL of the Kubernetes API that OpenBao sends TokenReview requests to.",
    )
    kubernetes_ca_cert: str | None = Field(
        None,
        description="PEM CA certificate OpenBao trusts for kubernetes_host. None: the CA of "
        "OpenBao's own pod, so OpenBao must run in a Kubernetes pod.",
    )
    kubernetes_token_reviewer_jwt: SecretStr | None = Field(
        None,
        description="Bearer token OpenBao presents to the TokenReview API. None: OpenBao's "
        "own pod service-account token (bind that account to system:auth-delegator), or, "
        "outside a pod or with kubernetes_disable_local_ca_jwt, the JWT of whoever logs in.",
    )
    kubernetes_disable_local_ca_jwt: bool = Field(
        False,
        description="Never use the CA and token of OpenBao's own pod (needs "
        "kubernetes_ca_cert); for an OpenBao that checks tokens of another cluster.",
    )

    # Kubernetes
    operator_namespace: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Kubernetes namespace the operator runs in (a slug whose workload "
        "namespace it would be is refused); the chart sets it.",
    )
    allowed_secret_namespaces: tuple[str, ...] = ("tenant-secrets",)
    drift_period_seconds: float = Field(300.0, gt=0)
    drift_batch_size: int = Field(20, ge=1)
    drift_tenants_per_second: float = Field(
        2.0,
        gt=0,
        description="The drift scanner's pace: at most this many tenants re-verified per "
        "second (10,000 tenants: one sweep in about 83 minutes at about 3 % of a core).",
    )
    max_workers: int | None = Field(
        None,
        ge=1,
        description="Objects kopf holds a worker for at once (None: one per object; a "
        "waiting worker costs a few KiB). Work is bounded by max_concurrent_reconciles.",
    )
    max_concurrent_reconciles: int = Field(
        8,
        ge=1,
        description="Tenants reconciled or erased at once: what PostgreSQL and OpenBao are "
        "asked to take, whatever the number of tenants (keep it <= pool_max_size).",
    )
    peering_lifetime_seconds: int = Field(
        60, ge=5, description="How long a replica's peering record counts as alive."
    )
    worker_idle_seconds: float = Field(
        0.5, gt=0, description="How long an idle object's worker keeps its slot."
    )
    shards: int = Field(
        1,
        ge=1,
        le=64,
        description=f"How many operator Deployments the tenants are split over (by the "
        f"{SHARD_LABEL} label); 1: one operator owns every tenant.",
    )
    shard: str | None = Field(
        None,
        pattern=r"^[0-9]{1,2}$",
        description="This replica's shard, one of 0..shards-1 (required when shards > 1).",
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one object per line, with the Kubernetes object it is about."
    )
    metrics_port: int = Field(9090, ge=0, le=65535)
    liveness_port: int = Field(8080, ge=0, le=65535)

    @model_validator(mode="after")
    def _shard_is_one_of_the_fleet(self) -> Self:
        names = shard_names(self.shards)
        if self.shards > 1 and self.shard is None:
            raise ValueError(
                f"sharded operation (shards={self.shards}) needs this replica's shard: set "
                f"TENANT_OPERATOR_SHARD to one of {', '.join(names)} (a replica without one "
                "would work on every shard's tenants)"
            )
        if self.shard is not None and self.shard not in names:
            raise ValueError(
                f"shard {self.shard!r} is not one of the {self.shards} shards ({', '.join(names)})"
            )
        return self

    @model_validator(mode="after")
    def _tenant_token_ttl_within_max(self) -> Self:
        if self.tenant_token_ttl_seconds > self.tenant_token_max_ttl_seconds:
            raise ValueError(
                f"tenant_token_ttl_seconds ({self.tenant_token_ttl_seconds}) is longer than "
                f"tenant_token_max_ttl_seconds ({self.tenant_token_max_ttl_seconds}): "
                "lower the TTL or raise the maximum"
            )
        return self

    @property
    def scope(self) -> ShardScope:
        """This replica's place in the fleet (see tenant_operator.domain.sharding)."""
        return ShardScope(self.shards, self.shard if self.shards > 1 else None)

    @property
    def names(self) -> NameContext:
        """What a slug's derived names may collide with (see tenant_operator.domain.reserved)."""
        return NameContext(
            workload_namespace_prefix=self.tenant_workload_namespace_prefix,
            secret_namespaces=tuple(self.allowed_secret_namespaces),
            operator_namespace=self.operator_namespace,
            operator_openbao_names=tuple(
                sorted(
                    {
                        self.bao_operator_policy,
                        *([self.bao_auth_role] if self.bao_auth_role else []),
                    }
                )
            ),
            platform_schema=self.platform_schema,
            layout=self.secrets_layout,
        )
