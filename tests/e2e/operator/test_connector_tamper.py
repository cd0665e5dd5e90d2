"""A connector value replaced in OpenBao behind the operator's back is found and restored.

The drift scanner verifies each routed connector's KV metadata (the version the operator
wrote); a newer version written with the root token is drift, and the reconcile it nudges
rewrites the value from the Kubernetes Secret.
"""

from tests.e2e.operator.conftest import SECRETS_NS, Stack, unique


def test_a_connector_value_replaced_in_openbao_is_reported_and_restored(stack: Stack) -> None:
    slug = unique("tamper")
    stack.put_secret(f"{slug}-gh", {"token": f"{slug}-original-value"}, owner=slug)
    stack.apply_tenant(
        slug,
        connectors=[
            {
                "name": "github",
                "type": "github",
                "secretRef": {"namespace": SECRETS_NS, "name": f"{slug}-gh"},
            }
        ],
    )
    stack.wait_ready(slug)
    tenant_ns = stack.bao_root(f"tenants/{slug}")
    tenant_ns.adapter.post(
        "/v1/kv/data/connectors/github", json={"data": {"token": "planted-by-root"}}
    )

    def restored() -> bool:
        value = tenant_ns.adapter.get("/v1/kv/data/connectors/github")["data"]["data"]
        return bool(value == {"token": f"{slug}-original-value"})

    stack.wait("connector value restored", restored, timeout=60)

    def reported() -> bool:
        return any(
            e.involved_object.name == slug
            and e.reason == "DriftDetected"
            and "connectors/github was changed outside the operator" in e.message
            for e in stack.core.list_namespaced_event("default").items
        )

    stack.wait("DriftDetected naming the connector", reported)
    stack.wait_ready(slug)
