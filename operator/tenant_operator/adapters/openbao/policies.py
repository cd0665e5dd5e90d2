"""Pure renderers of ACL policy HCL: the tenant's policy and the operator's own policy.

The operator's policy is rendered from the settings so it always matches the paths the
adapter uses; the shipped ``operator.hcl`` / ``operator-mount.hcl`` (default settings) are
checked against these renderers by a unit test.
"""

from collections.abc import Sequence
from pathlib import Path

from tenant_operator.adapters.openbao.paths import (
    AUDIT_KEYS,
    AUDIT_TENANTS,
    CONNECTORS,
    INVITE_PREFIX,
    TENANT_POLICY,
    TENANT_PREFIX,
    PlatformPaths,
    TenantPaths,
)

#: The name the docs, the chart and the dev stack give the operator's policy and role.
DEFAULT_OPERATOR_NAME = "tenant-operator"

POLICY_FILES = {
    "namespace": Path(__file__).with_name("operator.hcl"),
    "mount": Path(__file__).with_name("operator-mount.hcl"),
}

_SECRETS_RW = '["create", "read", "update", "patch", "delete", "list"]'
_DENY = '["deny"]'
#: KV v2 endpoints of a key besides data/ and metadata/ (OpenBao's kv plugin).
_KV_VERSION_OPS = ("delete", "undelete", "destroy")


def _tenant_block(path: str, capabilities: str) -> str:
    return f'path "{path}" {{\n  capabilities = {capabilities}\n}}\n'


def render_tenant_policy(paths: TenantPaths) -> str:
    """The tenant's ACL policy (its workloads' tokens get only this one).

    Full use of its own KV v2 mount, except: connector values (``connectors/*``, routed by
    the operator from Kubernetes Secrets) are read-only, and the owner's invite
    (``invites/*``) is denied outright. The more specific paths win over ``data/*`` etc.
    in OpenBao's ACL matching, and ``deny`` beats any other grant. No ``config`` of the
    mount, nothing outside it, besides the token's own look-up, renewal and revocation.
    """
    where = "namespace " + (paths.namespace or "") if paths.layout == "namespace" else "mount"
    m = paths.mount
    text = (
        f"# Tenant {paths.slug} ({where}): its own KV v2 mount {m}/ and nothing else.\n"
        "# Rendered by tenant-operator; edits are reverted as drift.\n"
        "# Its own secrets: every key (connectors/ and invites/ are narrowed below).\n"
    )
    text += _tenant_block(f"{m}/data/*", _SECRETS_RW)
    text += _tenant_block(f"{m}/metadata/*", _SECRETS_RW)
    text += _tenant_block(f"{m}/subkeys/*", '["read"]')
    for op in _KV_VERSION_OPS:
        text += _tenant_block(f"{m}/{op}/*", '["update"]')
    text += f"# Connector secrets ({CONNECTORS}/): the operator writes them; read only.\n"
    text += _tenant_block(f"{m}/data/{CONNECTORS}/*", '["read"]')
    text += _tenant_block(f"{m}/metadata/{CONNECTORS}/*", '["read", "list"]')
    text += _tenant_block(f"{m}/subkeys/{CONNECTORS}/*", '["read"]')
    for op in _KV_VERSION_OPS:
        text += _tenant_block(f"{m}/{op}/{CONNECTORS}/*", _DENY)
    text += f"# The owner's invite ({INVITE_PREFIX}/): never readable by the tenant's workloads.\n"
    for op in ("data", "metadata", "subkeys", *_KV_VERSION_OPS):
        text += _tenant_block(f"{m}/{op}/{INVITE_PREFIX}/*", _DENY)
    text += "# The token itself (no default policy is attached).\n"
    text += _tenant_block("auth/token/lookup-self", '["read"]')
    text += _tenant_block("auth/token/renew-self", '["update"]')
    text += _tenant_block("auth/token/revoke-self", '["update"]')
    return text


def _block(comment: str, path: str, capabilities: str) -> str:
    return f'# {comment}\npath "{path}" {{\n  capabilities = {capabilities}\n}}\n\n'


