"""The committed CRDs are accepted and served by the real apiserver."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.kube import KubeApi

pytestmark = pytest.mark.e2e


def _load(paths: list[Path]) -> list[dict[str, Any]]:
    """Every CRD in the files (a file may hold several documents)."""
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_crd_is_established_and_listable(kube_api: KubeApi, crds: list[Path]) -> None:
    for crd in _load(crds):
        plural = crd["spec"]["names"]["plural"]
        group = crd["spec"]["group"]

        result = kube_api.kubectl("get", f"{plural}.{group}", "-o", "name")

        assert result.returncode == 0, f"{plural}.{group}: {result.stderr}"


def test_kubectl_explain_tenant_spec_shows_the_schema_descriptions(
    kube_api: KubeApi, crds: list[Path]
) -> None:
    tenant_crd = next(c for c in _load(crds) if c["spec"]["names"]["kind"] == "Tenant")
    version = next(v for v in tenant_crd["spec"]["versions"] if v.get("storage"))
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    described = {
        name: prop["description"]
        for name, prop in spec_schema["properties"].items()
        if prop.get("description")
    }
    assert described, "the Tenant CRD carries no field descriptions for spec"

    result = kube_api.kubectl("explain", "tenant.spec")

    assert result.returncode == 0, result.stderr
    explained = " ".join(result.stdout.split())
    if spec_schema.get("description"):
        assert " ".join(spec_schema["description"].split()) in explained
    for name, description in described.items():
        assert f"{name}\t" in result.stdout or f"{name} " in result.stdout
        assert " ".join(description.split()) in explained, f"description of spec.{name} missing"
