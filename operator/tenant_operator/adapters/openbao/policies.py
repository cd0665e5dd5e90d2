"""Pure renderers of ACL policy HCL: the tenant's policy and the operator's own policy.

Both policies are data: ``TENANT_RULES`` and ``OPERATOR_RULES`` are tables of
:class:`~tenant_operator.adapters.openbao.hcl.Rule` rows (path template, capabilities,
comment, layouts) that :func:`~tenant_operator.adapters.openbao.hcl.render_rules` turns into
HCL. Their templates name what they reach with the fields of :func:`_tenant_fields` and
:func:`_operator_fields`, so a policy always matches the paths the adapter uses. The
shipped ``operator.hcl`` / ``operator-mount.hcl`` (default settings) are checked against
:func:`render_operator_policy` by a unit test.
"""

from collections.abc import Sequence
from pathlib import Path

from tenant_operator.adapters.openbao.hcl import (
    CRU,
    CRUD,
    DENY,
    MOUNT,
    NAMESPACE,
    READ,
    UPDATE,
    WRITE,
    EachName,
    Rule,
    render_rules,
)
from tenant_operator.adapters.openbao.paths import (
    AUDIT_KEYS,
    AUDIT_TENANTS,
    CONNECTORS,
    INVITE_PREFIX,
    TENANT_POLICY,
    TENANT_PREFIX,
    PlatformPaths,
    TenantPaths,
    build_platform_paths,
)
from tenant_operator.domain.bundle import SIGNING_KEY
from tenant_operator.settings import Settings

#: The name the docs, the chart and the dev stack give the operator's policy and role.
DEFAULT_OPERATOR_NAME = "tenant-operator"

POLICY_FILES = {
    "namespace": Path(__file__).with_name("operator.hcl"),
    "mount": Path(__file__).with_name("operator-mount.hcl"),
}


def write_shipped_policies() -> None:
    """Regenerate the shipped policy files from the tables (``make crds`` runs this)."""
    for layout, path in POLICY_FILES.items():
        settings = Settings(secrets_layout=layout)
        path.write_text(render_operator_policy(build_platform_paths(settings), settings.kv_mount))


SECRETS_RW = ("create", "read", "update", "patch", "delete", "list")


#: The tenant's policy: full use of its own KV v2 mount, except that connector values
#: (routed by the operator from Kubernetes Secrets) are read-only and the owner's invite
#: is denied outright. The more specific paths win over ``data/*`` etc. in OpenBao's ACL
#: matching, and ``deny`` beats any other grant. No ``config`` of the mount, nothing
#: outside it, besides the token's own look-up, renewal and revocation.
TENANT_RULES = (
    Rule(
        "{m}/data/*",
        SECRETS_RW,
        "Its own secrets: every key ({connectors}/ and {invites}/ are narrowed below).",
    ),
    Rule("{m}/metadata/*", SECRETS_RW),
    Rule("{m}/subkeys/*", READ),
    Rule("{m}/delete/*", UPDATE),
    Rule("{m}/undelete/*", UPDATE),
    Rule("{m}/destroy/*", UPDATE),
    Rule(
        "{m}/data/{connectors}/*",
        READ,
        "Connector secrets ({connectors}/): the operator writes them; read only.",
    ),
    Rule("{m}/metadata/{connectors}/*", ("read", "list")),
    Rule("{m}/subkeys/{connectors}/*", READ),
    Rule("{m}/delete/{connectors}/*", DENY),
    Rule("{m}/undelete/{connectors}/*", DENY),
    Rule("{m}/destroy/{connectors}/*", DENY),
    Rule(
        "{m}/data/{invites}/*",
        DENY,
        "The owner's invite ({invites}/): never readable by the tenant's workloads.",
    ),
    Rule("{m}/metadata/{invites}/*", DENY),
    Rule("{m}/subkeys/{invites}/*", DENY),
    Rule("{m}/delete/{invites}/*", DENY),
    Rule("{m}/undelete/{invites}/*", DENY),
    Rule("{m}/destroy/{invites}/*", DENY),
    Rule("auth/token/lookup-self", READ, "The token itself (no default policy is attached)."),
    Rule("auth/token/renew-self", UPDATE),
    Rule("auth/token/revoke-self", UPDATE),
)


