"""Hostile names are refused before any client is built or any request is sent."""

from collections.abc import Callable, Coroutine
from typing import Any

import hvac
import pytest
import requests

from tenant_operator.adapters.openbao.client import BaoClients
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.domain.errors import PermanentError
from tenant_operator.settings import Settings
from tests.support.openbao import run

pytestmark = pytest.mark.integration

HOSTILE = [
    "..",
    "../beta",
    "acme/../beta",
    "a/b",
    "a%2fb",
    "a%2Fb",
    "%2e%2e",
    "ácme",
    "\u0430cme",  # Cyrillic a
    "acme\u200b",  # zero-width space
    "acme\x00",
    "ACME",
    "-acme",
    "",
    "a" * 64,
    "acme\n",
    "sys",  # a valid label, but OpenBao reserves it as a namespace name
]

Op = Callable[[OpenBaoTenants, str], Coroutine[Any, Any, object]]
OPERATIONS: dict[str, Op] = {
    "ensure_tenant": lambda t, bad: t.ensure_tenant(bad),
    "ensure_tenant(sa)": lambda t, bad: t.ensure_tenant("ok", service_accounts=[(bad, "app")]),
    "verify_tenant": lambda t, bad: t.verify_tenant(bad),
    "drop_tenant": lambda t, bad: t.drop_tenant(bad),
    "route_connector(slug)": lambda t, bad: t.route_connector(bad, "github", {"k": "v"}),
    "route_connector(name)": lambda t, bad: t.route_connector("ok", bad, {"k": "v"}),
    "route_connector(key)": lambda t, bad: t.route_connector("ok", "github", {bad: "v"}),
    "drop_connector": lambda t, bad: t.drop_connector("ok", bad),
    "store_invite": lambda t, bad: t.store_invite(bad, "token"),
    "mirror_audit_head": lambda t, bad: t.mirror_audit_head(bad, 1, "sha256:x"),
}


SLUG_OPS = {
    "ensure_tenant",
    "verify_tenant",
    "drop_tenant",
    "route_connector(slug)",
    "store_invite",
}


class Recording:
    """A client factory over BaoClients that records every namespace and request URL."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.session = requests.Session()
        self.session.hooks["response"].append(self._seen)
        self.inner = BaoClients(settings, token, session=self.session)
        self.namespaces: list[str | None] = []
        self.urls: list[str] = []

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.urls.append(str(response.request.url))

    def __call__(self, namespace: str | None) -> hvac.Client:
        self.namespaces.append(namespace)
        return self.inner(namespace)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_hostile_names_never_reach_a_path(
    settings: Settings, operator_tokens: dict[str, str], operation: str
) -> None:
    recording = Recording(settings, operator_tokens[settings.secrets_layout])
    tenants = OpenBaoTenants(settings, recording)
    run(tenants.ensure_platform())
    recording.namespaces.clear()
    recording.urls.clear()
    for bad in HOSTILE:
        if bad == "sys" and (settings.secrets_layout == "mount" or operation not in SLUG_OPS):
            continue  # a fine label wherever it does not name a namespace
        if operation == "route_connector(key)" and bad in {"..", "ACME", "-acme", "sys", "a" * 64}:
            continue  # valid Kubernetes Secret keys: they are JSON keys, never path segments
        with pytest.raises(PermanentError) as refused:
            run(OPERATIONS[operation](tenants, bad))
        assert refused.value.reason in {"InvalidName", "InvalidSecret", "SlugReserved"}
    assert recording.namespaces == []
    assert recording.urls == []


def test_a_valid_but_suspicious_slug_stays_inside_its_place(
    settings: Settings, operator_tokens: dict[str, str]
) -> None:
    recording = Recording(settings, operator_tokens[settings.secrets_layout])
    state = run(OpenBaoTenants(settings, recording).ensure_tenant("kv"))
    assert state.transit_key == "tenant-kv"
    for url in recording.urls:
        path = url.split("/v1/", 1)[1]
        assert ".." not in path and "%" not in path
    if settings.secrets_layout == "namespace":
        assert state.namespace == "tenants/kv"
        assert set(recording.namespaces) <= {None, "tenants", "tenants/kv"}
    else:
        assert state.mount == "tenants/kv"
