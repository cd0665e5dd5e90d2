"""How GitOps tools judge a Tenant, in Python, and the real implementations to check it.

:func:`kstatus` mirrors ``sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute`` for a custom
resource (what Flux, kpt and cli-utils use); :func:`argocd_health` mirrors the Argo CD
health check ``deploy/argocd/tenant-health.lua``. Both return ``(status, message)``.
:func:`judge_with_go` runs the real ones: the ``gitops-health`` binary built by
``tools/gitops/build.sh`` (kstatus itself, and the Lua file in gopher-lua as Argo CD runs
it). The tests hold the mirrors and the real code to the same answers.
"""

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devenv.kubebin import bin_cache_root, pinned_version

REPO_ROOT = Path(__file__).resolve().parents[2]
LUA_SCRIPT = REPO_ROOT / "deploy" / "argocd" / "tenant-health.lua"
ARGOCD_CM = REPO_ROOT / "deploy" / "argocd" / "argocd-cm.yaml"
ARGOCD_CM_KEY = "resource.customizations.health.integraci.io_Tenant"
GITOPS_TOOLS = REPO_ROOT / "tools" / "gitops"
GITOPS_DIR_ENV = "TENANT_OPERATOR_GITOPS_DIR"
BUILD_COMMAND = "bash tools/gitops/build.sh (or make cluster-bins)"

Verdict = tuple[str, str]


class KstatusError(ValueError):
    """What makes ``status.Compute`` return an error instead of a status."""


def kstatus(obj: Mapping[str, Any]) -> Verdict:
    """kstatus of a custom resource: checkGenericProperties, then the Ready condition.

    Rules, first match wins: ``deletionTimestamp`` -> Terminating; ``observedGeneration``
    present and not ``generation`` -> InProgress (no ``observedGeneration``: no check);
    the first condition that is ``Reconciling`` True -> InProgress or ``Stalled`` True ->
    Failed; the first ``Ready`` condition: True -> Current, False or Unknown ->
    InProgress; nothing of that -> Current.
    """
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating", "Resource scheduled for deletion"
    status = obj.get("status") or {}
    generation = _int64(metadata, "generation")
    observed = _int64(status, "observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        kind = obj.get("kind", "")
        return (
            "InProgress",
            f"{kind} generation is {generation}, but latest observed generation is {observed}",
        )
    conditions = status.get("conditions") or []
    for c in conditions:
        if c.get("type") == "Reconciling" and c.get("status") == "True":
            return "InProgress", str(c.get("message") or "")
        if c.get("type") == "Stalled" and c.get("status") == "True":
            return "Failed", str(c.get("message") or "")
    for c in conditions:
        if c.get("type") != "Ready":
            continue
        if c.get("status") == "True":
            return "Current", "Resource is Ready"
        if c.get("status") in ("False", "Unknown"):
            return "InProgress", str(c.get("message") or "")
    return "Current", "Resource is current"


def _int64(where: Mapping[str, Any], key: str) -> int | None:
    """``unstructured.NestedInt64``: absent is None, present but not an integer is an error."""
    if key not in where:
        return None
    value = where[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise KstatusError(f"{key} is {value!r}, not an integer")
    return value


def argocd_health(obj: Mapping[str, Any]) -> Verdict:
    """``deploy/argocd/tenant-health.lua`` in Python: the same rules in the same order."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp") is not None:
        return "Progressing", "Pending deletion"
    status = obj.get("status") or {}
    conditions: dict[str, Mapping[str, Any]] = {}
    for c in status.get("conditions") or []:
        if c.get("type") is not None:
            conditions.setdefault(c["type"], c)
    reconciling = conditions.get("Reconciling")
    stalled = conditions.get("Stalled")
    ready = conditions.get("Ready")
    if reconciling is not None and reconciling.get("reason") == "Paused":
        return "Suspended", _describe(reconciling)
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if observed is None or observed != generation:
        return "Progressing", f"waiting for the operator to observe generation {_lua(generation)}"
    if stalled is not None and stalled.get("status") == "True":
        return "Degraded", _describe(stalled)
    if reconciling is not None and reconciling.get("status") == "True":
        return "Progressing", _describe(reconciling)
    if ready is not None and ready.get("status") == "True":
        return "Healthy", _describe(ready)
    if ready is not None:
        return "Progressing", f"Ready is {_lua(ready.get('status'))}: {_describe(ready)}"
    return "Progressing", "waiting for the Ready condition"


def _describe(c: Mapping[str, Any]) -> str:
    reason = c.get("reason") or ""
    message = c.get("message")
    return f"{reason}: {message}" if message is not None and message != "" else reason


def _lua(value: Any) -> str:
    """Lua's tostring for the JSON scalars a status holds."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def gitops_bin_dir() -> Path:
    """The directory ``tools/gitops/build.sh`` writes to (the same rule it uses)."""
    override = os.environ.get(GITOPS_DIR_ENV)
    if override:
        return Path(override)
    go_mod = GITOPS_TOOLS / "go.mod"
    tag = (
        f"gitops-{pinned_version(go_mod, 'sigs.k8s.io/cli-utils')}"
        f"_lua-{pinned_version(go_mod, 'github.com/yuin/gopher-lua')}"
    )
    return bin_cache_root(os.environ) / tag


def gitops_health_binary() -> Path:
    """The built binary, or an AssertionError that says how to build it."""
    binary = gitops_bin_dir() / "gitops-health"
    if not os.access(binary, os.X_OK):
        raise AssertionError(f"{binary} is missing: run `{BUILD_COMMAND}`")
    return binary


def judge_with_go(objects: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """kstatus and the Argo CD Lua, run by the real code, one verdict per object."""
    done = subprocess.run(
        [str(gitops_health_binary()), str(LUA_SCRIPT)],
        input=json.dumps(list(objects)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"gitops-health failed ({done.returncode}): {done.stderr}")
    verdicts: list[dict[str, str]] = json.loads(done.stdout)
    return verdicts


def mismatches(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the Python mirrors and the real code disagree (status or message)."""
    problems = []
    for obj, go in zip(objects, judge_with_go(objects), strict=True):
        name = (obj.get("metadata") or {}).get("name", "?")
        python = {"kstatus": kstatus(obj), "argocd": argocd_health(obj)}
        for tool, (code, message) in python.items():
            real = (go[tool], go[f"{tool}Message"])
            if real != (code, message):
                problems.append(f"{name}: {tool} real {real} != python {(code, message)}")
    return problems
