"""Connector-secret routing: content-hash dedupe, exact version counts, references."""

import hvac
import pytest
from hvac import exceptions as hv

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tests.support.openbao import root_in, run

pytestmark = pytest.mark.integration


def _versions(client: hvac.Client, mount: str, key: str) -> list[str]:
    meta = client.adapter.get(f"/v1/{mount}/metadata/{key}")["data"]
    return sorted(meta["versions"])


def test_same_secret_twice_is_one_version_one_changed_key_is_one_more(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants, layout: str, bao_secrets: set[str]
) -> None:
    secret: dict[str, bytes | str] = {"token": b"ghp-route-one", "app-id": "1234"}
    bao_secrets.update({"ghp-route-one", "ghp-route-two"})
    state = run(tenants.ensure_tenant("routed"))
    root = root_in(openbao_server, state.namespace)

    first = run(tenants.route_connector("routed", "github", secret))
    second = run(tenants.route_connector("routed", "github", dict(secret)))
    assert (first.version, first.changed) == (1, True)
    assert (second.version, second.changed) == (1, False)
    assert _versions(root, state.mount, "connectors/github") == ["1"]

    third = run(tenants.route_connector("routed", "github", {**secret, "token": b"ghp-route-two"}))
    fourth = run(tenants.route_connector("routed", "github", {**secret, "token": "ghp-route-two"}))
    assert (third.version, third.changed, fourth.version, fourth.changed) == (2, True, 2, False)
    assert _versions(root, state.mount, "connectors/github") == ["1", "2"]
    stored = root.adapter.get(f"/v1/{state.mount}/data/connectors/github")["data"]["data"]
    assert stored == {"token": "ghp-route-two", "app-id": "1234"}

    if layout == "namespace":
        assert first.ref == "openbao://tenants/routed/kv/connectors/github"
    else:
        assert first.ref == "openbao://vault-oss/tenants%2Frouted/connectors/github"


def test_binary_values_are_stored_base64_and_deduplicated(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("binary"))
    blob = {"key.p12": b"\x00\xff\xfe-binary"}
    assert run(tenants.route_connector("binary", "signing", blob)).changed
    assert not run(tenants.route_connector("binary", "signing", blob)).changed
    root = root_in(openbao_server, state.namespace)
    meta = root.adapter.get(f"/v1/{state.mount}/metadata/connectors/signing")["data"]
    assert meta["custom_metadata"]["base64-keys"] == "key.p12"


def test_a_value_changed_behind_the_operators_back_is_rewritten(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("tampered"))
    run(tenants.route_connector("tampered", "github", {"token": "tamper-one"}))
    root = root_in(openbao_server, state.namespace)
    root.adapter.delete(f"/v1/{state.mount}/data/connectors/github")  # soft-delete latest
    again = run(tenants.route_connector("tampered", "github", {"token": "tamper-one"}))
    assert (again.version, again.changed) == (2, True)


def test_drop_connector_removes_all_versions_and_repeats(
    openbao_server: OpenBaoServer, tenants: OpenBaoTenants
) -> None:
    state = run(tenants.ensure_tenant("dropper"))
    run(tenants.route_connector("dropper", "slack", {"token": "drop-one"}))
    assert run(tenants.drop_connector("dropper", "slack")) is True
    assert run(tenants.drop_connector("dropper", "slack")) is False
    root = root_in(openbao_server, state.namespace)
    with pytest.raises(hv.InvalidPath):
        root.adapter.get(f"/v1/{state.mount}/metadata/connectors/slack")