#: A tenant's data-key policy (in the operator's namespace, for the platform application's
#: identity): unwrap the tenant's data keys with its transit key, nothing else (no new data
#: key, no rotation, no read of the key, no other tenant's key).
DATA_KEY_RULES = (
    Rule(
        "{transit}/decrypt/{key}",
        UPDATE,
        "Unwrap the tenant's data keys (stored wrapped in PostgreSQL) with its transit key.",
    ),
)


def render_data_key_policy(paths: TenantPaths) -> str:
    """The tenant's data-key policy: ``DATA_KEY_RULES``."""
    header = (
        f"# Tenant {paths.slug}: unwrap its data keys with transit key {paths.transit_key}.\n"
        "# Rendered by tenant-operator; edits are reverted as drift.\n"
    )
    fields = {"transit": paths.transit_mount, "key": paths.transit_key}
    return header + render_rules(DATA_KEY_RULES, fields, paths.layout)


def _tenant_fields(paths: TenantPaths) -> dict[str, str]:
    return {"m": paths.mount, "connectors": CONNECTORS, "invites": INVITE_PREFIX}


def render_tenant_policy(paths: TenantPaths) -> str:
    """The tenant's ACL policy (its workloads' tokens get only this one): ``TENANT_RULES``."""
    where = "namespace " + (paths.namespace or "") if paths.layout == "namespace" else "mount"
    header = (
        f"# Tenant {paths.slug} ({where}): its own KV v2 mount {paths.mount}/ and nothing else.\n"
        "# Rendered by tenant-operator; edits are reverted as drift.\n"
    )
    return header + render_rules(TENANT_RULES, _tenant_fields(paths), paths.layout)


#: The comment that opens the operator's policy: ``OPERATOR_HEADER``, what it can do in
#: its layout (``OPERATOR_CAN``), then ``OPERATOR_REST``; templates over the same fields.
OPERATOR_HEADER = (
    "# tenant-operator: least-privilege ACL policy, layout {layout!r}, rendered for the "
    "default settings.\n"
    "# Attach it to the operator's token or Kubernetes-auth role in the operator's\n"
    "# namespace. What it CAN do:\n"
)
OPERATOR_CAN = {
    "namespace": (
        "#   - create the parent namespace {parent}/ and tenant namespaces {parent}/<slug>,\n"
        "#     and delete tenant namespaces (erasure deletes everything inside them);\n"
        "#   - inside a tenant namespace: enable the KV v2 mount {kv_mount}/ and the\n"
        "#     Kubernetes auth mount {auth}/, write the auth mount's config (the\n"
        "#     Kubernetes API, CA certificate and token-reviewer JWT that OpenBao checks\n"
        "#     service-account tokens with), the policy {tenant!r} and the\n"
        "#     role {tenant!r} (policies it writes reach only that namespace).\n"
        "#     CAUTION: the role and the config decide who logs in as the tenant (the\n"
        "#     service accounts the role binds, the Kubernetes API that vouches for\n"
        "#     them), so the holder of this policy could bind its own service account,\n"
        "#     log in as the tenant and read its secrets that way; guard it as such;\n"
    ),
    "mount": (
        "#   - enable, read and disable KV v2 mounts {parent}/<slug>/ (disabling a\n"
        "#     mount erases its data);\n"
        "#   - write and delete policies and roles on {auth}/ named {prefix}*,\n"
        "#     except the operator's own (denied below);\n"
        "#     CAUTION: the {prefix}* prefix is reserved for the operator, and\n"
        "#     whoever holds this token can put any capability into such a policy and\n"
        "#     bind it to a service account: in this layout treat the token as an admin\n"
        "#     credential;\n"
        "#   - enable (never disable or tune) the shared auth mount {auth}/ and write\n"
        "#     its config (the Kubernetes API, CA certificate and token-reviewer JWT that\n"
        "#     OpenBao checks service-account tokens with; if the operator logs in\n"
        "#     through this same mount, that is its own login's config too);\n"
    ),
}
OPERATOR_REST = (
    "#   - write connector secrets ({connectors}/*) and owner invites (invites/*)\n"
    "#     into tenant mounts, read/delete connector metadata (versions and the\n"
    "#     content hash that avoids rewriting unchanged values), and set the\n"
    "#     invites' metadata (expiry), deleting it for a new owner (or an erased one);\n"
    "#   - enable (never disable or tune) the platform mounts {transit}/ and\n"
    "#     {audit}/; create, read, configure, rotate, trim and delete transit keys\n"
    "#     named {prefix}* (deletion is the crypto-shredding of erasure);\n"
    "#   - make tenants' data keys with their transit keys (datakey/plaintext) and\n"
    "#     unwrap them (decrypt): the data keys seal personal data in PostgreSQL;\n"
    "#   - write and delete the tenants' data-key policies {prefix}<slug>-data-key\n"
    "#     (decrypt with that tenant's key only) in its own namespace;\n"
    "#   - create the ed25519 transit key {transit}/keys/{signing} (never delete it),\n"
    "#     sign and verify export manifests with it;\n"
    "#   - read and write audit chain heads and digest keys under\n"
    "#     {audit}/data/audit/, list the mirrored tenant chains, and\n"
    "#     destroy a chain's digest key (erasure: its redacted details stay unguessable).\n"
    "# What it CANNOT do:\n"
    "#   - read any secret value in a tenant mount (not even the ones it wrote), list\n"
    "#     tenant mounts, or touch keys outside connectors/ and invites/;\n"
    "#   - encrypt with, export or back up transit keys (it decrypts only what\n"
    "#     datakey made: a tenant's wrapped data keys), or sign with any key\n"
    "#     but {signing};\n"
    "#   - create tokens, read or change any other policy, mount, auth method or\n"
    "#     namespace, or anything under sys/ besides the paths below.\n\n"
)

