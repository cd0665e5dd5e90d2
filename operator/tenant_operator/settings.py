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

    # Each description is the meaning column of the README's Configuration table (generated
    # by `tenant-operator settings --markdown`; tests/unit/test_settings_doc.py keeps them
    # equal): markdown, no trailing period, no '|'.

    # PostgreSQL
    database_url: SecretStr = Field(
        SecretStr("postgresql://localhost/integraci"),
        validation_alias=_env("DATABASE_URL"),
        description="libpq DSN of the operator's own role (for `bootstrap-roles`, a superuser's)",
    )
    platform_schema: str = Field(
        "integraci",
        pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="schema of the platform tables",
    )
    owner_role: str = Field(
        "integraci_owner",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="the role (NOLOGIN) that owns every object",
    )
    app_role: str = Field(
        "integraci_app",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="the application role (NOBYPASSRLS, DML on tenant tables only)",
    )
    operator_role: str = Field(
        "integraci_operator",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="the operator's own role, a member of the owner and application roles",
    )
    pool_min_size: int = Field(
        1, ge=0, description="connections the PostgreSQL pool keeps open when idle"
    )
    pool_max_size: int = Field(8, ge=1, description="PostgreSQL pool size")
    pool_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="wait this long for a connection, then report the database unavailable "
        "and retry later",
    )

    # OpenBao
    bao_addr: str = Field(
        "http://127.0.0.1:8200", validation_alias=_env("BAO_ADDR"), description="OpenBao address"
    )
    bao_cacert: str | None = Field(
        None,
        validation_alias=_env("BAO_CACERT"),
        description="PEM CA bundle that OpenBao's TLS certificate is verified against (unset: "
        "the system's CAs)",
    )
    allow_insecure_transport: bool = Field(
        False,
        description="let `run` connect to OpenBao over `http://` or to PostgreSQL with an "
        "`sslmode` below `verify-ca`; it then warns at startup and sets the metric "
        "`tenant_operator_insecure_transport` (local development only)",
    )
    bao_token: SecretStr | None = Field(
        None,
        validation_alias=_env("BAO_TOKEN"),
        description="OpenBao token of the operator; without one it logs in with "
        "`TENANT_OPERATOR_BAO_AUTH_ROLE`",
    )
    bao_namespace: str | None = Field(
        None,
        validation_alias=_env("BAO_NAMESPACE"),
        description="OpenBao namespace the operator works in (tenant namespaces are created "
        "below it)",
    )
    bao_auth_role: str | None = Field(
        None,
        description="without `BAO_TOKEN`, the operator logs in with this Kubernetes-auth role "
        "(and again before its token expires)",
    )
    bao_auth_mount: str = Field(
        "kubernetes", description="the auth mount of `TENANT_OPERATOR_BAO_AUTH_ROLE`"
    )
    bao_operator_policy: str = Field(
        "tenant-operator",
        pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$",
        description="the operator's own OpenBao policy (a slug whose derived names would be "
        "it is refused with `SlugReserved`)",
    )
    secrets_layout: Literal["namespace", "mount"] = Field(
        "namespace", description="`namespace` (OpenBao) or `mount` (Vault OSS)"
    )
    tenants_parent: str = Field(
        "tenants",
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="OpenBao parent namespace (or mount prefix) of tenants",
    )
    kv_mount: str = Field(
        "kv",
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="the KV v2 mount inside each tenant's namespace (namespace layout)",
    )
    transit_mount: str = Field(
        "transit",
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="the platform transit mount holding each tenant's key `tenant-<slug>`",
    )
    tenant_auth_mount: str = Field(
        "kubernetes",
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="the Kubernetes-auth mount of tenant workloads: inside each tenant's "
        "namespace (namespace layout) or shared (mount layout)",
    )
    tenant_service_accounts: tuple[str, ...] = Field(
        ("tenant-app",),
        description="service accounts bound to each tenant's Kubernetes-auth role (JSON list)",
    )
    tenant_token_audience: str = Field(
        "openbao",
        pattern=r"^[-._:/a-zA-Z0-9]{1,253}$",
        description="audience each tenant's Kubernetes-auth role requires: workloads log in "
        "with a service-account token requested for it (projected token `audience: "
        "openbao`); the default pod token is refused",
    )
    tenant_token_ttl_seconds: int = Field(
        3600,
        ge=60,
        description="TTL of a workload's OpenBao token (which carries only the tenant policy, "
        "no `default`)",
    )
    tenant_token_max_ttl_seconds: int = Field(
        14400, ge=60, description="longest a workload's OpenBao token can be renewed to"
    )
    invite_ttl_seconds: int = Field(
        7 * 24 * 3600,
        ge=60,
        description="OpenBao deletes the owner's invite (`invites/owner`, never readable by "
        "the tenant's workloads; KV `delete_version_after`) this long after it is written",
    )
    backup_retention_seconds: int = Field(
        35 * 24 * 3600,
        ge=0,
        description="how long the platform keeps database backups: once this long has passed "
        "after a subject erasure rotated the tenant's key, the old key versions are trimmed, "
        "so no backup holds anything readable about the subject (status backupsClearAt)",
    )
    data_request_recheck_seconds: int = Field(
        3600,
        ge=1,
        description="how often each TenantDataRequest is looked at again: an Overdue request, "
        "a tenant that appeared, the key trim after the backup-retention window",
    )
    tenant_workload_namespace_prefix: str = Field(
        "tenant-",
        pattern=r"^[a-z]([-a-z0-9]*)?$",
        description="tenant workloads run in `<prefix><slug>`; its service accounts get the "
        "tenant's role",
    )
    bao_timeout_seconds: float = Field(10.0, gt=0, description="timeout of each OpenBao request")
    bao_auth_jwt_path: Path = Field(
        Path("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        description="service-account JWT (the pod's) the operator logs in with through "
        "`TENANT_OPERATOR_BAO_AUTH_ROLE`, re-read at every login, so a rotated projected "
        "token is picked up",
    )
    # The Kubernetes-auth config the operator writes to every tenant auth mount (namespace
    # layout) or to the shared auth mount (mount layout): where OpenBao checks the
    # service-account tokens of tenant workloads with the TokenReview API.
    kubernetes_host: str = Field(
        "https://kubernetes.default.svc",
        min_length=1,
        description="URL of the Kubernetes API that OpenBao sends TokenReview requests to, "
        "written to each tenant's Kubernetes-auth config, so tenant workloads can log in "
        "with their service-account tokens",
    )
    kubernetes_ca_cert: str | None = Field(
        None,
        description="PEM CA certificate OpenBao trusts for that URL; none: the CA of "
        "OpenBao's own pod, so OpenBao must run in a Kubernetes pod",
    )
    kubernetes_token_reviewer_jwt: SecretStr | None = Field(
        None,
        description="TokenReview credential for OpenBao; none: OpenBao's own pod token (bind "
        "its service account to `system:auth-delegator`), or, outside a pod or with "
        "`_KUBERNETES_DISABLE_LOCAL_CA_JWT`, the JWT of whoever logs in",
    )
    kubernetes_disable_local_ca_jwt: bool = Field(
        False,
        description="never use the CA and token of OpenBao's own pod (needs "
        "`_KUBERNETES_CA_CERT`); for an OpenBao that checks tokens of another cluster",
    )

    # Kubernetes
    operator_namespace: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="the operator's own namespace (the chart sets the release namespace): a "
        "slug whose derived names would be it (or a Secret namespace, OpenBao's reserved "
        "names, the operator's auth role or policy) is refused with `SlugReserved`; see "
        "`domain/reserved.py`",
    )
    allowed_secret_namespaces: tuple[str, ...] = Field(
        ("tenant-secrets",),
        description="where connector Secrets may be read from (JSON list)",
    )
    drift_period_seconds: float = Field(300.0, gt=0, description="how often the drift scanner runs")
    drift_batch_size: int = Field(
        20, ge=1, description="tenants the drift scanner verifies concurrently per batch"
    )
    drift_tenants_per_second: float = Field(
        2.0,
        gt=0,
        description="the drift scanner's pace: at most this many tenants re-verified per "
        "second (10,000 tenants: one sweep in about 83 minutes at about 3 % of a core)",
    )
    max_workers: int | None = Field(
        None,
        ge=1,
        description="kopf's limit of objects holding a worker (none: one per object, a "
        "waiting worker costs a few KiB; any limit works, since no start waits for every "
        "object); work is bounded by `_MAX_CONCURRENT_RECONCILES`",
    )
    max_concurrent_reconciles: int = Field(
        8,
        ge=1,
        description="tenants reconciled or erased at once: what PostgreSQL and OpenBao are "
        "asked to take, however many tenants there are (keep it at most `_POOL_MAX_SIZE`)",
    )
    peering_lifetime_seconds: int = Field(
        60,
        ge=5,
        description="how long a replica's peering record counts as alive (a standby takes "
        "over when it expires)",
    )
    worker_idle_seconds: float = Field(
        0.5, gt=0, description="how long an idle object's worker keeps its slot"
    )
    shards: int = Field(
        1,
        ge=1,
        le=64,
        description=f"how many operator Deployments the tenants are split over (by the "
        f"`{SHARD_LABEL}` label); 1: one operator owns every tenant; see "
        "[Sharding](#sharding)",
    )
    shard: str | None = Field(
        None,
        pattern=r"^[0-9]{1,2}$",
        description="this replica's shard, `0`..`N-1` (required when `_SHARDS` > 1)",
    )
    export_destination: str = Field(
        "file:///var/lib/tenant-operator/exports",
        description="where a `TenantDataRequest` export goes when its spec names no "
        "destination: `file:///dir` (a mounted volume) or `s3://bucket/prefix`",
    )
    export_work_dir: str | None = Field(
        None,
        description="where an export is staged before it goes to its destination (unset: "
        "the system temp dir); needs room for twice the largest bundle (the chart mounts "
        "an emptyDir of `dataRequests.workDirSizeLimit` here)",
    )
    s3_endpoint: str | None = Field(
        None,
        description="S3 API URL for `s3://` destinations (unset: AWS's own); credentials "
        "from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`",
    )
    s3_region: str = Field("us-east-1", description="S3 region for `s3://` destinations")
    log_format: Literal["json", "text"] = Field(
        "json",
        description="`json`: one object per line, with the Kubernetes object it is about; "
        "`text` for people (`make dev` uses it)",
    )
    metrics_port: int = Field(
        9090, ge=0, le=65535, description="port of the Prometheus `/metrics` (0 disables)"
    )
    liveness_port: int = Field(
        8080, ge=0, le=65535, description="port of kopf's liveness `/healthz` (0 disables)"
    )

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
