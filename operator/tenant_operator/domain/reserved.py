"""Slugs whose derived names are not the tenant's to take (pure).

A slug derives a workload namespace ``<prefix><slug>`` (its service accounts get the
tenant's Kubernetes-auth role), an OpenBao namespace ``<tenants_parent>/<slug>`` (namespace
layout), a policy and a role ``tenant-<slug>`` and a KV mount (mount layout), a transit key
``tenant-<slug>`` and, in the schema tier, a schema ``t_<slug>``. :func:`collisions` says
which of them would be someone else's under the given :class:`NameContext`; a slug with any
collision is refused at admission (the CRD's CEL rule holds :data:`STATIC_RESERVED`, the
chart's ValidatingAdmissionPolicy the names of an install's values) and by the operator
before any write. The refusal does not depend on the layout: a slug refused in one layout
is refused in both, so the rule is the same everywhere.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from tenant_operator.domain.naming import (
    LABEL_MAX_LENGTH,
    OPENBAO_TENANT_PREFIX,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    TENANT_SCHEMA_PREFIX,
)

#: Names OpenBao refuses as namespace names (openbao internal/helper/namespace
#: ``reservedNames``: "", ".", "..", root, sys, audit, auth, cubbyhole, identity).
OPENBAO_RESERVED = frozenset({"audit", "auth", "cubbyhole", "identity", "root", "sys"})
#: Prefix of the names the operator derives in OpenBao (policy, role, transit key).
OPENBAO_PREFIX = OPENBAO_TENANT_PREFIX
#: ``tenant-<slug>`` + this names a tenant's data-key policy, in the operator's namespace (in
#: the mount layout where tenant policies are too): a slug ending in it would take one.
DATA_KEY_POLICY_SUFFIX = "-data-key"
#: Namespaces of Kubernetes itself: no tenant's workload namespace may be one of them.
KUBERNETES_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
KUBERNETES_PREFIX = "kube-"
#: Prefix of a schema-tier tenant's dedicated schema.
SCHEMA_PREFIX = TENANT_SCHEMA_PREFIX

Engine = Literal["kubernetes", "openbao", "postgres"]
_SLUG_RE = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class NameContext:
    """The settings' values that derived names can collide with."""

    workload_namespace_prefix: str = "tenant-"
    #: Namespaces holding connector Secrets (every tenant's): never a workload namespace.
    secret_namespaces: tuple[str, ...] = ("tenant-secrets",)
    #: The Kubernetes namespace the operator runs in, when known.
    operator_namespace: str | None = None
    #: The operator's own OpenBao policy and Kubernetes-auth role names.
    operator_openbao_names: tuple[str, ...] = ("tenant-operator",)
    #: The operator's PostgreSQL platform schema.
    platform_schema: str = "integraci"
    layout: Literal["namespace", "mount"] = "namespace"


@dataclass(frozen=True)
class Collision:
    """One derived name of a slug that belongs to something else."""

    engine: Engine
    derived: str  # what the slug derives, e.g. "workload namespace tenant-secrets"
    owner: str  # whose it is, e.g. "the namespace of every tenant's connector Secrets"
    #: True when the OpenBao objects the operator would derive for this slug are not the
    #: tenant's under the current layout: erasure must never touch them.
    openbao_path_reserved: bool = field(default=False)

    def describe(self) -> str:
        return f"its {self.derived} is {self.owner}"


def workload_namespace(ctx: NameContext, slug: str) -> str:
    return f"{ctx.workload_namespace_prefix}{slug}"


