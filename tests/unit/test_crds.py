"""The committed CRDs are exactly what the models generate, and are structural."""

from pathlib import Path
from typing import Any

import yaml

from tenant_operator.api import crdgen

CRDS = Path(__file__).parents[2] / "crds"


def test_committed_crds_match_models() -> None:
    assert crdgen.stale_crds(CRDS) == [], "run `make crds` and commit the result"


def walk(node: Any, path: str = "") -> list[tuple[str, str]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((path, key))
            found += walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            found += walk(item, path)
    return found


def tenant_schema() -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / "tenants.integraci.io.yaml").read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_schemas_are_structural() -> None:
    for path in (CRDS / name for name in crdgen.render_crds()):
        crd = yaml.safe_load(path.read_text())
        keys = {key for _, key in walk(crd["spec"]["versions"][0]["schema"])}
        assert not keys & {"$ref", "anyOf", "oneOf", "allOf", "$defs", "title", "const"}, path
        assert "patternProperties" not in keys
        for where, key in walk(crd):
            if key == "additionalProperties":
                assert "config" in where, f"additionalProperties at {where}"


def test_tenant_crd_shape() -> None:
    crd = yaml.safe_load((CRDS / "tenants.integraci.io.yaml").read_text())
    version = crd["spec"]["versions"][0]
    assert crd["spec"]["scope"] == "Cluster"
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:3] == ["Plan", "Isolation", "Ready"] and columns[-1] == "Age"
    status = tenant_schema()["properties"]["status"]["properties"]
    assert status["conditions"]["x-kubernetes-list-type"] == "map"
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    spec = tenant_schema()["properties"]["spec"]
    assert spec["properties"]["connectors"]["x-kubernetes-list-type"] == "map"
    assert spec["properties"]["plan"]["enum"] == ["free", "team", "enterprise"]
    assert spec["properties"]["isolation"]["nullable"] is True
    assert any("oldSelf.isolation" in r["rule"] for r in spec["x-kubernetes-validations"])
    assert spec["properties"]["owner"]["description"] == "The tenant's owner account."
    name = tenant_schema()["properties"]["metadata"]["properties"]["name"]
    assert name["maxLength"] == 40
