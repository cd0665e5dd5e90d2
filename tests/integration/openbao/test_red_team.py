"""Red team: a tenant workload's token against everything in OpenBao that is not its own.

The token holds exactly what the tenant's Kubernetes-auth role grants (the tenant policy,
no default policy). Every request below must be refused by OpenBao itself, and nothing the
platform or the other tenant holds may change.
"""

import http.client
import json
from collections.abc import Callable
from urllib.parse import urlparse

import hvac
import pytest
from hvac import exceptions as hv

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tests.support.openbao import root_in, run, tenant_token

pytestmark = pytest.mark.integration

Request = tuple[str, str, dict[str, object] | None]  # (method, path, body)


def _requests(
    tenants: OpenBaoTenants, own: str, other: str, own_namespace: str | None
) -> list[Request]:
    """What a tenant workload tries: the platform, the other tenant, sys/, tokens."""
    platform = tenants.platform
    audit, transit, auth = platform.audit_mount, platform.transit_mount, platform.auth_mount
    role = "tenant" if platform.layout == "namespace" else f"tenant-{own}"
    policy = role
    return [
        # The platform mount: audit heads and digest keys (operator namespace).
        ("GET", f"{audit}/data/audit/tenants/{other}", None),
        ("GET", f"{audit}/data/audit/keys/tenants/{other}", None),
        ("GET", f"{audit}/data/audit/keys/tenants/{own}", None),
        ("GET", f"{audit}/data/audit/platform", None),
        ("POST", f"{audit}/data/audit/tenants/{own}", {"data": {"seq": "1", "head": "x"}}),
        ("DELETE", f"{audit}/metadata/audit/keys/tenants/{other}", None),
        ("LIST", f"{audit}/metadata/audit/tenants", None),
        # Transit: the tenants' keys (crypto-shredding) - use, read, rotate, delete.
        ("GET", f"{transit}/keys/tenant-{own}", None),
        ("POST", f"{transit}/encrypt/tenant-{other}", {"plaintext": "eA=="}),
        ("POST", f"{transit}/encrypt/tenant-{own}", {"plaintext": "eA=="}),
        ("POST", f"{transit}/keys/tenant-{other}/config", {"deletion_allowed": True}),
        ("DELETE", f"{transit}/keys/tenant-{other}", None),
        ("GET", f"{transit}/export/encryption-key/tenant-{own}", None),
        # sys/: policies (its own too), mounts, namespaces, auth, audit devices.
        ("GET", f"sys/policies/acl/{policy}", None),
        ("POST", f"sys/policies/acl/{policy}", {"policy": 'path "*" {capabilities=["sudo"]}'}),
        ("POST", "sys/policies/acl/escalate", {"policy": 'path "*" {capabilities=["read"]}'}),
        ("LIST", "sys/policies/acl", None),
        ("GET", "sys/mounts", None),
        ("POST", "sys/mounts/stolen", {"type": "kv"}),
        ("POST", f"sys/mounts/{tenants.settings.kv_mount}/tune", {"max_versions": 1}),
        ("POST", "sys/namespaces/child", {}),
        ("LIST", "sys/namespaces", None),
        ("GET", "sys/auth", None),
        ("POST", "sys/auth/userpass", {"type": "userpass"}),
        ("GET", "sys/audit", None),
        ("POST", "sys/leases/lookup", {"lease_id": "x"}),
        ("POST", "sys/wrapping/wrap", {"a": "b"}),
        # Its Kubernetes-auth role: rebinding it to any service account, or reading it.
        ("GET", f"auth/{auth}/role/{role}", None),
        (
            "POST",
            f"auth/{auth}/role/{role}",
            {"bound_service_account_names": ["*"], "bound_service_account_namespaces": ["*"]},
        ),
        ("GET", f"auth/{auth}/config", None),
        ("LIST", f"auth/{auth}/role", None),
        # Tokens: children, orphans, roles, other accessors.
        ("POST", "auth/token/create", {"policies": [policy], "ttl": "768h"}),
        ("POST", "auth/token/create-orphan", {}),
        ("POST", "auth/token/create/any", {}),
        ("LIST", "auth/token/accessors", None),
        ("POST", "auth/token/lookup", {"token": "x"}),
        # Identity: entities and groups (policies are granted through groups).
        ("POST", "identity/group", {"name": "g", "policies": ["root"]}),
        ("LIST", "identity/entity/id", None),
        # Its own mount's configuration (max versions, CAS) is the operator's.
        ("POST", f"{tenants.settings.kv_mount}/config", {"max_versions": 1})
        if own_namespace
        else ("POST", f"tenants/{own}/config", {"max_versions": 1}),
    ]


def _call(client: hvac.Client, method: str, path: str, body: dict[str, object] | None) -> None:
    url = f"/v1/{path}"
    send: dict[str, Callable[..., object]] = {
        "GET": client.adapter.get,
        "POST": client.adapter.post,
        "DELETE": client.adapter.delete,
        "LIST": client.adapter.list,
    }
    send[method](url, json=body) if body is not None else send[method](url)


