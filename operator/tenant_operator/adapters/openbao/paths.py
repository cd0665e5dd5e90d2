"""Pure builders of every OpenBao name and path the adapter touches, for both layouts.

Each segment that comes from a tenant (slug, connector name) goes through
``domain.naming`` first, so ``..``, ``/``, ``%2f`` and unicode never reach a URL.

Layouts (``settings.secrets_layout``):

``namespace``
    namespace ``[<bao_namespace>/]<tenants_parent>/<slug>`` holding the KV v2 mount
    ``<kv_mount>``, the ACL policy ``tenant`` and the Kubernetes-auth role ``tenant`` on
    the auth mount ``<tenant_auth_mount>`` inside it.
``mount``
    in the operator's namespace: KV v2 mount ``<tenants_parent>/<slug>``, policy
    ``tenant-<slug>``, role ``tenant-<slug>`` on the shared auth mount.

Both: transit key ``tenant-<slug>`` in the platform transit mount, and the audit heads in
the platform KV v2 mount (``audit/tenants/<chain>`` and ``audit/platform``) with each
chain's digest key (``audit/keys/tenants/<chain>``, ``audit/keys/platform``), which no
tenant policy reaches.
A tenant's chain is named by its slug, or ``<slug>@<uuid>`` once the slug was reused.

References are ``openbao://<namespace>/<mount>/<key>``: ``<namespace>`` is the absolute
namespace ('' for the root namespace), ``<mount>`` is one segment (a '/' inside a mount
path is written ``%2F``) and ``<key>`` is the last two segments. So
``openbao://tenants/acme/kv/connectors/github`` (namespace layout) and
``openbao:///tenants%2Facme/connectors/github`` (mount layout) both parse from the right.
"""

from dataclasses import dataclass
from typing import Literal

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.naming import (
    OPENBAO_TENANT_PREFIX,
    openbao_namespace,
    validate_chain,
    validate_label,
    validate_path,
    validate_slug,
)
from tenant_operator.domain.reserved import DATA_KEY_POLICY_SUFFIX, openbao_untouchable, refusal
from tenant_operator.domain.vocabulary import OPENBAO_REF_SCHEME, Reason
from tenant_operator.settings import Settings

REF_SCHEME = OPENBAO_REF_SCHEME
TENANT_POLICY = "tenant"
TENANT_ROLE = "tenant"
TENANT_PREFIX = OPENBAO_TENANT_PREFIX
DEFAULT_PLATFORM_MOUNT = "platform"
CONNECTORS = "connectors"
INVITE_PREFIX = "invites"
INVITE_KEY = f"{INVITE_PREFIX}/owner"
#: The folder of the tenant chains' mirrored heads in the platform mount.
AUDIT_TENANTS = "audit/tenants"
#: The folder of the chains' digest keys in the platform mount.
AUDIT_KEYS = "audit/keys"

Layout = Literal["namespace", "mount"]


def join_namespace(*parts: str | None) -> str | None:
    """Join namespace paths, skipping empty parts; None means the root namespace."""
    joined = "/".join(p.strip("/") for p in parts if p)
    return joined or None


@dataclass(frozen=True)
class PlatformPaths:
    """Objects shared by all tenants, in the operator's own namespace."""

    layout: Layout
    namespace: str | None  # the operator's namespace (None = root)
    tenants_parent: str  # namespace layout: the parent namespace's name
    transit_mount: str
    audit_mount: str  # KV v2 mount for audit heads
    auth_mount: str  # mount layout: the shared Kubernetes-auth mount

    def audit_key(self, chain: str | None) -> str:
        """Where a chain's head is mirrored (None: the platform chain)."""
        return "audit/platform" if chain is None else f"{AUDIT_TENANTS}/{validate_chain(chain)}"

    def digest_key(self, chain: str | None) -> str:
        """Where a chain's digest key lives (None: the platform chain)."""
        if chain is None:
            return f"{AUDIT_KEYS}/platform"
        return f"{AUDIT_KEYS}/tenants/{validate_chain(chain)}"


