"""The chart's RBAC, proven on the real kube-apiserver rather than guessed.

The chart is rendered with the real ``helm``; its ServiceAccount, ClusterRole, Roles and
bindings are applied; the operator runs with the environment of the rendered Deployment
and a token of that ServiceAccount (so every request is authorised as it, exactly as in a
pod). The apiserver's audit log then shows what it did: nothing may be refused, and every
rule must have been used (least privilege). Taking a rule away makes the check fail.
"""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import client

from devenv.kube import KubeApi
from devenv.kubeconfig import write_kubeconfig
from devenv.operator import OperatorProcess, ensure_namespaces
from devenv.process import free_port
from tests.e2e.operator.conftest import GROUP, SECRETS_NS, VERSION, Stack, unique
from tests.e2e.operator.test_lifecycle import connector
from tests.e2e.operator.test_subprocessors_and_metrics import add_subprocessor
from tests.support.chart import (
    RELEASE,
    RELEASE_NAMESPACE,
    container_env,
    documents,
    find,
    only,
    secret_volumes,
)

pytestmark = pytest.mark.e2e

SA_USER = f"system:serviceaccount:{RELEASE_NAMESPACE}:{RELEASE}"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
DB_SECRET, BAO_SECRET = "tenant-operator-database", "tenant-operator-openbao"
PG_CA_SECRET, BAO_CA_SECRET = "tenant-operator-postgres-ca", "tenant-operator-openbao-ca"


@dataclass(frozen=True)
class Request:
    """One request the ServiceAccount made, from the apiserver's audit log."""

    verb: str
    group: str
    resource: str  # with its subresource: tenants/status
    namespace: str
    code: int

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {self.resource}.{self.group or 'core'}{where} -> {self.code}"


def chart_values(stack: Stack) -> dict[str, Any]:
    return {
        "database.existingSecret": DB_SECRET,
        "database.caSecret": PG_CA_SECRET,
        "openbao.address": stack.bao.addr,
        "openbao.caSecret": BAO_CA_SECRET,
        "openbao.auth.method": "token",
        "openbao.auth.token.existingSecret": BAO_SECRET,
        "tenants.allowedSecretNamespaces": [SECRETS_NS],
    }


def apply(kube: KubeApi, docs: list[dict[str, Any]]) -> None:
    manifest = "\n".join(json.dumps(d) for d in docs)
    done = kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)
    assert done.returncode == 0, done.stderr


def install_rbac(stack: Stack, kube: KubeApi, docs: list[dict[str, Any]]) -> None:
    """The chart's RBAC and peering objects, plus the Secrets its Deployment reads."""
    ensure_namespaces(kube, [RELEASE_NAMESPACE, SECRETS_NS])
    apply(kube, [d for d in docs if d["kind"] in (*RBAC_KINDS, "KopfPeering")])
    # The DSN verifies the server; its CA comes from database.caSecret (PGSSLROOTCERT).
    dsn = stack.operator.env["DATABASE_URL"].replace(f"&sslrootcert={stack.pg.ca_cert}", "")
    secrets = {
        DB_SECRET: {"DATABASE_URL": dsn},
        BAO_SECRET: {"token": stack.operator.env["BAO_TOKEN"]},
        PG_CA_SECRET: {"ca.crt": stack.pg.ca_cert.read_text()},
        BAO_CA_SECRET: {"ca.crt": stack.bao.ca_cert.read_text()},
    }
    for name, data in secrets.items():
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        apply(
            kube,
            [
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": RELEASE_NAMESPACE},
                    "data": encoded,
                }
            ],
        )


