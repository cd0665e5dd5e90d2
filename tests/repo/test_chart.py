"""The Helm chart as ``helm template`` renders it (the real helm, built from its Go module)."""

import re
from typing import Any

import pytest

from tenant_operator.domain.ownership import OWNER_LABEL
from tenant_operator.settings import Settings
from tests.support.chart import CHART, REPO_ROOT, ChartError, documents, find, only

POLICY_DIR = REPO_ROOT / "operator" / "tenant_operator" / "adapters" / "openbao"


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (one,) = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(one)


def env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(docs)["env"]}


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO_ROOT / "crds").glob("*.yaml")))
def test_chart_crds_are_the_generated_ones(name: str) -> None:
    chart_copy = CHART / "crds" / name
    assert chart_copy.exists(), f"{chart_copy} is missing: run `make crds`"
    assert chart_copy.read_text() == (REPO_ROOT / "crds" / name).read_text(), (
        f"{chart_copy} differs from crds/{name}: run `make crds`"
    )


def test_chart_has_no_crd_the_repo_lacks() -> None:
    extra = {p.name for p in (CHART / "crds").glob("*")} - {
        p.name for p in (REPO_ROOT / "crds").glob("*.yaml")
    }
    assert not extra, f"charts/tenant-operator/crds has stale files: {extra}"


@pytest.mark.parametrize("name", ["operator.hcl", "operator-mount.hcl"])
def test_chart_ships_the_operators_openbao_policy(name: str) -> None:
    assert (CHART / "files" / name).read_text() == (POLICY_DIR / name).read_text(), (
        f"charts/tenant-operator/files/{name} differs from the operator's: run `make crds`"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"database.existingSecret": ""}, "database.existingSecret is required"),
        ({"openbao.address": ""}, "openbao.address is required"),
        ({"openbao.layout": "flat"}, 'openbao.layout must be namespace or mount, not "flat"'),
        ({"openbao.auth.method": "approle"}, "openbao.auth.method must be kubernetes or token"),
        ({"openbao.auth.method": "token"}, "openbao.auth.token.existingSecret is required"),
        ({"tenants.allowedSecretNamespaces": []}, "must name at least one namespace"),
        ({"peering.enabled": False}, "replicaCount > 1 needs peering.enabled=true"),
    ],
)
def test_missing_or_wrong_values_fail_the_render_naming_the_value(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ChartError, match=re.escape(message)):
        documents(values)


