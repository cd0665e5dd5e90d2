"""A tenant can never take the operator's own OpenBao names (mount layout: tenant-<slug>).

In the mount layout a tenant's policy and Kubernetes-auth role are ``tenant-<slug>`` in the
operator's namespace, next to the operator's own policy (``tenant-operator`` as shipped)
and, when it logs in through the shared auth mount, its own role. The slug ``operator``
would overwrite both. OpenBao itself refuses: the shipped operator policy denies writing
them; the adapter refuses the slug before any request as a second line.
"""

from collections.abc import Iterator

import hvac
import pytest

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.policies import POLICY_FILES
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.domain.errors import OperatorError
from tests.support.openbao import (
    MOUNT_LAYOUT_NAMESPACE,
    OPERATOR_POLICY,
    root_in,
    run,
    settings_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def mount_root(openbao_server: OpenBaoServer) -> Iterator[hvac.Client]:
    root = root_in(openbao_server, MOUNT_LAYOUT_NAMESPACE)
    yield root
    # whatever happened, the operator's policy is the shipped one again for later tests
    root.sys.create_or_update_acl_policy(OPERATOR_POLICY, POLICY_FILES["mount"].read_text())


def test_the_slug_operator_cannot_overwrite_the_operators_policy_or_role(
    openbao_server: OpenBaoServer, operator_tokens: dict[str, str], mount_root: hvac.Client
) -> None:
    settings = settings_for(openbao_server, "mount")
    before = mount_root.sys.read_acl_policy(OPERATOR_POLICY)["data"]["policy"]
    tenants = OpenBaoTenants(settings, token=operator_tokens["mount"])
    try:
        with pytest.raises(OperatorError) as refused:
            run(tenants.ensure_tenant("operator"))
    finally:
        tenants.close()

    assert refused.value.reason == "SlugReserved"
    assert "tenant-operator" in refused.value.message
    assert mount_root.sys.read_acl_policy(OPERATOR_POLICY)["data"]["policy"] == before
    assert "tenants/operator/" not in mount_root.sys.list_mounted_secrets_engines()["data"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(
            f"/v1/sys/policies/acl/{OPERATOR_POLICY}",
            {"policy": 'path "*" { capabilities = ["sudo", "create", "update"] }'},
            id="policy",
        ),
        pytest.param(
            f"/v1/auth/kubernetes/role/{OPERATOR_POLICY}",
            {"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["x"]},
            id="role",
        ),
    ],
)
def test_openbao_denies_the_operator_token_its_own_policy_and_role(
    openbao_server: OpenBaoServer,
    operator_tokens: dict[str, str],
    mount_root: hvac.Client,
    path: str,
    body: dict[str, object],
) -> None:
    settings = settings_for(openbao_server, "mount")
    run(OpenBaoTenants(settings, token=operator_tokens["mount"]).ensure_platform())
    before = mount_root.sys.read_acl_policy(OPERATOR_POLICY)["data"]["policy"]
    operator = hvac.Client(
        url=openbao_server.addr,
        verify=str(openbao_server.ca_cert),
        token=operator_tokens["mount"],
        namespace=MOUNT_LAYOUT_NAMESPACE,
    )

    with pytest.raises(hvac.exceptions.Forbidden):
        operator.adapter.post(path, json=body)

    assert mount_root.sys.read_acl_policy(OPERATOR_POLICY)["data"]["policy"] == before