def service_account_token(stack: Stack) -> str:
    """A token of the chart's ServiceAccount, issued by the API server (TokenRequest)."""
    token: str = stack.core.create_namespaced_service_account_token(
        RELEASE,
        RELEASE_NAMESPACE,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    return token


def service_account_kubeconfig(stack: Stack, kube: KubeApi, path: Path) -> Path:
    """A kubeconfig holding a TokenRequest token of the chart's ServiceAccount."""
    token = service_account_token(stack)
    admin = json.loads(kube.kubeconfig.read_text())
    config = {
        **admin,
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": admin["clusters"][0]["name"]}}],
        "current-context": "operator",
    }
    config["contexts"][0]["context"]["user"] = "operator"
    write_kubeconfig(path, config)
    return path


def deployment_env(
    stack: Stack, docs: list[dict[str, Any]], kubeconfig: Path, volumes: Path
) -> dict[str, str]:
    """The operator container's environment as the rendered Deployment defines it."""
    (container,) = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run"], "two replicas run with peering, not --standalone"
    env = {
        "PATH": stack.operator.env["PATH"],
        "HOME": stack.operator.env["HOME"],
        "KUBECONFIG": str(kubeconfig),
    }
    chart_env = container_env(stack.core, container, "tenant-operator-0")
    env.update(chart_env)
    # Loopback ports of this machine instead of the pod's.
    env["TENANT_OPERATOR_LIVENESS_PORT"] = str(free_port())
    env["TENANT_OPERATOR_METRICS_PORT"] = str(free_port())
    # The pod's volumes as directories of this machine: Secrets projected, the rest empty;
    # a path in the environment that is in a volume points at its directory.
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    projected = secret_volumes(stack.core, pod, volumes)
    mounts = {m["mountPath"]: volumes / m["name"] for m in container["volumeMounts"]}
    for path in mounts.values():
        path.mkdir(parents=True, exist_ok=True)
    assert set(projected.values()) <= set(mounts.values())
    for name, value in chart_env.items():
        for mount_path, directory in mounts.items():
            if value.startswith(mount_path + "/"):
                env[name] = str(directory) + value.removeprefix(mount_path)
    exports = urlsplit(env["TENANT_OPERATOR_EXPORT_DESTINATION"]).path
    env["TENANT_OPERATOR_EXPORT_DESTINATION"] = mounts[exports].as_uri()
    env["TENANT_OPERATOR_EXPORT_WORK_DIR"] = str(mounts[env["TENANT_OPERATOR_EXPORT_WORK_DIR"]])
    return env


def audited(kube: KubeApi, offset: int) -> list[Request]:
    """The ServiceAccount's resource requests logged after ``offset`` (bytes)."""
    with kube.audit_log.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode().splitlines()
    requests = []
    for line in lines:
        event = json.loads(line)
        ref = event.get("objectRef")
        if event["user"]["username"] != SA_USER or ref is None:
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        requests.append(
            Request(
                verb=event["verb"],
                group=ref.get("apiGroup", ""),
                resource=resource,
                namespace=ref.get("namespace", ""),
                code=int(event.get("responseStatus", {}).get("code", 0)),
            )
        )
    return requests


def refused(requests: list[Request]) -> list[str]:
    return sorted({str(r) for r in requests if r.code == 403})


def unused_grants(docs: list[dict[str, Any]], requests: list[Request]) -> list[str]:
    """Every (group, resource, verb) a rule grants that no allowed request used."""
    allowed = [r for r in requests if r.code < 400]
    unused = []
    for role in find(docs, "ClusterRole") + find(docs, "Role"):
        namespace = role["metadata"].get("namespace", "")
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        if not any(
                            (r.group, r.resource, r.verb) == (group, resource, verb)
                            and (not namespace or r.namespace == namespace)
                            for r in allowed
                        ):
                            where = f" in {namespace}" if namespace else ""
                            unused.append(f"{verb} {resource}.{group or 'core'}{where}")
    return unused


@pytest.fixture
def chart_operator(
    stack: Stack, kube_api: KubeApi, tmp_path: Path
) -> Iterator[tuple[list[dict[str, Any]], OperatorProcess]]:
    """The rendered chart and, not yet started, the operator as its ServiceAccount.

    The stack's own (admin) operator stops meanwhile, so only the chart's one works.
    """
    docs = documents(chart_values(stack))
    install_rbac(stack, kube_api, docs)
    kubeconfig = service_account_kubeconfig(stack, kube_api, tmp_path / "kubeconfig")
    env = deployment_env(stack, docs, kubeconfig, tmp_path / "volumes")
    operator = OperatorProcess(env, tmp_path / "chart-operator.log", standalone=False)
    stack.operator.stop()
    try:
        yield docs, operator
    finally:
        operator.stop()
        pristine = documents(chart_values(stack))  # a test may have taken a rule away
        apply(kube_api, [d for d in pristine if d["kind"] in ("ClusterRole", "Role")])
        stack.operator.start()


def lifecycle(stack: Stack) -> None:
    """What the operator does in production: register a sub-processor; apply, route,
    re-route, update, export and erase a tenant; stall a tenant that asks for a forbidden
    Secret."""
    vendor = unique("vendor")
    add_subprocessor(stack, vendor, notice_days=0)

    def registered() -> bool:
        sub = stack.custom.get_cluster_custom_object(GROUP, VERSION, "subprocessors", vendor)
        conditions = (sub.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    stack.wait("the sub-processor to be registered", registered)
    slug = unique("rbac")
    stack.put_secret(f"{slug}-gh", {"token": "ghp_rbac"}, owner=slug)
    stack.apply_tenant(
        slug, deletionPolicy="Delete", connectors=[connector("github", f"{slug}-gh")]
    )
    stack.wait_ready(slug)
    stack.put_secret(f"{slug}-gh", {"token": "ghp_rbac_rotated"}, owner=slug)
    stack.wait(
        "the rotated secret to be routed",
        lambda: stack.tenant(slug)["status"]["connectors"][0].get("version", 0) >= 2,
    )
    stack.patch_tenant(slug, {"spec": {"plan": "enterprise"}})
    stack.wait_ready(slug)
    export = unique("rbac-export")
    stack.custom.create_cluster_custom_object(
        GROUP,
        VERSION,
        "tenantdatarequests",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "TenantDataRequest",
            "metadata": {"name": export},
            "spec": {"tenant": slug, "type": "Export"},  # to the chart's export volume
        },
    )

    def exported() -> bool:
        obj = stack.custom.get_cluster_custom_object(GROUP, VERSION, "tenantdatarequests", export)
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Completed" and c["status"] == "True" for c in conditions)

    stack.wait("the export to complete", exported)
    stack.custom.delete_cluster_custom_object(GROUP, VERSION, "tenantdatarequests", export)
    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    stalled = unique("stall")
    forbidden = {**connector("github", "x"), "secretRef": {"namespace": "default", "name": "x"}}
    stack.apply_tenant(stalled, connectors=[forbidden])
    stack.wait(
        "an event about the stalled tenant",
        lambda: (
            stack.core.list_event_for_all_namespaces(
                field_selector=f"involvedObject.name={stalled}"
            ).items
        ),
    )
    stack.delete_tenant(stalled)
    stack.wait_gone(stalled)
    stack.custom.delete_cluster_custom_object(GROUP, VERSION, "subprocessors", vendor)


def test_operator_as_the_charts_service_account_needs_every_rule_and_no_more(
    stack: Stack,
    kube_api: KubeApi,
    chart_operator: tuple[list[dict[str, Any]], OperatorProcess],
) -> None:
    docs, operator = chart_operator
    offset = kube_api.audit_log.stat().st_size
    with operator:
        lifecycle(stack)
    requests = audited(kube_api, offset)

    assert requests, "the audit log shows no request of the chart's ServiceAccount"
    assert refused(requests) == [], "the chart's RBAC lacks rules"
    assert unused_grants(docs, requests) == [], "the chart grants more than the operator uses"


def test_a_missing_rule_is_caught(
    stack: Stack,
    kube_api: KubeApi,
    chart_operator: tuple[list[dict[str, Any]], OperatorProcess],
) -> None:
    """Without ``patch tenants/status`` no tenant gets Ready, and the audit log says why."""
    docs, operator = chart_operator
    (role,) = find(docs, "ClusterRole")
    role["rules"] = [r for r in role["rules"] if r["resources"] != ["tenants/status"]]
    apply(kube_api, [role])
    offset = kube_api.audit_log.stat().st_size
    slug = unique("norbac")
    with operator:
        stack.apply_tenant(slug)
        with pytest.raises(AssertionError, match="timed out"):
            stack.wait_ready(slug, timeout=15)
        stack.wait(
            "the refused status patch in the audit log",
            lambda: (
                "patch tenants/status.integraci.io -> 403" in refused(audited(kube_api, offset))
            ),
        )
    stack.delete_tenant(slug)  # the stack's operator finishes it


def test_the_audit_checks_flag_refusals_and_excess_grants() -> None:
    """The two checks above on made-up requests: each can fail."""
    role = {
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "ns"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "delete"]}],
    }
    requests = [
        Request("get", "", "secrets", "ns", 200),
        Request("delete", "", "secrets", "elsewhere", 200),  # not where the Role grants it
        Request("list", "", "configmaps", "ns", 403),
    ]
    assert refused(requests) == ["list configmaps.core in ns -> 403"]
    assert unused_grants([role], requests) == ["delete secrets.core in ns"]
