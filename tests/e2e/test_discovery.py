"""The operator's startup check that its CRDs are served, on the real kube-apiserver."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tenant_operator.adapters.kubernetes.discovery import require_served
from tenant_operator.domain.errors import PermanentError

pytestmark = pytest.mark.e2e


def test_installed_crds_pass(api_client: Any, crds: list[Path]) -> None:
    wanted = [
        ("integraci.io", "v1alpha1", "tenants"),
        ("integraci.io", "v1alpha1", "subprocessors"),
    ]
    asyncio.run(require_served(api_client, wanted))


def test_missing_crds_are_named_with_the_fix(api_client: Any, crds: list[Path]) -> None:
    wanted = [
        ("integraci.io", "v1alpha1", "tenants"),
        ("integraci.io", "v1alpha1", "widgets"),  # the group is served, this plural is not
        ("nothing.example.com", "v1", "gadgets"),  # the group is not served at all
    ]
    with pytest.raises(PermanentError) as missing:
        asyncio.run(require_served(api_client, wanted))

    assert missing.value.reason == "CRDsMissing"
    assert missing.value.message.startswith(
        "the Kubernetes API does not serve widgets.integraci.io/v1alpha1, "
        "gadgets.nothing.example.com/v1: install the CRDs first"
    )
