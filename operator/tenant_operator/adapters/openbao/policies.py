"""Pure renderers of ACL policy HCL: the tenant's policy and the operator's own policy.

The operator's policy is rendered from the settings so it always matches the paths the
adapter uses; the shipped ``operator.hcl`` / ``operator-mount.hcl`` (default settings) are
checked against these renderers by a unit test.
"""

from collections.abc import Sequence
from pathlib import Path

from tenant_operator.adapters.openbao.paths import (
    CONNECTORS,
    TENANT_POLICY,
    TENANT_PREFIX,
    PlatformPaths,
    TenantPaths,
)

POLICY_FILES = {
    "namespace": Path(__file__).with_name("operator.hcl"),
    "mount": Path(__file__).with_name("operator-mount.hcl"),
}

_SECRETS_RW = '["create", "read", "update", "patch", "delete", "list"]'


def render_tenant_policy(paths: TenantPaths) -> str:
    """The tenant's ACL policy: full use of its own KV mount and nothing else."""
    where = "namespace " + (paths.namespace or "") if paths.layout == "namespace" else "mount"
    return (
        f"# Tenant {paths.slug} ({where}): its own KV v2 mount {paths.mount}/ and nothing else.\n"
        f"# Rendered by tenant-operator; edits are reverted as drift.\n"
        f'path "{paths.mount}/*" {{\n'
        f"  capabilities = {_SECRETS_RW}\n"
        "}\n"
    )


def _block(comment: str, path: str, capabilities: str) -> str:
    return f'# {comment}\npath "{path}" {{\n  capabilities = {capabilities}\n}}\n\n'


#: The operator's own policy and Kubernetes-auth role names as shipped (the chart's
#: openbao.operatorPolicy and openbao.auth.kubernetes.role defaults).
DEFAULT_OPERATOR_NAMES = ("tenant-operator",)


def render_operator_policy(
    platform: PlatformPaths, kv_mount: str, operator_names: Sequence[str] = DEFAULT_OPERATOR_NAMES
) -> str:
    """The operator's least-privilege ACL policy for ``platform.layout``.

    Paths are relative to the operator's own namespace (``bao_namespace``, or root). In the
    mount layout, ``operator_names`` (its own policy and role) that fall under the tenant
    prefix are denied explicitly, so not even the operator can overwrite them.
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
            f"#   - write and delete policies and roles on {auth}/ named {TENANT_PREFIX}*\n"
            "#     (except the operator's own policy and role, denied below).\n"
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
        "#     into tenant mounts, and read/delete their metadata (versions and the\n"
        "#     content hash that avoids rewriting unchanged values);\n"
        f"#   - enable (never disable or tune) the platform mounts {platform.transit_mount}/ and\n"
        f"#     {platform.audit_mount}/; create, read, configure, rotate and delete transit keys\n"
        f"#     named {TENANT_PREFIX}* (deletion is the crypto-shredding of erasure);\n"
        f"#   - read and write audit chain heads under {platform.audit_mount}/data/audit/.\n"
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
        for name in sorted({n for n in operator_names if n.startswith(TENANT_PREFIX)}):
            body += _block(
                f"The operator's own policy {name}: never written (this path wins over "
                f"{TENANT_PREFIX}*).",
                f"sys/policies/acl/{name}",
                '["deny"]',
            )
            body += _block(
                f"The operator's own Kubernetes-auth role {name}, likewise.",
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
    return header + body.rstrip("\n") + "\n"
