# tenant-operator: least-privilege ACL policy, layout 'namespace', rendered for the default settings.
# Attach it to the operator's token or Kubernetes-auth role in the operator's
# namespace. What it CAN do:
#   - create the parent namespace tenants/ and tenant namespaces tenants/<slug>,
#     and delete tenant namespaces (erasure deletes everything inside them);
#   - inside a tenant namespace: enable the KV v2 mount kv/ and the
#     Kubernetes auth mount kubernetes/, write the auth mount's config (the
#     Kubernetes API, CA certificate and token-reviewer JWT that OpenBao checks
#     service-account tokens with), the policy 'tenant' and the
#     role 'tenant' (policies it writes reach only that namespace).
#     CAUTION: the role and the config decide who logs in as the tenant (the
#     service accounts the role binds, the Kubernetes API that vouches for
#     them), so the holder of this policy could bind its own service account,
#     log in as the tenant and read its secrets that way; guard it as such;
#   - write connector secrets (connectors/*) and owner invites (invites/*)
#     into tenant mounts, read/delete connector metadata (versions and the
#     content hash that avoids rewriting unchanged values), and set the
#     invites' metadata (expiry), deleting it for a new owner (or an erased one);
#   - enable (never disable or tune) the platform mounts transit/ and
#     platform/; create, read, configure, rotate, trim and delete transit keys
#     named tenant-* (deletion is the crypto-shredding of erasure);
#   - make tenants' data keys with their transit keys (datakey/plaintext) and
#     unwrap them (decrypt): the data keys seal personal data in PostgreSQL;
#   - write and delete the tenants' data-key policies tenant-<slug>-data-key
#     (decrypt with that tenant's key only) in its own namespace;
#   - create the ed25519 transit key transit/keys/operator-export-signing (never delete it),
#     sign and verify export manifests with it;
#   - read and write audit chain heads and digest keys under
#     platform/data/audit/, list the mirrored tenant chains, and
#     destroy a chain's digest key (erasure: its redacted details stay unguessable).
# What it CANNOT do:
#   - read any secret value in a tenant mount (not even the ones it wrote), list
#     tenant mounts, or touch keys outside connectors/ and invites/;
#   - encrypt with, export or back up transit keys (it decrypts only what
#     datakey made: a tenant's wrapped data keys), or sign with any key
#     but operator-export-signing;
#   - create tokens, read or change any other policy, mount, auth method or
#     namespace, or anything under sys/ besides the paths below.

# The parent of all tenant namespaces.
path "sys/namespaces/tenants" {
  capabilities = ["create", "read", "update"]
}

# Tenant namespaces: create, check, erase.
path "tenants/sys/namespaces/+" {
  capabilities = ["create", "read", "update", "delete"]
}

# The tenant's KV v2 mount (enable and read its type; no tune, no disable).
path "tenants/+/sys/mounts/kv" {
  capabilities = ["create", "read", "update"]
}

# The tenant's ACL policy, confined to its namespace.
path "tenants/+/sys/policies/acl/tenant" {
  capabilities = ["create", "read", "update"]
}

# The tenant's Kubernetes auth mount (enabling an auth method needs sudo).
path "tenants/+/sys/auth/kubernetes" {
  capabilities = ["create", "read", "update", "sudo"]
}

# The tenant's Kubernetes auth config (read never returns the reviewer JWT).
path "tenants/+/auth/kubernetes/config" {
  capabilities = ["create", "read", "update"]
}

# The tenant's Kubernetes-auth role.
path "tenants/+/auth/kubernetes/role/tenant" {
  capabilities = ["create", "read", "update"]
}

# Tenant data-key policies (tenant-<slug>-data-key), in the operator's namespace.
path "sys/policies/acl/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# The operator's own policy 'tenant-operator': never rewritten with tenant rights.
path "sys/policies/acl/tenant-operator" {
  capabilities = ["deny"]
}

# Connector secrets: write-only values.
path "tenants/+/kv/data/connectors/*" {
  capabilities = ["create", "update"]
}

# Connector metadata: versions and the content hash; delete drops a connector.
path "tenants/+/kv/metadata/connectors/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Invites: write-only.
path "tenants/+/kv/data/invites/*" {
  capabilities = ["create", "update"]
}

# Invites' metadata: expiry (delete_version_after); reading it tells whether an account has an invite (never its value); deleting it destroys every version (a new owner's invite, a data subject's erasure).
path "tenants/+/kv/metadata/invites/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Platform transit mount (enable and read its type only).
path "sys/mounts/transit" {
  capabilities = ["create", "read", "update"]
}

# Platform KV v2 mount for audit heads (enable and read its type only).
path "sys/mounts/platform" {
  capabilities = ["create", "read", "update"]
}

# Tenant transit keys: create, read, configure deletion_allowed, rotate, destroy.
path "transit/keys/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Trim a tenant key's old versions (after a subject erasure and the backup window).
path "transit/keys/tenant-*/trim" {
  capabilities = ["update"]
}

# Make a tenant's data key (returned wrapped and plain; only the wrapped is stored).
path "transit/datakey/plaintext/tenant-*" {
  capabilities = ["update"]
}

# Unwrap a tenant's data keys.
path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}

# The export signing key (ed25519): create (transit's create is an update without an existence check) and read its public keys; no config, rotate or delete.
path "transit/keys/operator-export-signing" {
  capabilities = ["create", "read", "update"]
}

# Sign export manifests.
path "transit/sign/operator-export-signing" {
  capabilities = ["update"]
}

# Verify export manifests.
path "transit/verify/operator-export-signing" {
  capabilities = ["update"]
}

# Audit chain heads (not secret; mirrored to detect a rewrite inside PostgreSQL).
path "platform/data/audit/*" {
  capabilities = ["create", "read", "update"]
}

# The tenant chains with a mirrored head (verify-audit --all compares every one).
path "platform/metadata/audit/tenants" {
  capabilities = ["list"]
}

# Audit digest keys: destroyed on erasure (read: whether one is left).
path "platform/metadata/audit/keys/*" {
  capabilities = ["read", "delete"]
}
