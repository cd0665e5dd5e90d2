"""Apply, update, rotate, delete: the operator end to end on the real API and services."""

from tenant_operator.domain.envelope import ACCOUNT_EMAIL
from tests.e2e.operator.conftest import Stack, unique

ASPECTS = [
    "DatabaseReady",
    "SecretsReady",
    "ConnectorsRouted",
    "SubProcessorsAccepted",
    "IsolationVerified",
    "AuditChainVerified",
]


def connector(name: str, secret: str) -> dict[str, object]:
    return {
        "name": name,
        "type": "github",
        "config": {"org": "acme"},
        "secretRef": {"namespace": "tenant-secrets", "name": secret},
    }


def test_a_tenant_of_each_plan_becomes_ready(stack: Stack) -> None:
    slugs = {plan: unique(plan) for plan in ("free", "team", "enterprise")}
    for plan, slug in slugs.items():
        stack.put_secret(f"{slug}-gh", {"token": f"ghp-{slug}-s3cr3t"}, owner=slug)
        stack.apply_tenant(slug, plan=plan, connectors=[connector("github", f"{slug}-gh")])
    for plan, slug in slugs.items():
        tenant = stack.wait_ready(slug)
        status = tenant["status"]
        conditions = {c["type"]: c for c in status["conditions"]}
        for aspect in ASPECTS:
            assert conditions[aspect]["status"] == "True", conditions[aspect]
        assert conditions["Reconciling"]["status"] == "False"
        assert conditions["Stalled"]["status"] == "False"
        isolation = "schema" if plan == "enterprise" else "shared"
        assert status["database"]["isolation"] == isolation
        assert status["secrets"]["namespace"] == f"tenants/{slug}"
        (routed,) = status["connectors"]
        assert routed["ref"] == f"openbao://tenants/{slug}/kv/connectors/github"
        assert routed["version"] == 1
        assert status["audit"]["seq"] >= 1 and status["audit"]["head"]
        # The objects really exist.
        rows = stack.sql("SELECT isolation FROM integraci.tenants WHERE slug = %s", [slug])
        assert rows == [(isolation,)]
        schemas = stack.sql(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", [f"t_{slug}".replace("-", "_")]
        )
        assert bool(schemas) == (plan == "enterprise")
        kv = stack.bao_root(f"tenants/{slug}").secrets.kv.v2
        secret = kv.read_secret_version(
            "connectors/github", mount_point="kv", raise_on_deleted_version=True
        )
        assert secret["data"]["data"] == {"token": f"ghp-{slug}-s3cr3t"}


def test_update_and_secret_rotation(stack: Stack) -> None:
    slug = unique("upd")
    stack.put_secret(f"{slug}-gh", {"token": "v1-s3cr3t", "user": "bot"}, owner=slug)
    stack.apply_tenant(slug, connectors=[connector("github", f"{slug}-gh")])
    first = stack.wait_ready(slug)
    stack.patch_tenant(slug, {"spec": {"owner": {"name": "John Doe", "email": "john@upd.example"}}})
    second = stack.wait_ready(slug)
    assert second["metadata"]["generation"] > first["metadata"]["generation"]
    rows = stack.sql(
        "SELECT a.tenant_id, a.email, a.email_enc FROM integraci.accounts a"
        " JOIN integraci.tenants t ON t.id = a.tenant_id WHERE t.slug = %s",
        [slug],
    )
    assert len(rows) == 1 and rows[0][1] is None  # the test's superuser is not subject to RLS
    keys = stack.key_ring(rows[0][0])
    assert keys.open(bytes(rows[0][2]), ACCOUNT_EMAIL) == "john@upd.example"  # sealed only
    stack.put_secret(f"{slug}-gh", {"token": "v2-s3cr3t", "user": "bot"}, owner=slug)

    def rotated() -> bool:
        routed = stack.tenant(slug)["status"]["connectors"][0]
        return bool(routed["version"] == 2)

    stack.wait("connector version 2 after rotation", rotated)
    kv = stack.bao_root(f"tenants/{slug}").secrets.kv.v2
    meta = kv.read_secret_metadata("connectors/github", mount_point="kv")
    assert meta["data"]["current_version"] == 2
    stack.wait_ready(slug)


def test_plan_change_keeps_isolation_and_connector_changes_are_routed(stack: Stack) -> None:
    slug = unique("chg")
    stack.put_secret(f"{slug}-gh", {"token": "gh-s3cr3t"}, owner=slug)
    stack.put_secret(f"{slug}-gl", {"token": "gl-s3cr3t"}, owner=slug)
    stack.apply_tenant(slug, plan="team", connectors=[connector("github", f"{slug}-gh")])
    stack.wait_ready(slug)
    gitlab = {**connector("gitlab", f"{slug}-gl"), "type": "gitlab"}
    stack.patch_tenant(slug, {"spec": {"plan": "enterprise", "connectors": [gitlab]}})
    status = stack.wait_ready(slug)["status"]
    assert status["database"]["isolation"] == "shared"  # fixed at creation
    assert [c["name"] for c in status["connectors"]] == ["gitlab"]
    rows = stack.sql(
        "SELECT t.plan, c.name, c.ref FROM integraci.tenants t"
        " JOIN integraci.connectors c ON c.tenant_id = t.id WHERE t.slug = %s",
        [slug],
    )
    assert rows == [("enterprise", "gitlab", f"openbao://tenants/{slug}/kv/connectors/gitlab")]
    kv = stack.bao_root(f"tenants/{slug}").secrets.kv.v2
    assert kv.list_secrets("connectors", mount_point="kv")["data"]["keys"] == ["gitlab"]
