# tenant-operator: least-privilege ACL policy, layout 'mount', rendered for the default settings.
# Attach it to the operator's token or Kubernetes-auth role in the operator's
# namespace. What it CAN do:
#   - enable, read and disable KV v2 mounts tenants/<slug>/ (disabling a
#     mount erases its data);
#   - write and delete policies and roles on kubernetes/ named tenant-*,
#     except the operator's own (denied below);
#     CAUTION: the tenant-* prefix is reserved for the operator, and
#     whoever holds this token can put any capability into such a policy and
#     bind it to a service account: in this layout treat the token as an admin
#     credential;
#   - enable (never disable or tune) the shared auth mount kubernetes/ and write
#     its config (the Kubernetes API, CA certificate and token-reviewer JWT that
#     OpenBao checks service-account tokens with; if the operator logs in
#     through this same mount, that is its own login's config too);
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

# Tenant KV v2 mounts: enable, read type, disable (erasure).
path "sys/mounts/tenants/+" {
  capabilities = ["create", "read", "update", "delete"]
}

# Tenant ACL policies.
path "sys/policies/acl/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# The shared Kubernetes auth mount (enabling an auth method needs sudo).
path "sys/auth/kubernetes" {
  capabilities = ["create", "read", "update", "sudo"]
}

# The shared Kubernetes auth config (read never returns the reviewer JWT).
path "auth/kubernetes/config" {
  capabilities = ["create", "read", "update"]
}

# Tenant Kubernetes-auth roles.
path "auth/kubernetes/role/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# The operator's own policy 'tenant-operator': never rewritten with tenant rights.
path "sys/policies/acl/tenant-operator" {
  capabilities = ["deny"]
}

# The operator's own role 'tenant-operator': never rewritten with tenant rights.
path "auth/kubernetes/role/tenant-operator" {
  capabilities = ["deny"]
}

# Connector secrets: write-only values.
path "tenants/+/data/connectors/*" {
  capabilities = ["create", "update"]
}

# Connector metadata: versions and the content hash; delete drops a connector.
path "tenants/+/metadata/connectors/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Invites: write-only.
path "tenants/+/data/invites/*" {
  capabilities = ["create", "update"]
}

# Invites' metadata: expiry (delete_version_after); reading it tells whether an account has an invite (never its value); deleting it destroys every version (a new owner's invite, a data subject's erasure).
path "tenants/+/metadata/invites/*" {
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
