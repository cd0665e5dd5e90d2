"""The operator's vocabulary, declared once: plans, isolation tiers, deletion policies,
sub-processor states, condition types and condition reasons (pure; the ground floor).

``api`` builds its wire models over these enums, adapters and orchestration pass their
members. A ``StrEnum`` member is a ``str`` equal to its value, so statuses, events, log
lines and SQL parameters carry exactly the same text as a literal would. A unit test
(tests/unit/test_vocabulary.py) fails on any reason, state or plan literal written
outside this module.
"""

from enum import StrEnum, unique


@unique
class Plan(StrEnum):
    """The tenant's plan: drives the isolation default, quotas and notice periods."""

    FREE = "free"
    TEAM = "team"
    ENTERPRISE = "enterprise"


@unique
class Isolation(StrEnum):
    """How the tenant's rows are isolated in PostgreSQL."""

    SHARED = "shared"
    SCHEMA = "schema"


@unique
class DeletionPolicy(StrEnum):
    """What deleting the Tenant does to its data: Retain keeps it, Delete erases it."""

    RETAIN = "Retain"
    DELETE = "Delete"


@unique
class SubProcessorState(StrEnum):
    """Whether a sub-processor may process this tenant's data."""

    ACTIVE = "Active"
    PENDING_NOTICE = "PendingNotice"
    OBJECTED = "Objected"


