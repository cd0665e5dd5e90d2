"""An OpenBao outage, and an audit chain rewritten inside PostgreSQL alone."""

from tests.e2e.operator.conftest import Stack, unique


def wait_condition(stack: Stack, slug: str, type_: str, status: str, reason: str) -> None:
    def matches() -> bool:
        cond = stack.condition(slug, type_)
        return bool(cond and cond["status"] == status and cond["reason"] == reason)

    stack.wait(f"{slug} {type_}={status} ({reason})", matches, timeout=90)


def test_openbao_outage_is_reported_and_converges(stack: Stack) -> None:
    slug = unique("baodown")
    stack.bao.pause()
    try:
        stack.apply_tenant(slug)
        wait_condition(stack, slug, "Reconciling", "True", "OpenBaoUnreachable")
        assert stack.condition(slug, "DatabaseReady")["status"] == "True"  # type: ignore[index]
        assert stack.condition(slug, "SecretsReady")["status"] == "False"  # type: ignore[index]
    finally:
        stack.bao.resume()
    stack.wait_ready(slug, timeout=120)
    assert stack.sql("SELECT count(*) FROM integraci.tenants WHERE slug = %s", [slug]) == [(1,)]
    keys = stack.bao_root("tenants").adapter.list("/v1/sys/namespaces")["data"]["keys"]
    assert f"{slug}/" in keys


def test_a_chain_shortened_inside_postgres_is_detected(stack: Stack) -> None:
    slug = unique("tamper")
    stack.apply_tenant(slug)
    head = stack.wait_ready(slug)["status"]["audit"]
    # As a superuser with the guard trigger off: drop the newest entry. What is left is a
    # consistent chain; only the head mirrored to OpenBao shows that something is missing.
    stack.sql("ALTER TABLE integraci.audit_log DISABLE TRIGGER USER")
    try:
        stack.sql(
            "DELETE FROM integraci.audit_log WHERE chain = %s AND seq = %s", [slug, head["seq"]]
        )
    finally:
        stack.sql("ALTER TABLE integraci.audit_log ENABLE TRIGGER USER")
    wait_condition(stack, slug, "AuditChainVerified", "False", "AuditHeadMismatch")
    wait_condition(stack, slug, "Stalled", "True", "AuditHeadMismatch")
    message = stack.condition(slug, "AuditChainVerified")["message"]  # type: ignore[index]
    assert f"entry {head['seq']}" in message and "missing" in message