#: The operator's policy. Paths are relative to the operator's own namespace; ``{kv}`` is
#: where tenant KV mounts are (``<parent>/+/<kv_mount>``, or ``<parent>/+``).
OPERATOR_RULES = (
    Rule("sys/namespaces/{parent}", CRU, "The parent of all tenant namespaces.", NAMESPACE),
    Rule("{parent}/sys/namespaces/+", CRUD, "Tenant namespaces: create, check, erase.", NAMESPACE),
    Rule(
        "{parent}/+/sys/mounts/{kv_mount}",
        CRU,
        "The tenant's KV v2 mount (enable and read its type; no tune, no disable).",
        NAMESPACE,
    ),
    Rule(
        "{parent}/+/sys/policies/acl/{tenant}",
        CRU,
        "The tenant's ACL policy, confined to its namespace.",
        NAMESPACE,
    ),
    Rule(
        "{parent}/+/sys/auth/{auth}",
        (*CRU, "sudo"),
        "The tenant's Kubernetes auth mount (enabling an auth method needs sudo).",
        NAMESPACE,
    ),
    Rule(
        "{parent}/+/auth/{auth}/config",
        CRU,
        "The tenant's Kubernetes auth config (read never returns the reviewer JWT).",
        NAMESPACE,
    ),
    Rule(
        "{parent}/+/auth/{auth}/role/{tenant}",
        CRU,
        "The tenant's Kubernetes-auth role.",
        NAMESPACE,
    ),
    Rule(
        "sys/mounts/{parent}/+",
        CRUD,
        "Tenant KV v2 mounts: enable, read type, disable (erasure).",
        MOUNT,
    ),
    Rule("sys/policies/acl/{prefix}*", CRUD, "Tenant ACL policies.", MOUNT),
    Rule(
        "sys/policies/acl/{prefix}*",
        CRUD,
        "Tenant data-key policies ({prefix}<slug>-data-key), in the operator's namespace.",
        NAMESPACE,
    ),
    Rule(
        "sys/auth/{auth}",
        (*CRU, "sudo"),
        "The shared Kubernetes auth mount (enabling an auth method needs sudo).",
        MOUNT,
    ),
    Rule(
        "auth/{auth}/config",
        CRU,
        "The shared Kubernetes auth config (read never returns the reviewer JWT).",
        MOUNT,
    ),
    Rule("auth/{auth}/role/{prefix}*", CRUD, "Tenant Kubernetes-auth roles.", MOUNT),
    EachName(
        (
            Rule(
                "sys/policies/acl/{name}",
                DENY,
                "The operator's own policy {name!r}: never rewritten with tenant rights.",
            ),
            Rule(
                "auth/{auth}/role/{name}",
                DENY,
                "The operator's own role {name!r}: never rewritten with tenant rights.",
                MOUNT,
            ),
        )
    ),
    Rule("{kv}/data/{connectors}/*", WRITE, "Connector secrets: write-only values."),
    Rule(
        "{kv}/metadata/{connectors}/*",
        CRUD,
        "Connector metadata: versions and the content hash; delete drops a connector.",
    ),
    Rule("{kv}/data/{invites}/*", WRITE, "Invites: write-only."),
    Rule(
        "{kv}/metadata/{invites}/*",
        ("create", "read", "update", "delete"),
        "Invites' metadata: expiry (delete_version_after); reading it tells whether an "
        "account has an invite (never its value); deleting it destroys every version (a new "
        "owner's invite, a data subject's erasure).",
    ),
    Rule("sys/mounts/{transit}", CRU, "Platform transit mount (enable and read its type only)."),
    Rule(
        "sys/mounts/{audit}",
        CRU,
        "Platform KV v2 mount for audit heads (enable and read its type only).",
    ),
    Rule(
        "{transit}/keys/{prefix}*",
        CRUD,
        "Tenant transit keys: create, read, configure deletion_allowed, rotate, destroy.",
    ),
    Rule(
        "{transit}/keys/{prefix}*/trim",
        UPDATE,
        "Trim a tenant key's old versions (after a subject erasure and the backup window).",
    ),
    Rule(
        "{transit}/datakey/plaintext/{prefix}*",
        UPDATE,
        "Make a tenant's data key (returned wrapped and plain; only the wrapped is stored).",
    ),
    Rule("{transit}/decrypt/{prefix}*", UPDATE, "Unwrap a tenant's data keys."),
    Rule(
        "{transit}/keys/{signing}",
        CRU,
        "The export signing key (ed25519): create (transit's create is an update without an "
        "existence check) and read its public keys; no config, rotate or delete.",
    ),
    Rule("{transit}/sign/{signing}", UPDATE, "Sign export manifests."),
    Rule("{transit}/verify/{signing}", UPDATE, "Verify export manifests."),
    Rule(
        "{audit}/data/audit/*",
        CRU,
        "Audit chain heads (not secret; mirrored to detect a rewrite inside PostgreSQL).",
    ),
    Rule(
        "{audit}/metadata/{audit_tenants}",
        ("list",),
        "The tenant chains with a mirrored head (verify-audit --all compares every one).",
    ),
    Rule(
        "{audit}/metadata/{audit_keys}/*",
        ("read", "delete"),
        "Audit digest keys: destroyed on erasure (read: whether one is left).",
    ),
)