@dataclass(frozen=True)
class TenantPaths:
    """Where one tenant's objects live."""

    layout: Layout
    slug: str
    namespace: str | None  # absolute namespace of the mount, policy and role
    parent_namespace: str | None  # namespace layout: where the tenant namespace is created
    mount: str
    policy: str
    auth_mount: str
    auth_role: str
    transit_namespace: str | None
    transit_mount: str
    transit_key: str

    @property
    def data_key_policy(self) -> str:
        """The policy, in the operator's namespace, that may unwrap the tenant's data keys."""
        return f"{self.transit_key}{DATA_KEY_POLICY_SUFFIX}"

    def connector_key(self, connector: str) -> str:
        return f"{CONNECTORS}/{validate_label(connector, what='connector name')}"

    def ref(self, key: str) -> str:
        """The opaque reference of ``key`` in this tenant's mount."""
        validate_path(key, what="secret key")
        return f"{REF_SCHEME}{self.namespace or ''}/{self.mount.replace('/', '%2F')}/{key}"


def build_platform_paths(
    settings: Settings, *, audit_mount: str = DEFAULT_PLATFORM_MOUNT
) -> PlatformPaths:
    return PlatformPaths(
        layout=settings.secrets_layout,
        namespace=operator_namespace(settings),
        tenants_parent=validate_label(settings.tenants_parent, what="tenants parent"),
        transit_mount=validate_label(settings.transit_mount, what="transit mount"),
        audit_mount=validate_label(audit_mount, what="platform mount"),
        auth_mount=validate_label(settings.tenant_auth_mount, what="auth mount"),
    )


def operator_namespace(settings: Settings) -> str | None:
    if not settings.bao_namespace:
        return None
    return validate_path(settings.bao_namespace.strip("/"), what="bao_namespace")


def build_tenant_paths(settings: Settings, slug: str) -> TenantPaths:
    """All names of tenant ``slug`` under ``settings``; raises PermanentError on a bad slug."""
    slug = validate_slug(slug)
    ops = operator_namespace(settings)
    parent = validate_label(settings.tenants_parent, what="tenants parent")
    auth_mount = validate_label(settings.tenant_auth_mount, what="auth mount")
    transit = validate_label(settings.transit_mount, what="transit mount")
    key = TENANT_PREFIX + slug
    refuse_reserved(settings, slug)
    if settings.secrets_layout == "namespace":
        return TenantPaths(
            layout="namespace",
            slug=slug,
            namespace=join_namespace(ops, openbao_namespace(parent, slug)),
            parent_namespace=join_namespace(ops, parent),
            mount=validate_label(settings.kv_mount, what="kv mount"),
            policy=TENANT_POLICY,
            auth_mount=auth_mount,
            auth_role=TENANT_ROLE,
            transit_namespace=ops,
            transit_mount=transit,
            transit_key=key,
        )
    return TenantPaths(
        layout="mount",
        slug=slug,
        namespace=ops,
        parent_namespace=None,
        mount=f"{parent}/{slug}",
        policy=key,
        auth_mount=auth_mount,
        auth_role=key,
        transit_namespace=ops,
        transit_mount=transit,
        transit_key=key,
    )


def refuse_reserved(settings: Settings, slug: str) -> None:
    """PermanentError 'SlugReserved' if the OpenBao objects of ``slug`` are not the tenant's.

    E.g. ``sys`` (a name OpenBao reserves) in the namespace layout, or in the mount layout a
    slug whose ``tenant-<slug>`` is the operator's own policy or role. Checked before any
    OpenBao request; :mod:`tenant_operator.domain.reserved` holds the rules.
    """
    if openbao_untouchable(slug, settings.names):
        raise PermanentError(refusal(slug, settings.names) or slug, reason=Reason.SLUG_RESERVED)


def parse_ref(ref: str) -> tuple[str | None, str, str]:
    """Split a reference into (namespace or None, mount, key); PermanentError if malformed."""
    if not ref.startswith(REF_SCHEME):
        raise PermanentError(f"{ref!r} is not an openbao:// reference", reason=Reason.INVALID_REF)
    parts = ref[len(REF_SCHEME) :].split("/")
    if len(parts) < 4:
        raise PermanentError(f"{ref!r} is not an openbao:// reference", reason=Reason.INVALID_REF)
    namespace = "/".join(parts[:-3]) or None
    mount = parts[-3].replace("%2F", "/")
    key = "/".join(parts[-2:])
    if namespace is not None:
        validate_path(namespace, what="reference namespace")
    validate_path(mount, what="reference mount")
    validate_path(key, what="reference key")
    return namespace, mount, key