def render_operator_policy(
    platform: PlatformPaths, kv_mount: str, own_names: Sequence[str] = (DEFAULT_OPERATOR_NAME,)
) -> str:
    """The operator's least-privilege ACL policy for ``platform.layout``.

    Paths are relative to the operator's own namespace (``bao_namespace``, or root).
    ``own_names`` are the operator's own policy and role names: in the mount layout, those
    that fall under ``tenant-*`` are denied explicitly, so the operator cannot rewrite
    its own policy or login role through the rights it has on tenant policies and roles.
    """
    parent, auth = platform.tenants_parent, platform.auth_mount
    header = (
        "# tenant-operator: least-privilege ACL policy, "
        f"layout {platform.layout!r}, rendered for the default settings.\n"
        "# Attach it to the operator's token or Kubernetes-auth role in the operator's\n"
        "# namespace. What it CAN do:\n"
    )
    if platform.layout == "namespace":
        header += (
            f"#   - create the parent namespace {parent}/ and tenant namespaces {parent}/<slug>,\n"
            "#     and delete tenant namespaces (erasure deletes everything inside them);\n"
            f"#   - inside a tenant namespace: enable the KV v2 mount {kv_mount}/ and the\n"
            f"#     Kubernetes auth mount {auth}/, write the auth mount's config (the\n"
            "#     Kubernetes API, CA certificate and token-reviewer JWT that OpenBao checks\n"
            f"#     service-account tokens with), the policy {TENANT_POLICY!r} and the\n"
            f"#     role {TENANT_POLICY!r} (policies it writes reach only that namespace).\n"
            "#     CAUTION: the role and the config decide who logs in as the tenant (the\n"
            "#     service accounts the role binds, the Kubernetes API that vouches for\n"
            "#     them), so the holder of this policy could bind its own service account,\n"
            "#     log in as the tenant and read its secrets that way; guard it as such;\n"
        )
        kv = f"{parent}/+/{kv_mount}"
    else:
        header += (
            f"#   - enable, read and disable KV v2 mounts {parent}/<slug>/ (disabling a\n"
            "#     mount erases its data);\n"
            f"#   - write and delete policies and roles on {auth}/ named {TENANT_PREFIX}*,\n"
            "#     except the operator's own (denied below);\n"
            f"#     CAUTION: the {TENANT_PREFIX}* prefix is reserved for the operator, and\n"
            "#     whoever holds this token can put any capability into such a policy and\n"
            "#     bind it to a service account: in this layout treat the token as an admin\n"
            "#     credential;\n"
            f"#   - enable (never disable or tune) the shared auth mount {auth}/ and write\n"
            "#     its config (the Kubernetes API, CA certificate and token-reviewer JWT that\n"
            "#     OpenBao checks service-account tokens with; if the operator logs in\n"
            "#     through this same mount, that is its own login's config too);\n"
        )
        kv = f"{parent}/+"
    header += (
        f"#   - write connector secrets ({CONNECTORS}/*) and owner invites (invites/*)\n"
        "#     into tenant mounts, read/delete connector metadata (versions and the\n"
        "#     content hash that avoids rewriting unchanged values), and set the\n"
        "#     invites' metadata (expiry), deleting it for a new owner;\n"
        f"#   - enable (never disable or tune) the platform mounts {platform.transit_mount}/ and\n"
        f"#     {platform.audit_mount}/; create, read, configure, rotate and delete transit keys\n"
        f"#     named {TENANT_PREFIX}* (deletion is the crypto-shredding of erasure);\n"
        f"#   - read and write audit chain heads and digest keys under\n"
        f"#     {platform.audit_mount}/data/audit/, list the mirrored tenant chains, and\n"
        "#     destroy a chain's digest key (erasure: its redacted details stay unguessable).\n"
        "# What it CANNOT do:\n"
        "#   - read any secret value in a tenant mount (not even the ones it wrote), list\n"
        "#     tenant mounts, or touch keys outside connectors/ and invites/;\n"
        "#   - encrypt, decrypt, export or back up with transit keys;\n"
        "#   - create tokens, read or change any other policy, mount, auth method or\n"
        "#     namespace, or anything under sys/ besides the paths below.\n\n"
    )
    body = ""
    if platform.layout == "namespace":
        body += _block(
            "The parent of all tenant namespaces.",
            f"sys/namespaces/{parent}",
            '["create", "read", "update"]',
        )
        body += _block(
            "Tenant namespaces: create, check, erase.",
            f"{parent}/sys/namespaces/+",
            '["create", "read", "update", "delete"]',
        )
        body += _block(
            "The tenant's KV v2 mount (enable and read its type; no tune, no disable).",
            f"{parent}/+/sys/mounts/{kv_mount}",
            '["create", "read", "update"]',
        )
        body += _block(
            "The tenant's ACL policy, confined to its namespace.",
            f"{parent}/+/sys/policies/acl/{TENANT_POLICY}",
            '["create", "read", "update"]',
        )
        body += _block(
            "The tenant's Kubernetes auth mount (enabling an auth method needs sudo).",
            f"{parent}/+/sys/auth/{auth}",
            '["create", "read", "update", "sudo"]',
        )
        body += _block(
            "The tenant's Kubernetes auth config (read never returns the reviewer JWT).",
            f"{parent}/+/auth/{auth}/config",
            '["create", "read", "update"]',
        )
        body += _block(
            "The tenant's Kubernetes-auth role.",
            f"{parent}/+/auth/{auth}/role/{TENANT_POLICY}",
            '["create", "read", "update"]',
        )
    else:
        body += _block(
            "Tenant KV v2 mounts: enable, read type, disable (erasure).",
            f"sys/mounts/{parent}/+",
            '["create", "read", "update", "delete"]',
        )
        body += _block(
            "Tenant ACL policies.",
            f"sys/policies/acl/{TENANT_PREFIX}*",
            '["create", "read", "update", "delete"]',
        )
        body += _block(
            "The shared Kubernetes auth mount (enabling an auth method needs sudo).",
            f"sys/auth/{auth}",
            '["create", "read", "update", "sudo"]',
        )
        body += _block(
            "The shared Kubernetes auth config (read never returns the reviewer JWT).",
            f"auth/{auth}/config",
            '["create", "read", "update"]',
        )
        body += _block(
            "Tenant Kubernetes-auth roles.",
            f"auth/{auth}/role/{TENANT_PREFIX}*",
            '["create", "read", "update", "delete"]',
        )
        for name in sorted({n for n in own_names if n.startswith(TENANT_PREFIX)}):
            body += _block(
                f"The operator's own policy {name!r}: never rewritten with tenant rights.",
                f"sys/policies/acl/{name}",
                '["deny"]',
            )
            body += _block(
                f"The operator's own role {name!r}: never rewritten with tenant rights.",
                f"auth/{auth}/role/{name}",
                '["deny"]',
            )
    body += _block(
        "Connector secrets: write-only values.", f"{kv}/data/{CONNECTORS}/*", '["create", "update"]'
    )
    body += _block(
        "Connector metadata: versions and the content hash; delete drops a connector.",
        f"{kv}/metadata/{CONNECTORS}/*",
        '["create", "read", "update", "delete"]',
    )
    body += _block("Owner invites: write-only.", f"{kv}/data/invites/*", '["create", "update"]')
    body += _block(
        "Owner invites' metadata: expiry (delete_version_after); deleting it destroys "
        "every earlier version (a new owner's invite).",
        f"{kv}/metadata/invites/*",
        '["create", "update", "delete"]',
    )
    body += _block(
        "Platform transit mount (enable and read its type only).",
        f"sys/mounts/{platform.transit_mount}",
        '["create", "read", "update"]',
    )
    body += _block(
        "Platform KV v2 mount for audit heads (enable and read its type only).",
        f"sys/mounts/{platform.audit_mount}",
        '["create", "read", "update"]',
    )
    body += _block(
        "Tenant transit keys: create, read, configure deletion_allowed, rotate, destroy.",
        f"{platform.transit_mount}/keys/{TENANT_PREFIX}*",
        '["create", "read", "update", "delete"]',
    )
    body += _block(
        "Audit chain heads (not secret; mirrored to detect a rewrite inside PostgreSQL).",
        f"{platform.audit_mount}/data/audit/*",
        '["create", "read", "update"]',
    )
    body += _block(
        "The tenant chains with a mirrored head (verify-audit --all compares every one).",
        f"{platform.audit_mount}/metadata/{AUDIT_TENANTS}",
        '["list"]',
    )
    body += _block(
        "Audit digest keys: destroyed on erasure (read: whether one is left).",
        f"{platform.audit_mount}/metadata/{AUDIT_KEYS}/*",
        '["read", "delete"]',
    )
    return header + body.rstrip("\n") + "\n"
