"""The desired-object lists of the OpenBao adapter: what each verb does, in which order."""

import pytest

from tenant_operator.adapters.openbao import kinds
from tenant_operator.adapters.openbao.desired import (
    Erase,
    erasure_order,
    platform_objects,
    tenant_objects,
)
from tenant_operator.adapters.openbao.kubeauth import KubeAuth
from tenant_operator.adapters.openbao.paths import build_platform_paths, build_tenant_paths
from tenant_operator.settings import Settings


def _name(obj: kinds.Remote) -> str:
    return obj.label if isinstance(obj, kinds.Stored | kinds.AuthConfig) else "connectors"


@pytest.mark.parametrize(
    ("layout", "ensured", "verified_only", "erased"),
    [
        (
            "namespace",
            [
                "namespace tenants/acme",
                "kv mount kv",
                "policy tenant",
                "auth mount kubernetes",
                "auth config of kubernetes",
                "role tenant",
                "transit key tenant-acme",
                "policy tenant-acme-data-key",
            ],
            ["connectors"],
            ["transit key tenant-acme", "namespace tenants/acme", "policy tenant-acme-data-key"],
        ),
        (
            "mount",
            [
                "kv mount tenants/acme",
                "policy tenant-acme",
                "role tenant-acme",
                "transit key tenant-acme",
                "policy tenant-acme-data-key",
            ],
            ["auth config of kubernetes", "connectors"],
            [
                "transit key tenant-acme",
                "kv mount tenants/acme",
                "policy tenant-acme-data-key",
                "role tenant-acme",
                "policy tenant-acme",
            ],
        ),
    ],
)
def test_tenant_objects_per_layout(
    layout: str, ensured: list[str], verified_only: list[str], erased: list[str]
) -> None:
    settings = Settings(secrets_layout=layout)
    listed = tenant_objects(
        build_tenant_paths(settings, "acme"), kube_auth=KubeAuth.from_settings(settings)
    )
    assert [_name(e.obj) for e in listed if e.writing] == ensured
    assert [_name(e.obj) for e in listed if not e.writing] == verified_only
    ranked = erasure_order(listed)
    assert [_name(e.obj) for e in ranked] == erased
    assert ranked[0].erase is Erase.SHRED  # crypto-shredding before anything else
    assert [e.redact for e in listed if e.writing] == [
        _name(e.obj).startswith("auth config") for e in listed if e.writing
    ]


def test_without_kube_auth_no_config_is_listed_and_the_platform_writes_the_shared_one() -> None:
    settings = Settings(secrets_layout="mount")
    listed = tenant_objects(build_tenant_paths(settings, "acme"))
    assert not any(isinstance(e.obj, kinds.AuthConfig) for e in listed)
    shared = platform_objects(build_platform_paths(settings), KubeAuth.from_settings(settings))
    assert [_name(e.obj) for e in shared] == [
        "auth mount kubernetes",
        "auth config of kubernetes",
        "transit mount transit",
        "kv mount platform",
        "transit key operator-export-signing",
    ]
    assert all(e.erase is None for e in shared)  # shared objects are never erased