def collisions(slug: str, ctx: NameContext) -> tuple[Collision, ...]:
    """Every derived name of ``slug`` that is someone else's under ``ctx`` (empty: none)."""
    found: list[Collision] = []
    if slug in OPENBAO_RESERVED:
        found.append(
            Collision(
                "openbao",
                f"OpenBao namespace name {slug}",
                "reserved by OpenBao (it refuses it as a namespace name)",
                openbao_path_reserved=ctx.layout == "namespace",
            )
        )
    namespace = workload_namespace(ctx, slug)
    if namespace in ctx.secret_namespaces:
        found.append(
            Collision(
                "kubernetes",
                f"workload namespace {namespace}",
                "a namespace holding every tenant's connector Secrets "
                "(its Kubernetes-auth role would be bound there)",
            )
        )
    if ctx.operator_namespace and namespace == ctx.operator_namespace:
        found.append(
            Collision("kubernetes", f"workload namespace {namespace}", "the operator's namespace")
        )
    if namespace in KUBERNETES_NAMESPACES or namespace.startswith(KUBERNETES_PREFIX):
        found.append(
            Collision(
                "kubernetes", f"workload namespace {namespace}", "a Kubernetes system namespace"
            )
        )
    derived = OPENBAO_PREFIX + slug
    if derived in ctx.operator_openbao_names:
        found.append(
            Collision(
                "openbao",
                f"OpenBao policy, role and transit key name {derived}",
                "the operator's own OpenBao policy or Kubernetes-auth role",
                openbao_path_reserved=ctx.layout == "mount",
            )
        )
    if slug.endswith(DATA_KEY_POLICY_SUFFIX) and len(slug) > len(DATA_KEY_POLICY_SUFFIX):
        owner = slug.removesuffix(DATA_KEY_POLICY_SUFFIX)
        found.append(
            Collision(
                "openbao",
                f"OpenBao policy name {derived}",
                f"the data-key policy of tenant {owner} (decrypt with its transit key)",
                openbao_path_reserved=ctx.layout == "mount",
            )
        )
    schema = SCHEMA_PREFIX + slug.replace("-", "_")
    if schema == ctx.platform_schema:
        found.append(Collision("postgres", f"schema {schema}", "the operator's platform schema"))
    return tuple(found)


def refusal(slug: str, ctx: NameContext) -> str | None:
    """The message refusing ``slug``, or None when none of its derived names collide."""
    found = collisions(slug, ctx)
    if not found:
        return None
    what = "; ".join(c.describe() for c in found)
    return f"tenant slug {slug} is reserved: {what}; choose another name for the Tenant"


def openbao_untouchable(slug: str, ctx: NameContext) -> bool:
    """True when the OpenBao objects derived for ``slug`` are not the tenant's."""
    return any(c.openbao_path_reserved for c in collisions(slug, ctx))


def reserved_slugs(ctx: NameContext) -> dict[str, str]:
    """The specific slugs ``ctx`` reserves, each with its refusal (for CEL lists and logs).

    Rules that cover a family (``kube-*``) are listed for the slugs a valid name reaches.
    """
    candidates: set[str] = set(OPENBAO_RESERVED)
    prefix = ctx.workload_namespace_prefix
    targets: Iterable[str] = (
        *ctx.secret_namespaces,
        *([ctx.operator_namespace] if ctx.operator_namespace else []),
        *KUBERNETES_NAMESPACES,
    )
    candidates.update(t[len(prefix) :] for t in targets if t.startswith(prefix))
    candidates.update(
        n[len(OPENBAO_PREFIX) :] for n in ctx.operator_openbao_names if n.startswith(OPENBAO_PREFIX)
    )
    if ctx.platform_schema.startswith(SCHEMA_PREFIX):
        candidates.add(ctx.platform_schema[len(SCHEMA_PREFIX) :].replace("_", "-"))
    out: dict[str, str] = {}
    for slug in sorted(candidates):
        if len(slug) <= SLUG_MAX_LENGTH and _SLUG_RE.fullmatch(slug):
            message = refusal(slug, ctx)
            if message is not None:
                out[slug] = message
    return out


def settings_problems(ctx: NameContext) -> list[str]:
    """What in ``ctx`` makes whole families of slugs collide (the operator must not start)."""
    problems = []
    prefix = ctx.workload_namespace_prefix
    if prefix.startswith(KUBERNETES_PREFIX):
        problems.append(
            f"tenant_workload_namespace_prefix {prefix!r} puts every tenant's workloads in a "
            f"{KUBERNETES_PREFIX}* namespace, reserved by Kubernetes: choose another prefix"
        )
    if len(prefix) + SLUG_MAX_LENGTH > LABEL_MAX_LENGTH:
        problems.append(
            f"tenant_workload_namespace_prefix {prefix!r} is {len(prefix)} characters: with a "
            f"{SLUG_MAX_LENGTH}-character slug the namespace would exceed "
            f"{LABEL_MAX_LENGTH}; use at most {LABEL_MAX_LENGTH - SLUG_MAX_LENGTH}"
        )
    if ctx.platform_schema.startswith(SCHEMA_PREFIX):
        problems.append(
            f"platform_schema {ctx.platform_schema!r} starts with {SCHEMA_PREFIX!r}, the prefix "
            "of schema-tier tenants' schemas (a tenant's erasure would drop it): rename it"
        )
    return problems
