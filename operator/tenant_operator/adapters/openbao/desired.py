"""What a tenant's (and the platform's) OpenBao objects should be: one list per owner.

:func:`tenant_objects` and :func:`platform_objects` list every object, in the order
``ensure`` makes them, as :class:`Desired` entries: the object (a ``kinds.Remote``: what it
is, where it lives, what it should hold), the namespace whose client reaches it, and how
each verb describes its step in errors. :func:`ensure`, :func:`verify` and :func:`drop` are
the only loops over them; ``provision`` runs them. Tenant order: namespace (namespace
layout), KV v2 mount, policy, auth mount and its Kubernetes config (namespace layout), role,
the routed connectors (verified only), transit key, the data-key policy (in the operator's
namespace: unwrap the tenant's data keys, for the platform application). A run cut short
by an outage converges when it is repeated: every step is read-compare-write.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cache

from tenant_operator.adapters.openbao import kinds
from tenant_operator.adapters.openbao.client import ClientFactory
from tenant_operator.adapters.openbao.errors import translated
from tenant_operator.adapters.openbao.kubeauth import KubeAuth
from tenant_operator.adapters.openbao.paths import PlatformPaths, TenantPaths
from tenant_operator.adapters.openbao.policies import render_data_key_policy, render_tenant_policy
from tenant_operator.domain.bundle import SIGNING_KEY as EXPORT_SIGNING_KEY
from tenant_operator.settings import Settings


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


#: The limits when none are given (the settings' defaults).
DEFAULT_LIMITS = TokenLimits()


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


class Erase(IntEnum):
    """When ``drop`` erases an object (lower first; equal ranks dependents first)."""

    SHRED = 0  # the transit key: crypto-shredding comes before anything else
    PLACE = 1  # what holds the tenant's data: its namespace, or its KV mount
    AFTER = 2  # the rest of the tenant's own objects (mount layout)


@dataclass(frozen=True)
class Desired:
    """One object of a desired list and how the verbs describe their steps on it.

    ``writing``: ensure's step (None: ensure leaves the object alone, verify only checks
    it). ``erase`` and ``erasing``: drop's rank and step (None: it goes with the namespace
    that holds it, or it is shared and kept). ``holds_the_rest``: when it is missing,
    verify stops (nothing after it can be read).
    """

    obj: kinds.Remote
    namespace: str | None
    writing: str | None
    redact: bool = False
    erase: Erase | None = None
    erasing: str = ""
    holds_the_rest: bool = False


def tenant_objects(
    paths: TenantPaths,
    accounts: Sequence[tuple[str, str]] = (),
    kube_auth: KubeAuth | None = None,
    limits: TokenLimits = DEFAULT_LIMITS,
    connectors: Sequence[str] = (),
) -> list[Desired]:
    """The tenant's objects; ``kube_auth`` adds its auth config, ``connectors`` their check.

    In the namespace layout everything but the transit key lives in the tenant's
    namespace and is erased with it; in the mount layout the shared auth mount and its
    config belong to :func:`platform_objects` (the config is still verified here).
    """
    namespaced = paths.layout == "namespace"  # the tenant has a namespace of its own
    slug, inner = paths.slug, paths.namespace
    after = None if namespaced else Erase.AFTER  # what goes with the namespace, if any
    erasing = f"erasing mount {paths.mount}, policy and role of tenant {slug}"
    listed = []
    if namespaced:
        listed.append(
            Desired(
                kinds.Namespace(f"namespace {paths.namespace}", slug),
                paths.parent_namespace,
                f"creating namespace {paths.namespace}",
                erase=Erase.PLACE,
                erasing=f"deleting namespace {paths.namespace}",
                holds_the_rest=True,
            )
        )
    listed += [
        Desired(
            kinds.Mount(f"kv mount {paths.mount}", paths.mount, "kv", "2"),
            inner,
            f"enabling KV mount {paths.mount} of tenant {slug}",
            erase=None if namespaced else Erase.PLACE,
            erasing=erasing,
        ),
        Desired(
            kinds.policy(f"policy {paths.policy}", paths.policy, render_tenant_policy(paths)),
            inner,
            f"writing policy {paths.policy} of tenant {slug}",
            erase=after,
            erasing=erasing,
        ),
    ]
    auth = paths.auth_mount
    if namespaced:
        listed.append(
            Desired(
                kinds.Mount(f"auth mount {auth}", auth, "kubernetes", auth=True),
                inner,
                f"enabling auth mount {auth} of tenant {slug}",
            )
        )
    if kube_auth is not None:
        writing = f"configuring auth mount {auth} of tenant {slug}" if namespaced else None
        config = kinds.AuthConfig(f"auth config of {auth}", auth, kube_auth)
        listed.append(Desired(config, inner, writing, redact=True))
    role = paths.auth_role
    key = paths.transit_key
    return [
        *listed,
        Desired(
            kinds.role(f"role {role}", auth, role, role_body(paths, accounts, limits)),
            inner,
            f"writing Kubernetes-auth role {role} of tenant {slug}",
            erase=after,
            erasing=erasing,
        ),
        Desired(kinds.Connectors(paths, tuple(connectors)), inner, None),
        Desired(
            kinds.TransitKey(f"transit key {key}", paths.transit_mount, key),
            paths.transit_namespace,
            f"creating transit key {key}",
            erase=Erase.SHRED,
            erasing=f"destroying transit key {key}",
        ),
        Desired(
            kinds.policy(
                f"policy {paths.data_key_policy}",
                paths.data_key_policy,
                render_data_key_policy(paths),
            ),
            paths.transit_namespace,
            f"writing the data-key policy {paths.data_key_policy} of tenant {slug}",
            erase=Erase.AFTER,
            erasing=f"deleting the data-key policy {paths.data_key_policy} of tenant {slug}",
        ),
    ]


def platform_objects(platform: PlatformPaths, kube_auth: KubeAuth | None = None) -> list[Desired]:
    """What all tenants share: parent namespace or auth mount (and config), transit, audit,
    and the transit key that signs export bundles (never deleted).

    In the mount layout, ``kube_auth`` (if given) is written to the shared auth mount.
    """
    ops, parent, auth = platform.namespace, platform.tenants_parent, platform.auth_mount
    listed = []
    if platform.layout == "namespace":
        parent_ns = kinds.Namespace(f"namespace {parent}", parent)
        listed.append(Desired(parent_ns, ops, f"creating the parent namespace {parent}"))
    else:
        shared = kinds.Mount(f"auth mount {auth}", auth, "kubernetes", auth=True)
        listed.append(Desired(shared, ops, f"enabling the Kubernetes auth mount {auth}"))
        if kube_auth is not None:
            config = kinds.AuthConfig(f"auth config of {auth}", auth, kube_auth)
            writing = f"configuring the Kubernetes auth mount {auth}"
            listed.append(Desired(config, ops, writing, redact=True))
    transit, audit = platform.transit_mount, platform.audit_mount
    writing = f"enabling the platform mounts {transit}, {audit}"
    return [
        *listed,
        Desired(kinds.Mount(f"transit mount {transit}", transit, "transit"), ops, writing),
        Desired(kinds.Mount(f"kv mount {audit}", audit, "kv", "2"), ops, writing),
        Desired(
            kinds.SigningKey(f"transit key {EXPORT_SIGNING_KEY}", transit, EXPORT_SIGNING_KEY),
            ops,
            f"creating the export signing key {transit}/keys/{EXPORT_SIGNING_KEY}",
        ),
    ]


def ensure(clients: ClientFactory, listed: Sequence[Desired]) -> list[str]:
    """Write what differs, in order; returns what changed (empty on a no-op)."""
    client = cache(clients)
    changed = []
    for entry in listed:
        if entry.writing is not None:
            with translated(entry.writing, redact=entry.redact):
                changed += entry.obj.ensure(client(entry.namespace))
    return changed


def verify(clients: ClientFactory, listed: Sequence[Desired], doing: str) -> list[str]:
    """What differs (empty = fine); ``doing`` describes the whole check in errors."""
    client = cache(clients)
    problems: list[str] = []
    with translated(doing):
        for entry in listed:
            wrong = entry.obj.verify(client(entry.namespace))
            problems += wrong
            if wrong and entry.holds_the_rest:
                break
    return problems


def erasure_order(listed: Sequence[Desired]) -> list[Desired]:
    """What ``drop`` erases, by :class:`Erase` rank; within a rank, later objects first."""
    erased = [e for e in reversed(listed) if e.erase is not None]
    return sorted(erased, key=lambda e: e.erase or Erase.SHRED)


def drop(clients: ClientFactory, listed: Sequence[Desired], *, timeout: float) -> bool:
    """Erase in :func:`erasure_order`; True if anything was there ("already gone" is fine)."""
    client = cache(clients)
    removed = False
    for entry in erasure_order(listed):
        with translated(entry.erasing):
            removed |= entry.obj.drop(client(entry.namespace), timeout)
    return removed