def test_two_replicas_peer_under_restricted_pod_security() -> None:
    docs = documents()
    deployment = only(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    main = container(docs)
    assert deployment["spec"]["replicas"] == 2
    assert main["args"] == ["run"]  # peering, not --standalone
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {
        "health": 8080,
        "metrics": 9090,
    }
    assert main["resources"]["requests"] and main["resources"]["limits"]["memory"]
    # The root filesystem is read-only: what the operator writes goes to emptyDirs (temp
    # files, exports staged) and the export volume (an emptyDir unless a claim is named).
    assert [v["mountPath"] for v in main["volumeMounts"]] == [
        "/tmp",
        "/var/lib/tenant-operator/exports",
        "/var/tmp/tenant-operator",
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["exports"] == {"name": "exports", "emptyDir": {}}
    assert volumes["export-work"]["emptyDir"] == {"sizeLimit": "2Gi"}
    assert only(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    peerings = find(docs, "KopfPeering")
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in peerings] == [
        ("tenant-secrets", "tenant-operator")
    ]


def test_one_standalone_replica_without_peering() -> None:
    docs = documents({"replicaCount": 1, "peering.enabled": False})
    assert container(docs)["args"] == ["run", "--standalone"]
    assert find(docs, "KopfPeering") == []
    assert find(docs, "PodDisruptionBudget") == []  # it would block every node drain


def test_every_operator_setting_the_chart_sets_exists() -> None:
    """A misspelt TENANT_OPERATOR_* variable would be silently ignored by the operator."""
    fields = {name.upper() for name in Settings.model_fields}
    ours = [name for name in env(documents()) if name.startswith("TENANT_OPERATOR_")]
    assert ours
    assert [n for n in ours if n.removeprefix("TENANT_OPERATOR_") not in fields] == []


def test_the_environment_parses_into_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = env(documents({"tenants.allowedSecretNamespaces": ["a", "b"]}))
    for name, value in values.items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    parsed = Settings()
    assert parsed.allowed_secret_namespaces == ("a", "b")
    assert parsed.tenant_service_accounts == ("tenant-app",)
    assert parsed.bao_auth_role == "tenant-operator"
    assert parsed.bao_addr == "https://openbao.openbao.svc:8200"
    assert parsed.liveness_port == 8080
    assert parsed.export_destination == "file:///var/lib/tenant-operator/exports"
    assert parsed.export_work_dir == "/var/tmp/tenant-operator"
    assert parsed.backup_retention_seconds == 35 * 24 * 3600


def test_insecure_transport_is_refused_unless_the_value_allows_it() -> None:
    assert "TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT" not in env(documents())
    allowed = env(documents({"operator.allowInsecureTransport": True}))
    assert allowed["TENANT_OPERATOR_ALLOW_INSECURE_TRANSPORT"] == "true"
    docs = documents({"openbao.caSecret": "bao-ca", "database.caSecret": "pg-ca"})
    with_ca = env(docs)
    assert with_ca["BAO_CACERT"] == "/etc/tenant-operator/openbao-ca/ca.crt"
    assert with_ca["PGSSLROOTCERT"] == "/etc/tenant-operator/postgres-ca/ca.crt"
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"openbao-ca": "bao-ca", "postgres-ca": "pg-ca"}
    mounts = {m["name"]: m for m in container(docs)["volumeMounts"]}
    assert mounts["postgres-ca"]["readOnly"] and mounts["openbao-ca"]["readOnly"]


def test_exports_go_to_a_named_claim_or_an_s3_bucket_with_credentials_from_a_secret() -> None:
    docs = documents(
        {
            "dataRequests.exportsClaim": "exports",
            "dataRequests.exportDestination": "s3://dsr-exports/prod",
            "dataRequests.s3.endpoint": "https://s3.example:9000",
            "dataRequests.s3.credentialsSecret": "s3-writer",
        }
    )
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["exports"]["persistentVolumeClaim"] == {"claimName": "exports"}
    values = env(docs)
    assert values["TENANT_OPERATOR_EXPORT_DESTINATION"] == "s3://dsr-exports/prod"
    assert values["TENANT_OPERATOR_S3_ENDPOINT"] == "https://s3.example:9000"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert values[key] == {"secretKeyRef": {"name": "s3-writer", "key": key}}
    assert "AWS_ACCESS_KEY_ID" not in env(documents())


def test_openbao_auth_by_kubernetes_role_or_token_secret() -> None:
    by_role = env(documents())
    assert by_role["TENANT_OPERATOR_BAO_AUTH_ROLE"] == "tenant-operator"
    assert "BAO_TOKEN" not in by_role
    by_token = env(
        documents({"openbao.auth.method": "token", "openbao.auth.token.existingSecret": "bao"})
    )
    assert by_token["BAO_TOKEN"] == {"secretKeyRef": {"name": "bao", "key": "token"}}
    assert "TENANT_OPERATOR_BAO_AUTH_ROLE" not in by_token
    assert by_token["DATABASE_URL"] == {
        "secretKeyRef": {"name": "tenant-operator-database", "key": "DATABASE_URL"}
    }


def test_secrets_are_readable_only_in_the_allowed_namespaces() -> None:
    docs = documents({"tenants.allowedSecretNamespaces": ["conn-a", "conn-b"]})
    (cluster_role,) = find(docs, "ClusterRole")
    granted = {r for rule in cluster_role["rules"] for r in rule["resources"]}
    assert "secrets" not in granted
    assert not any("*" in rule["verbs"] + rule["resources"] for rule in cluster_role["rules"])
    roles = [r for r in find(docs, "Role") if r["metadata"]["namespace"] != "default"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["conn-a", "conn-b"]
    (events,) = find(docs, "Role", "tenant-operator-events")
    assert events["rules"] == [{"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
    for role in roles:
        assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]} in (
            role["rules"]
        )
    bindings = find(docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["conn-a", "conn-b", "default"]


@pytest.mark.parametrize(
    ("layout", "policy"), [("namespace", "operator.hcl"), ("mount", "operator-mount.hcl")]
)
def test_the_openbao_policy_of_the_layout_is_shipped(layout: str, policy: str) -> None:
    (config_map,) = find(documents({"openbao.layout": layout}), "ConfigMap")
    assert config_map["data"]["operator.hcl"] == (POLICY_DIR / policy).read_text().rstrip("\n")


def test_service_monitor_and_network_policy_are_optional() -> None:
    assert find(documents(), "ServiceMonitor") == []
    monitor = only(documents({"metrics.serviceMonitor.enabled": True}), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert find(documents({"networkPolicy.enabled": False}), "NetworkPolicy") == []
    policy = only(documents(), "NetworkPolicy")
    ports = sorted({p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]})
    assert ports == [53, 443, 5432, 6443, 8200]


def test_shards_render_one_peering_deployment_per_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = documents({"shards": 3})
    deployments = find(docs, "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == [
        f"tenant-operator-shard-{n}" for n in range(3)
    ]
    selectors = [d["spec"]["selector"]["matchLabels"] for d in deployments]
    for shard, (deployment, selector) in enumerate(zip(deployments, selectors, strict=True)):
        assert deployment["spec"]["replicas"] == 2
        assert selector["integraci.io/shard"] == str(shard)
        pod = deployment["spec"]["template"]
        assert selector.items() <= pod["metadata"]["labels"].items()
        (main,) = pod["spec"]["containers"]
        shard_env = {e["name"]: e.get("value") for e in main["env"]}
        assert shard_env["TENANT_OPERATOR_SHARDS"] == "3"
        assert shard_env["TENANT_OPERATOR_SHARD"] == str(shard)
        for name, value in shard_env.items():  # each shard's environment is valid settings
            if isinstance(value, str):
                monkeypatch.setenv(name, value)
        assert Settings().scope.shard == str(shard)
    # selectors never overlap (no Deployment adopts another shard's pods)
    assert len({tuple(sorted(s.items())) for s in selectors}) == 3
    pdbs = find(docs, "PodDisruptionBudget")
    assert [p["spec"]["selector"] for p in pdbs] == [{"matchLabels": s} for s in selectors]
    peerings = find(docs, "KopfPeering")
    assert [p["metadata"]["name"] for p in peerings] == [
        "tenant-operator",
        "tenant-operator-shard-1",
        "tenant-operator-shard-2",
    ]
    assert [
        Settings(shards=3, shard=str(n)).scope.peering_name("tenant-operator") for n in range(3)
    ] == [p["metadata"]["name"] for p in peerings]
    (policy,) = find(docs, "ValidatingAdmissionPolicy", "tenant-operator-shard-label")
    (binding,) = find(docs, "ValidatingAdmissionPolicyBinding", "tenant-operator-shard-label")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_one_shard_renders_the_unsharded_deployment() -> None:
    docs = documents()
    assert [d["metadata"]["name"] for d in find(docs, "Deployment")] == ["tenant-operator"]
    assert "integraci.io/shard" not in only(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert not {"TENANT_OPERATOR_SHARDS", "TENANT_OPERATOR_SHARD"} & set(env(docs))
    assert find(docs, "ValidatingAdmissionPolicy", "tenant-operator-shard-label") == []


def test_the_secret_owner_policy_covers_exactly_the_allowed_secret_namespaces() -> None:
    docs = documents({"tenants.allowedSecretNamespaces": ["conn-a", "conn-b"]})
    (policy,) = find(docs, "ValidatingAdmissionPolicy", "tenant-operator-secret-owner")
    (binding,) = find(docs, "ValidatingAdmissionPolicyBinding", "tenant-operator-secret-owner")
    assert binding["spec"] == {
        "policyName": "tenant-operator-secret-owner",
        "validationActions": ["Deny"],
    }
    match = policy["spec"]["matchConstraints"]
    assert match["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["conn-a", "conn-b"]}
    ]
    (rule,) = match["resourceRules"]
    assert (rule["apiGroups"], rule["resources"], rule["operations"]) == (
        [""],
        ["secrets"],
        ["UPDATE"],
    )
    assert policy["spec"]["failurePolicy"] == "Fail"
    # The label the policy guards is the one the operator reads.
    assert all(OWNER_LABEL in v["expression"] for v in policy["spec"]["variables"])


def test_the_reserved_slugs_policy_holds_the_releases_names() -> None:
    docs = documents(
        {"tenants.allowedSecretNamespaces": ["conn-a"], "tenants.workloadNamespacePrefix": "ws-"},
        namespace="ops",
    )
    (policy,) = find(docs, "ValidatingAdmissionPolicy", "tenant-operator-reserved-slugs")
    (binding,) = find(docs, "ValidatingAdmissionPolicyBinding", "tenant-operator-reserved-slugs")
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["operations"] == ["CREATE"]
    expressions = " ".join(v["expression"] for v in policy["spec"]["validations"])
    assert '["conn-a","ops"]' in expressions
    assert '["tenant-operator"]' in expressions
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert variables["workloadNamespace"] == '"ws-" + variables.slug'
    assert env(docs)["TENANT_OPERATOR_BAO_OPERATOR_POLICY"] == "tenant-operator"


@pytest.mark.parametrize("shards", [0, 65])
def test_shards_out_of_range_fail_the_render(shards: int) -> None:
    with pytest.raises(ChartError, match="shards must be between 1 and 64"):
        documents({"shards": shards})


def test_the_bookkeeping_policy_exempts_only_the_operator_and_the_trusted_groups() -> None:
    docs = documents({"bookkeeping.trustedGroups": ["sre"]}, namespace="ops")
    (policy,) = find(docs, "ValidatingAdmissionPolicy", "tenant-operator-bookkeeping")
    (binding,) = find(docs, "ValidatingAdmissionPolicyBinding", "tenant-operator-bookkeeping")
    assert binding["spec"]["validationActions"] == ["Deny"]
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert (rule["resources"], rule["operations"]) == (["tenants"], ["CREATE", "UPDATE"])
    (condition,) = policy["spec"]["matchConditions"]
    assert '"system:serviceaccount:ops:tenant-operator"' in condition["expression"]
    assert '["sre"]' in condition["expression"]
