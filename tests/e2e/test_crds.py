"""The committed CRDs are accepted and served by the real apiserver."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from tenant_operator.devenv.kube import KubeApi

pytestmark = pytest.mark.e2e


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def test_every_crd_is_established_and_listable(kube_api: KubeApi, crds: list[Path]) -> None:
    for path in crds:
        crd = _load(path)
        plural = crd["spec"]["names"]["plural"]
        group = crd["spec"]["group"]

        result = kube_api.kubectl("get", f"{plural}.{group}", "-o", "name")

        assert result.returncode == 0, f"{path.name}: {result.stderr}"


def test_kubectl_explain_tenant_spec_shows_the_schema_descriptions(
    kube_api: KubeApi, crds: list[Path]
) -> None:
    tenant_crd = next(_load(p) for p in crds if _load(p)["spec"]["names"]["kind"] == "Tenant")
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
