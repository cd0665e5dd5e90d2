"""Provision, verify and erase one tenant's OpenBao objects (blocking; run in a thread).

Each function runs one loop of ``desired`` over the tenant's (or the platform's) desired
objects: ``ensure_*`` writes what differs, ``verify_tenant`` reports it, ``drop_tenant``
erases (transit key first). In the mount layout the shared auth mount and its config
belong to ``ensure_platform``.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tenant_operator.adapters.openbao import desired
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.desired import DEFAULT_LIMITS, TokenLimits
from tenant_operator.adapters.openbao.kubeauth import KubeAuth
from tenant_operator.adapters.openbao.paths import PlatformPaths, TenantPaths
from tenant_operator.domain.naming import validate_label


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


def ensure_platform(
    clients: ClientFactory, platform: PlatformPaths, kube_auth: KubeAuth | None = None
) -> list[str]:
    """The objects all tenants share (``desired.platform_objects``); returns what changed.

    In the mount layout, ``kube_auth`` (if given) is written to the shared auth mount.
    """
    return desired.ensure(clients, desired.platform_objects(platform, kube_auth))


def ensure_tenant(
    clients: ClientFactory,
    paths: TenantPaths,
    accounts: Sequence[tuple[str, str]],
    kube_auth: KubeAuth | None = None,
    limits: TokenLimits = DEFAULT_LIMITS,
) -> SecretsState:
    """The tenant's objects; in the namespace layout ``kube_auth`` configures its auth mount."""
    listed = desired.tenant_objects(paths, accounts, kube_auth, limits)
    return SecretsState(
        namespace=paths.namespace,
        mount=paths.mount,
        policy=paths.policy,
        auth_role=paths.auth_role,
        transit_key=paths.transit_key,
        changed=tuple(desired.ensure(clients, listed)),
    )


def verify_tenant(
    clients: ClientFactory,
    paths: TenantPaths,
    accounts: Sequence[tuple[str, str]],
    kube_auth: KubeAuth | None = None,
    limits: TokenLimits = DEFAULT_LIMITS,
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
    listed = desired.tenant_objects(paths, accounts, kube_auth, limits, connectors)
    doing = f"verifying the OpenBao objects of tenant {paths.slug}"
    return tuple(desired.verify(clients, listed, doing))


def drop_tenant(clients: ClientFactory, paths: TenantPaths, *, timeout: float) -> bool:
    """Erase: destroy the transit key first (crypto-shredding), then the tenant's place."""
    return desired.drop(clients, desired.tenant_objects(paths), timeout=timeout)