def _operator_fields(platform: PlatformPaths, kv_mount: str) -> dict[str, str]:
    parent = platform.tenants_parent
    return {
        "layout": platform.layout,
        "parent": parent,
        "auth": platform.auth_mount,
        "kv_mount": kv_mount,
        "kv": f"{parent}/+/{kv_mount}" if platform.layout == "namespace" else f"{parent}/+",
        "tenant": TENANT_POLICY,
        "prefix": TENANT_PREFIX,
        "connectors": CONNECTORS,
        "invites": INVITE_PREFIX,
        "transit": platform.transit_mount,
        "audit": platform.audit_mount,
        "audit_tenants": AUDIT_TENANTS,
        "audit_keys": AUDIT_KEYS,
        "signing": SIGNING_KEY,
    }


def render_operator_policy(
    platform: PlatformPaths, kv_mount: str, own_names: Sequence[str] = (DEFAULT_OPERATOR_NAME,)
) -> str:
    """The operator's least-privilege ACL policy for ``platform.layout``: ``OPERATOR_RULES``.

    Paths are relative to the operator's own namespace (``bao_namespace``, or root).
    ``own_names`` are the operator's own policy and role names: in the mount layout, those
    that fall under ``tenant-*`` are denied explicitly, so the operator cannot rewrite
    its own policy or login role through the rights it has on tenant policies and roles.
    """
    fields = _operator_fields(platform, kv_mount)
    header = (OPERATOR_HEADER + OPERATOR_CAN[platform.layout] + OPERATOR_REST).format(**fields)
    own = sorted({n for n in own_names if n.startswith(TENANT_PREFIX)})
    body = render_rules(OPERATOR_RULES, fields, platform.layout, names=own, separator="\n")
    return header + body
