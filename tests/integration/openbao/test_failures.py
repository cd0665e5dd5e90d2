"""Outages, sealing, denial and missing namespaces become the operator's own errors."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.client import BaoClients
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.domain.errors import RetryableError
from tenant_operator.settings import Settings
from tests.support.openbao import operator_token, root_in, run, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def durable_server(bao_secrets: set[str]) -> Iterator[OpenBaoServer]:
    """A raft-backed server: it keeps its state across a stop and a start."""
    with OpenBaoServer(durable=True) as server:
        bao_secrets.add(server.root_token)
        yield server


def test_stopped_mid_provision_is_retryable_and_a_rerun_converges(
    durable_server: OpenBaoServer, bao_secrets: set[str]
) -> None:
    settings = settings_for(durable_server, "namespace")
    token = operator_token(durable_server, settings)
    bao_secrets.add(token)
    session = requests.Session()
    answered: list[str] = []

    def stop_after_a_few(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        answered.append(f"{response.request.method} {response.request.path_url}")
        if len(answered) == 8:  # platform objects done, tenant namespace being made
            durable_server.pause()

    session.hooks["response"].append(stop_after_a_few)
    tenants = OpenBaoTenants(settings, BaoClients(settings, token, session=session))
    with pytest.raises(RetryableError) as stopped:
        run(tenants.ensure_tenant("interrupted"))
    assert stopped.value.reason == "OpenBaoUnreachable"
    assert "unreachable" in stopped.value.message

    session.hooks["response"].clear()
    durable_server.resume()
    state = run(tenants.ensure_tenant("interrupted"))
    assert state.changed  # it finished what the first run started
    assert run(tenants.verify_tenant("interrupted")) == ()
    assert run(tenants.ensure_tenant("interrupted")).changed == ()


def test_sealed_is_retryable(durable_server: OpenBaoServer, bao_secrets: set[str]) -> None:
    settings = settings_for(durable_server, "namespace")
    token = operator_token(durable_server, settings)
    bao_secrets.add(token)
    tenants = OpenBaoTenants(settings, token=token)
    durable_server.seal()
    try:
        with pytest.raises(RetryableError) as sealed:
            run(tenants.ensure_tenant("sealed"))
    finally:
        durable_server.unseal()
    assert sealed.value.reason == "OpenBaoSealed"
    assert "unseal" in sealed.value.message
    assert run(tenants.ensure_tenant("sealed")).transit_key == "tenant-sealed"


def test_permission_denied_says_which_policy_to_apply(
    openbao_server: OpenBaoServer,
    bao_secrets: set[str],
    layout: str,
    operator_tokens: dict[str, str],  # makes the operator's namespace
) -> None:
    settings = settings_for(openbao_server, layout)
    root = root_in(openbao_server, settings.bao_namespace)
    weak = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    bao_secrets.add(weak)
    tenants = OpenBaoTenants(settings, token=weak)
    with pytest.raises(RetryableError) as denied:
        run(tenants.ensure_tenant("denied"))
    assert denied.value.reason == "OpenBaoPermissionDenied"
    assert "operator.hcl" in denied.value.message
    assert denied.value.delay
    assert weak not in denied.value.message


def test_missing_tenant_namespace_is_retryable_with_advice(
    tenants: OpenBaoTenants, layout: str
) -> None:
    if layout != "namespace":
        pytest.skip("only the namespace layout has tenant namespaces")
    with pytest.raises(RetryableError) as missing:
        run(tenants.route_connector("not-provisioned", "github", {"token": "nowhere"}))
    assert missing.value.reason in {"OpenBaoNamespaceMissing", "OpenBaoPermissionDenied"}
    assert "nowhere" not in missing.value.message


def test_unreachable_address_is_retryable(bao_secrets: set[str]) -> None:
    settings = Settings(bao_addr="http://127.0.0.1:9", bao_timeout_seconds=1.0)
    tenants = OpenBaoTenants(settings, token="s.not-a-real-token-for-unreachable")
    bao_secrets.add("s.not-a-real-token-for-unreachable")
    with pytest.raises(RetryableError) as unreachable:
        run(tenants.verify_tenant("anyone"))
    assert unreachable.value.reason == "OpenBaoUnreachable"
