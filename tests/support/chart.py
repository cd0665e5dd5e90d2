"""Render the Helm chart with the real ``helm`` (built from its Go module) for tests."""

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.kubebin import KubeBinariesMissing, find_helm

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "tenant-operator"
RELEASE = "tenant-operator"
RELEASE_NAMESPACE = "tenant-operator-system"

# What a user must set (see the README's Install section).
REQUIRED_VALUES = {
    "database.existingSecret": "tenant-operator-database",
    "openbao.address": "https://openbao.openbao.svc:8200",
}


def helm() -> Path:
    try:
        return find_helm()
    except KubeBinariesMissing as exc:
        pytest.fail(f"chart tests need the real helm: {exc}", pytrace=False)


def render(values: dict[str, Any] | None = None, *, namespace: str = RELEASE_NAMESPACE) -> str:
    """``helm template`` with ``REQUIRED_VALUES`` plus ``values`` (``--set-json`` each)."""
    args = [str(helm()), "template", RELEASE, str(CHART), "--namespace", namespace]
    for key, value in {**REQUIRED_VALUES, **(values or {})}.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ChartError(done.stderr.strip())
    return done.stdout


def documents(values: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(render(values, **kwargs)) if d]


def admission_policies(
    values: dict[str, Any] | None, *suffixes: str, **kwargs: Any
) -> list[dict[str, Any]]:
    """The chart's ValidatingAdmissionPolicies (and bindings) whose name ends in a suffix.

    A test installs only the policies it is about: the others would outlive it in the
    session's API server and refuse what later tests create.
    """
    return [
        d
        for d in documents(values, **kwargs)
        if d["kind"].startswith("ValidatingAdmissionPolicy")
        and d["metadata"]["name"].endswith(suffixes)
    ]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = find(docs, kind)
    return doc


def container_env(core: Any, container: dict[str, Any], pod: str) -> dict[str, str]:
    """A rendered container's env as the kubelet resolves it for pod ``pod`` of the
    release namespace: values, Secret keys (read with ``core``, a CoreV1Api) and the
    pod's name and namespace."""
    env = {}
    for var in container["env"]:
        source = var.get("valueFrom", {})
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = core.read_namespaced_secret(ref["name"], RELEASE_NAMESPACE)
            env[var["name"]] = base64.b64decode(secret.data[ref["key"]]).decode()
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[var["name"]] = pod
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[var["name"]] = RELEASE_NAMESPACE
        else:
            raise AssertionError(f"the test cannot resolve env {var}")
    return env


def secret_volumes(core: Any, pod: dict[str, Any], base: Path) -> dict[str, Path]:
    """The rendered pod's Secret volumes as the kubelet projects them: each Secret's keys as
    files (0644, readable by the container's user) in ``base/<volume>``; volume -> dir."""
    dirs = {}
    for volume in pod["volumes"]:
        if "secret" not in volume:
            continue
        secret = core.read_namespaced_secret(volume["secret"]["secretName"], RELEASE_NAMESPACE)
        directory = base / volume["name"]
        directory.mkdir(parents=True)
        for key, value in (secret.data or {}).items():
            (directory / key).write_bytes(base64.b64decode(value))
            (directory / key).chmod(0o644)
        directory.chmod(0o755)
        dirs[volume["name"]] = directory
    return dirs


class ChartError(RuntimeError):
    """helm refused to render; the message is helm's."""
