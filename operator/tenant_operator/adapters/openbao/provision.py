"""Provision, verify and erase one tenant's OpenBao objects (blocking; run in a thread).

Order of ``ensure_tenant``: namespace (namespace layout), KV v2 mount, policy, auth mount
and its Kubernetes config (namespace layout), role, transit key. Each step is
read-compare-write, so a run that was cut short by an outage converges when it is repeated.
In the mount layout the shared auth mount and its config belong to ``ensure_platform``.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tenant_operator.adapters.openbao import objects, routing
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.errors import translated
from tenant_operator.adapters.openbao.kubeauth import KubeAuth
from tenant_operator.adapters.openbao.paths import PlatformPaths, TenantPaths
from tenant_operator.adapters.openbao.policies import render_tenant_policy
from tenant_operator.domain.naming import validate_label
from tenant_operator.settings import Settings


@dataclass(frozen=True)
class SecretsState:
    """Where a tenant's secrets live, and what this run changed (empty on a no-op)."""

    namespace: str | None
    mount: str
    policy: str
    auth_role: str
    transit_key: str
    changed: tuple[str, ...]


def service_account_pairs(
    slug: str, given: Iterable[tuple[str, str]], defaults: Iterable[str]
) -> list[tuple[str, str]]:
    """Validated (namespace, name) pairs; ``defaults`` entries are 'name' or 'namespace/name'.

    A bare default name means the service account of that name in the Kubernetes namespace
    named after the tenant slug.
    """
    pairs = list(given)
    if not pairs:
        for entry in defaults:
            namespace, _, name = entry.rpartition("/")
            pairs.append((namespace or slug, name))
    return [
        (
            validate_label(ns, what="service account namespace"),
            validate_label(name, what="service account name"),
        )
        for ns, name in pairs
    ]


@dataclass(frozen=True)
class TokenLimits:
    """What a tenant workload's login gets: a bounded token, for one JWT audience."""

    ttl: int = 3600
    max_ttl: int = 14400
    audience: str = "openbao"

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenLimits":
        return cls(
            ttl=settings.tenant_token_ttl_seconds,
            max_ttl=settings.tenant_token_max_ttl_seconds,
            audience=settings.tenant_token_audience,
        )


def role_limits(paths: TenantPaths, limits: TokenLimits) -> dict[str, object]:
    """The role fields that bound what a login grants (compared by verify as drift).

    Tokens get only the tenant's policy (not ``default``), live at most ``max_ttl``, and
    only service-account JWTs issued for ``audience`` log in.
    """
    return {
        "token_policies": [paths.policy],
        "token_no_default_policy": True,
        "token_ttl": limits.ttl,
        "token_max_ttl": limits.max_ttl,
        "audience": limits.audience,
    }


def role_body(
    paths: TenantPaths, accounts: Sequence[tuple[str, str]], limits: TokenLimits
) -> dict[str, object]:
    """The Kubernetes-auth role: the bound service accounts and :func:`role_limits`.

    OpenBao binds names x namespaces (a cross product): pass pairs that share one
    namespace, or accept that every name is bound in every listed namespace.
    """
    return {
        "bound_service_account_names": sorted({name for _, name in accounts}),
        "bound_service_account_namespaces": sorted({ns for ns, _ in accounts}),
        **role_limits(paths, limits),
    }


def ensure_platform(
    clients: ClientFactory, platform: PlatformPaths, kube_auth: KubeAuth | None = None
) -> list[str]:
    """The objects all tenants share: parent namespace or auth mount, transit, audit mount.

    In the mount layout, ``kube_auth`` (if given) is written to the shared auth mount.
    """
    changed = []
    ops = clients(platform.namespace)
    if platform.layout == "namespace":
        with translated(f"creating the parent namespace {platform.tenants_parent}"):
            if objects.ensure_namespace(ops, platform.tenants_parent):
                changed.append(f"namespace {platform.tenants_parent} created")
    else:
        with translated(f"enabling the Kubernetes auth mount {platform.auth_mount}"):
            if objects.ensure_auth(ops, platform.auth_mount, "kubernetes"):
                changed.append(f"auth mount {platform.auth_mount} enabled")
        if kube_auth is not None:
            with translated(
                f"configuring the Kubernetes auth mount {platform.auth_mount}", redact=True
            ):
                if kube_auth.ensure(ops, platform.auth_mount):
                    changed.append(f"auth config of {platform.auth_mount} written")
    with translated(
        f"enabling the platform mounts {platform.transit_mount}, {platform.audit_mount}"
    ):
        if objects.ensure_mount(ops, platform.transit_mount, "transit"):
            changed.append(f"transit mount {platform.transit_mount} enabled")
        if objects.ensure_mount(ops, platform.audit_mount, "kv", version="2"):
            changed.append(f"kv mount {platform.audit_mount} enabled")
    return changed