@unique
class ConditionType(StrEnum):
    """kstatus summary types (Ready, Reconciling, Stalled) and one type per aspect."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    DATABASE_READY = "DatabaseReady"
    SECRETS_READY = "SecretsReady"
    CONNECTORS_ROUTED = "ConnectorsRouted"
    SUBPROCESSORS_ACCEPTED = "SubProcessorsAccepted"
    ISOLATION_VERIFIED = "IsolationVerified"
    AUDIT_CHAIN_VERIFIED = "AuditChainVerified"
    #: Of a TenantDataRequest: the export or erasure is done; past its legal due date.
    COMPLETED = "Completed"
    OVERDUE = "Overdue"


@unique
class DataRequestType(StrEnum):
    """What a data-subject request asks for (GDPR Art. 15/20 and Art. 17)."""

    EXPORT = "Export"
    ERASURE = "Erasure"


@unique
class RequestPhase(StrEnum):
    """How far a data-subject request got: each phase is recorded before the next starts,
    so a restart resumes after the last recorded one and nothing is done twice."""

    RECEIVED = "received"
    #: Erasure: the subject's account is known (its id recorded; the email is never stored).
    RESOLVED = "resolved"
    #: Erasure: OpenBao's data about the subject destroyed (counts recorded).
    SECRETS_ERASED = "secrets-erased"
    #: Erasure: rows erased or anonymised, audit details redacted, in one transaction.
    ROWS_ERASED = "rows-erased"
    #: Erasure: the erasure record is in the tenant's audit chain.
    RECORDED = "recorded"
    #: Erasure: a new data key seals the live data; old key versions await the trim.
    KEY_ROTATED = "key-rotated"
    COMPLETED = "completed"


@unique
class Reason(StrEnum):
    """Every CamelCase reason the operator writes: conditions, errors and events."""

    # Progress.
    RECONCILED = "Reconciled"
    PENDING = "Pending"
    PAUSED = "Paused"
    # Defaults of the error classes (domain.errors).
    ERROR = "Error"
    UNAVAILABLE = "Unavailable"
    INVALID_SPEC = "InvalidSpec"
    # The Tenant or SubProcessor as written.
    INVALID_NAME = "InvalidName"
    INVALID_SETTINGS = "InvalidSettings"
    INSECURE_TRANSPORT = "InsecureTransport"
    SLUG_RESERVED = "SlugReserved"
    ISOLATION_IMMUTABLE = "IsolationImmutable"
    SECRET_NAMESPACE_FORBIDDEN = "SecretNamespaceForbidden"
    #: A connector Secret that does not exist or is not the tenant's (never told apart).
    SECRET_NOT_AVAILABLE = "SecretNotAvailable"
    INVALID_SECRET = "InvalidSecret"
    INVALID_SECRET_REF = "InvalidSecretRef"
    INVALID_REF = "InvalidRef"
    RETAINED_TENANT_EXISTS = "RetainedTenantExists"
    OBJECTED = "Objected"
    # Deletion and sharding.
    DELETION_PREVENTED = "DeletionPrevented"
    SHARD_UNKNOWN = "ShardUnknown"
    # Drift, isolation and the audit chain.
    DRIFT_DETECTED = "DriftDetected"
    ISOLATION_BROKEN = "IsolationBroken"
    REPAIR_NEEDS_SUPERUSER = "RepairNeedsSuperuser"
    FOREIGN_ROWS_IN_SCHEMA = "ForeignRowsInSchema"
    AUDIT_CHAIN_BROKEN = "AuditChainBroken"
    AUDIT_HEAD_MISMATCH = "AuditHeadMismatch"
    AUDIT_HASH_MISMATCH = "AuditHashMismatch"
    AUDIT_KEY_UNAVAILABLE = "AuditKeyUnavailable"
    # PostgreSQL.
    NOT_FOUND = "NotFound"
    PERMISSION_DENIED = "PermissionDenied"
    DATABASE_BUSY = "DatabaseBusy"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    DATABASE_NOT_MIGRATED = "DatabaseNotMigrated"
    DATABASE_ERROR = "DatabaseError"
    INVALID_DATA = "InvalidData"
    INVALID_TEMPLATE_VERSION = "InvalidTemplateVersion"
    # OpenBao.
    OPENBAO_UNREACHABLE = "OpenBaoUnreachable"
    OPENBAO_SEALED = "OpenBaoSealed"
    OPENBAO_NOT_INITIALIZED = "OpenBaoNotInitialized"
    OPENBAO_PERMISSION_DENIED = "OpenBaoPermissionDenied"
    OPENBAO_NAMESPACE_MISSING = "OpenBaoNamespaceMissing"
    OPENBAO_NAMESPACE_DELETING = "OpenBaoNamespaceDeleting"
    OPENBAO_MOUNT_CONFLICT = "OpenBaoMountConflict"
    OPENBAO_NOT_CONFIGURED = "OpenBaoNotConfigured"
    OPENBAO_LOGIN_FAILED = "OpenBaoLoginFailed"
    OPENBAO_REJECTED = "OpenBaoRejected"
    OPENBAO_ERROR = "OpenBaoError"
    # Kubernetes.
    CRDS_MISSING = "CRDsMissing"
    KUBERNETES_UNAVAILABLE = "KubernetesUnavailable"
    FORBIDDEN = "Forbidden"
    # Data-subject requests, personal-data encryption and export destinations.
    EXPORTED = "Exported"
    ERASED = "Erased"
    NO_DATA_HELD = "NoDataHeld"
    PAST_DUE = "PastDue"
    WITHIN_TIME_LIMIT = "WithinTimeLimit"
    TENANT_NOT_FOUND = "TenantNotFound"
    SUBJECT_NOT_FOUND = "SubjectNotFound"
    SUBJECT_REQUIRED = "SubjectRequired"
    OWNER_NOT_ERASABLE = "OwnerNotErasable"
    PERSONAL_DATA_UNREADABLE = "PersonalDataUnreadable"
    DESTINATION_EXISTS = "DestinationExists"
    DESTINATION_UNWRITABLE = "DestinationUnwritable"
    INVALID_DESTINATION = "InvalidDestination"
    EXPORT_INVALID = "ExportInvalid"


#: The scheme of the opaque references to secrets in OpenBao (all PostgreSQL stores).
OPENBAO_REF_SCHEME = "openbao://"

#: The PostgreSQL setting that carries a transaction's tenant (read by every RLS policy).
TENANT_CONTEXT_SETTING = "integraci.tenant_id"