def test_a_tenant_token_is_refused_everywhere_outside_its_own_mount(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, bao_secrets: set[str]
) -> None:
    own, other = "rt-own", "rt-other"
    a = tenant_token(openbao_server, tenants, own)
    bao_secrets.add(a.token)
    own_state = run(tenants.ensure_tenant(own))
    run(tenants.ensure_tenant(other))
    run(tenants.mirror_audit_head(other, 3, "sha256:" + "ab" * 32))
    ops = tenants.platform.namespace
    root_ops = root_in(openbao_server, ops)
    policies_before = root_ops.sys.list_acl_policies()["data"]["keys"]
    mounts_before = sorted(root_ops.sys.list_mounted_secrets_engines()["data"])

    allowed = []
    # From its own namespace, and addressed through the operator's and the root namespace.
    for namespace in {own_state.namespace, ops, None}:
        client = hvac.Client(
            url=openbao_server.addr,
            verify=str(openbao_server.ca_cert),
            token=a.token,
            namespace=namespace,
        )
        for method, path, body in _requests(tenants, own, other, own_state.namespace):
            try:
                _call(client, method, path, body)
            except hv.Forbidden:
                continue
            except hv.InvalidRequest as exc:
                if "only available in root namespace" in str(exc):
                    continue  # refused too: sys/audit exists in the root namespace only
                allowed.append(f"{method} {namespace or ''}:{path}: {exc}")
                continue
            except hv.VaultError as exc:
                allowed.append(f"{method} {namespace or ''}:{path}: {type(exc).__name__} {exc}")
                continue
            allowed.append(f"{method} {namespace or ''}:{path}")
    assert allowed == []

    # Nothing changed: the other tenant's mirrored head, the platform's policies and mounts.
    assert run(tenants.read_audit_head(other)) == (3, "sha256:" + "ab" * 32)
    assert root_ops.sys.list_acl_policies()["data"]["keys"] == policies_before
    assert sorted(root_ops.sys.list_mounted_secrets_engines()["data"]) == mounts_before
    # The token still has only the tenant policy (no child or widened token was made).
    assert a.auth.token.lookup_self()["data"]["policies"] == [own_state.policy]


def test_path_tricks_do_not_take_a_tenant_token_past_its_policy(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, bao_secrets: set[str]
) -> None:
    """``..``, ``.``, ``//``, encoded separators and case: the owner's invite stays out of
    reach and the read-only connector keeps its value. OpenBao answers each with a
    redirect to the clean path (then refused), 400 or 403, never with the value."""
    slug = "rt-paths"
    a = tenant_token(openbao_server, tenants, slug)
    state = run(tenants.ensure_tenant(slug))
    bao_secrets.update({a.token, "rt-invite-s3cr3t", "rt-gh-s3cr3t"})
    run(tenants.store_invite(slug, "rt-invite-s3cr3t"))
    run(tenants.route_connector(slug, "github", {"token": "rt-gh-s3cr3t"}))
    m = state.mount
    reads = [
        f"{m}/data/x/../invites/owner",
        f"{m}/data/x/%2e%2e/invites/owner",
        f"{m}/data//invites/owner",
        f"{m}/data/./invites/owner",
        f"{m}/data/invites%2fowner",
        f"{m}/data/invites/%6fwner",
    ]
    writes = [
        f"{m}/data/x/../connectors/github",
        f"{m}/data//connectors/github",
        f"{m}/data/connectors//github",
        f"{m}/data/connectors/./github",
        f"{m}/data/connectors%2fgithub",
    ]
    url = urlparse(openbao_server.addr)
    headers = {"X-Vault-Token": a.token}
    if state.namespace:
        headers["X-Vault-Namespace"] = state.namespace
    answers = []
    for method, path in [("GET", p) for p in reads] + [("POST", p) for p in writes]:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        body = json.dumps({"data": {"token": "stolen"}}) if method == "POST" else None
        conn.request(method, f"/v1/{path}", body=body, headers=headers)
        answer = conn.getresponse()
        text = answer.read().decode(errors="replace")
        conn.close()
        if answer.status == 307:  # to the clean path: asked again there, as a client would
            target = answer.getheader("Location") or ""
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
            conn.request(method, target, body=body, headers=headers)
            answer = conn.getresponse()
            text = answer.read().decode(errors="replace")
            conn.close()
        answers.append((method, path, answer.status))
        assert "rt-invite-s3cr3t" not in text
    assert [a for a in answers if a[2] not in (400, 403, 404)] == []
    root = root_in(openbao_server, state.namespace)
    value = root.adapter.get(f"/v1/{m}/data/connectors/github")["data"]["data"]
    assert value == {"token": "rt-gh-s3cr3t"}
    assert root.adapter.get(f"/v1/{m}/metadata/connectors/github")["data"]["current_version"] == 1