def ensure_tenant(
    clients: ClientFactory,
    paths: TenantPaths,
    accounts: Sequence[tuple[str, str]],
    kube_auth: KubeAuth | None = None,
    limits: TokenLimits = TokenLimits(),
) -> SecretsState:
    """The tenant's objects; in the namespace layout ``kube_auth`` configures its auth mount."""
    changed: list[str] = []
    if paths.layout == "namespace":
        with translated(f"creating namespace {paths.namespace}"):
            if objects.ensure_namespace(clients(paths.parent_namespace), paths.slug):
                changed.append(f"namespace {paths.namespace} created")
    inner = clients(paths.namespace)
    with translated(f"enabling KV mount {paths.mount} of tenant {paths.slug}"):
        if objects.ensure_mount(inner, paths.mount, "kv", version="2"):
            changed.append(f"kv mount {paths.mount} enabled")
    with translated(f"writing policy {paths.policy} of tenant {paths.slug}"):
        if objects.ensure_policy(inner, paths.policy, render_tenant_policy(paths)):
            changed.append(f"policy {paths.policy} written")
    if paths.layout == "namespace":
        with translated(f"enabling auth mount {paths.auth_mount} of tenant {paths.slug}"):
            if objects.ensure_auth(inner, paths.auth_mount, "kubernetes"):
                changed.append(f"auth mount {paths.auth_mount} enabled")
        if kube_auth is not None:
            action = f"configuring auth mount {paths.auth_mount} of tenant {paths.slug}"
            with translated(action, redact=True):
                if kube_auth.ensure(inner, paths.auth_mount):
                    changed.append(f"auth config of {paths.auth_mount} written")
    with translated(f"writing Kubernetes-auth role {paths.auth_role} of tenant {paths.slug}"):
        role = role_body(paths, accounts, limits)
        if objects.ensure_role(inner, paths.auth_mount, paths.auth_role, role):
            changed.append(f"role {paths.auth_role} written")
    with translated(f"creating transit key {paths.transit_key}"):
        changed += objects.ensure_transit_key(
            clients(paths.transit_namespace), paths.transit_mount, paths.transit_key
        )
    return SecretsState(
        namespace=paths.namespace,
        mount=paths.mount,
        policy=paths.policy,
        auth_role=paths.auth_role,
        transit_key=paths.transit_key,
        changed=tuple(changed),
    )


def verify_tenant(
    clients: ClientFactory,
    paths: TenantPaths,
    accounts: Sequence[tuple[str, str]],
    kube_auth: KubeAuth | None = None,
    limits: TokenLimits = TokenLimits(),
    connectors: Sequence[str] = (),
) -> tuple[str, ...]:
    """Drift: what differs from what ``ensure_tenant`` would make (empty = fine).

    ``accounts`` are the (namespace, name) pairs the role must bind, as ``ensure_tenant``
    binds them: any other binding lets another workload log in as the tenant.

    ``connectors`` are the routed connectors: each one's secret must be the version the
    operator wrote (see ``routing.connector_problem``).

    With ``kube_auth``, an auth config that exists but differs is drift (the tenant's own
    mount, or in the mount layout the shared one). A missing config is not: OpenBao outside
    a pod refuses one without ``kubernetes_ca_cert``, and ``ensure_*`` warned about that.
    """
    problems: list[str] = []
    with translated(f"verifying the OpenBao objects of tenant {paths.slug}"):
        if paths.layout == "namespace":
            parent = clients(paths.parent_namespace)
            if objects.read(parent, f"sys/namespaces/{paths.slug}") is None:
                return (f"namespace {paths.namespace} is missing",)
        inner = clients(paths.namespace)
        if not objects.mount_exists(inner, paths.mount):
            problems.append(f"kv mount {paths.mount} is missing")
        policy = objects.read_policy(inner, paths.policy)
        if policy is None:
            problems.append(f"policy {paths.policy} is missing")
        elif policy != render_tenant_policy(paths):
            problems.append(f"policy {paths.policy} differs from the rendered policy")
        if (
            paths.layout == "namespace"
            and objects.read(inner, f"sys/auth/{paths.auth_mount}") is None
        ):
            problems.append(f"auth mount {paths.auth_mount} is missing")
        if kube_auth is not None:
            wrong_config = kube_auth.differences(inner, paths.auth_mount)
            if wrong_config and wrong_config != ["config"]:
                problems.append(
                    f"auth config of {paths.auth_mount} differs ({', '.join(wrong_config)})"
                )
        role = objects.read(inner, f"auth/{paths.auth_mount}/role/{paths.auth_role}")
        wrong = objects.role_differences(role, role_body(paths, accounts, limits))
        if wrong == ["role"]:
            problems.append(f"role {paths.auth_role} is missing")
        elif wrong:
            problems.append(f"role {paths.auth_role} differs ({', '.join(wrong)})")
        problems += routing.connector_problems(clients, paths, connectors)
        key = objects.read_transit_key(
            clients(paths.transit_namespace), paths.transit_mount, paths.transit_key
        )
        if key is None:
            problems.append(f"transit key {paths.transit_key} is missing")
        elif not key.get("deletion_allowed"):
            problems.append(f"transit key {paths.transit_key} cannot be deleted")
    return tuple(problems)


def drop_tenant(clients: ClientFactory, paths: TenantPaths, *, timeout: float) -> bool:
    """Erase: destroy the transit key first (crypto-shredding), then the tenant's place."""
    removed = False
    with translated(f"destroying transit key {paths.transit_key}"):
        removed |= objects.drop_transit_key(
            clients(paths.transit_namespace), paths.transit_mount, paths.transit_key
        )
    if paths.layout == "namespace":
        with translated(f"deleting namespace {paths.namespace}"):
            removed |= objects.drop_namespace(
                clients(paths.parent_namespace), paths.slug, timeout=timeout
            )
        return removed
    inner = clients(paths.namespace)
    with translated(f"erasing mount {paths.mount}, policy and role of tenant {paths.slug}"):
        removed |= objects.drop_mount(inner, paths.mount)
        removed |= objects.drop_role(inner, paths.auth_mount, paths.auth_role)
        removed |= objects.drop_policy(inner, paths.policy)
    return removed
