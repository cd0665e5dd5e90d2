"""The GitOps decision table over hand-written Tenant statuses, in Python and for real.

The statuses are the shapes the operator writes (``domain/conditions.py``, ``controller/``).
The tests marked e2e run the real kstatus and the Lua in gopher-lua (``gitops-health``,
built by ``tools/gitops/build.sh``); a missing binary fails with the build command.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.gitops_health import (
    ARGOCD_CM,
    ARGOCD_CM_KEY,
    GITOPS_DIR_ENV,
    LUA_SCRIPT,
    REPO_ROOT,
    argocd_health,
    judge_with_go,
    kstatus,
    mismatches,
)


def cond(type_: str, status: str, reason: str = "Reconciled", message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def summary(
    ready: str,
    reconciling: str = "False",
    stalled: str = "False",
    reason: str = "Reconciled",
    message: str = "",
) -> list[dict[str, Any]]:
    """Ready, Reconciling and Stalled as ``conditions.summarize`` writes them."""
    return [
        cond("Ready", ready, reason, message or "tenant is provisioned and verified"),
        cond(
            "Reconciling",
            reconciling,
            reason if reconciling == "True" else "Reconciled",
            message if reconciling == "True" else "",
        ),
        cond(
            "Stalled",
            stalled,
            reason if stalled == "True" else "Reconciled",
            message if stalled == "True" else "",
        ),
    ]


def tenant(
    name: str,
    generation: int = 1,
    observed: int | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "integraci.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name, "generation": generation, **metadata},
        "spec": {"organisation": "Acme Ltd", "plan": "team"},
    }
    status: dict[str, Any] = {}
    if observed is not None:
        status["observedGeneration"] = observed
    if conditions is not None:
        status["conditions"] = conditions
    if status:
        obj["status"] = status
    return obj


FORBIDDEN = "secret namespace kube-system is not allowed (allowed: tenant-secrets)"
OUTAGE = "OpenBao at http://127.0.0.1:8200 is unreachable"
PAUSED = cond("Reconciling", "False", "Paused", "integraci.io/paused is true")

#: name -> (object, kstatus, Argo CD)
EXAMPLES: dict[str, tuple[dict[str, Any], str, str]] = {
    # The API server's answer to a create: no status yet. kstatus cannot tell this from a
    # resource that never has a status, and calls it Current; the Lua waits.
    "created": (tenant("created"), "Current", "Progressing"),
    "generation-bumped": (tenant("bumped", 2, 1, summary("True")), "InProgress", "Progressing"),
    "ready": (tenant("ready", 3, 3, summary("True")), "Current", "Healthy"),
    "stalled": (
        tenant(
            "stalled",
            1,
            1,
            summary("False", stalled="True", reason="SecretNamespaceForbidden", message=FORBIDDEN),
        ),
        "Failed",
        "Degraded",
    ),
    "stalled-then-fixed": (
        tenant(
            "fixed",
            2,
            1,
            summary("False", stalled="True", reason="SecretNotAvailable", message="gone"),
        ),
        "InProgress",
        "Progressing",
    ),
    "retrying": (
        tenant(
            "retrying",
            1,
            1,
            summary("False", reconciling="True", reason="OpenBaoUnreachable", message=OUTAGE),
        ),
        "InProgress",
        "Progressing",
    ),
    "paused": (
        tenant("paused", 1, 1, [summary("True")[0], PAUSED, summary("True")[2]]),
        "Current",
        "Suspended",
    ),
    "paused-with-a-spec-change": (
        tenant("paused2", 2, 1, [summary("True")[0], PAUSED, summary("True")[2]]),
        "InProgress",
        "Suspended",
    ),
    # Created with the annotation: the operator writes only Reconciling (no generation).
    "created-paused": (tenant("paused3", 1, None, [PAUSED]), "Current", "Suspended"),
    "pending": (
        tenant("pending", 1, 1, [cond("Ready", "Unknown", "Pending", "waiting for database")]),
        "InProgress",
        "Progressing",
    ),
    "ready-false-alone": (
        tenant("unready", 1, 1, [cond("Ready", "False", "Whatever", "no")]),
        "InProgress",
        "Progressing",
    ),
    "no-ready-condition": (
        tenant("noready", 1, 1, [cond("DatabaseReady", "True")]),
        "Current",
        "Progressing",
    ),
    # prevent-deletion: Terminating with Stalled/DeletionPrevented. Argo CD says "Pending
    # deletion" before it runs any health script; the Lua says the same.
    "deletion-prevented": (
        tenant(
            "guarded",
            1,
            1,
            summary("False", stalled="True", reason="DeletionPrevented", message="guarded"),
            deletionTimestamp="2026-01-01T00:00:00Z",
        ),
        "Terminating",
        "Progressing",
    ),
    # The operator never sets both; kstatus takes the first abnormal-true condition in
    # list order (Reconciling is listed before Stalled), the Lua takes Stalled first.
    "reconciling-and-stalled": (
        tenant(
            "both",
            1,
            1,
            [
                cond("Ready", "False", "X"),
                cond("Reconciling", "True", "X", "r"),
                cond("Stalled", "True", "Y", "s"),
            ],
        ),
        "InProgress",
        "Degraded",
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_python_decision_table(name: str) -> None:
    obj, expected_kstatus, expected_argocd = EXAMPLES[name]
    assert kstatus(obj)[0] == expected_kstatus
    assert argocd_health(obj)[0] == expected_argocd


def test_messages_say_why() -> None:
    assert kstatus(EXAMPLES["generation-bumped"][0]) == (
        "InProgress",
        "Tenant generation is 2, but latest observed generation is 1",
    )
    assert argocd_health(EXAMPLES["generation-bumped"][0]) == (
        "Progressing",
        "waiting for the operator to observe generation 2",
    )
    assert argocd_health(EXAMPLES["stalled"][0]) == (
        "Degraded",
        f"SecretNamespaceForbidden: {FORBIDDEN}",
    )
    assert argocd_health(EXAMPLES["retrying"][0]) == (
        "Progressing",
        f"OpenBaoUnreachable: {OUTAGE}",
    )
    assert argocd_health(EXAMPLES["paused"][0]) == (
        "Suspended",
        "Paused: integraci.io/paused is true",
    )
    assert kstatus(EXAMPLES["stalled"][0]) == ("Failed", FORBIDDEN)


def test_the_argocd_cm_snippet_carries_the_lua_file() -> None:
    documents = list(yaml.safe_load_all(ARGOCD_CM.read_text()))
    assert len(documents) == 1
    configmap = documents[0]
    assert (configmap["kind"], configmap["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert list(configmap["data"]) == [ARGOCD_CM_KEY]
    assert configmap["data"][ARGOCD_CM_KEY] == LUA_SCRIPT.read_text()


@pytest.mark.e2e
def test_the_real_kstatus_and_lua_agree_with_the_python_mirror() -> None:
    objects = [obj for obj, _, _ in EXAMPLES.values()]
    assert mismatches(objects) == []
    for (obj, expected_kstatus, expected_argocd), verdict in zip(
        EXAMPLES.values(), judge_with_go(objects), strict=True
    ):
        name = obj["metadata"]["name"]
        assert (verdict["kstatus"], verdict["argocd"]) == (expected_kstatus, expected_argocd), name


def test_a_missing_binary_fails_with_the_build_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(GITOPS_DIR_ENV, str(tmp_path))
    with pytest.raises(AssertionError, match=r"bash tools/gitops/build\.sh"):
        judge_with_go([tenant("x")])


def test_the_readme_gives_the_same_lua() -> None:
    """Users copy the health check from the README: it must be the tested file."""
    readme = (REPO_ROOT / "README.md").read_text()
    key = f"  {ARGOCD_CM_KEY}: |\n"
    block = readme[readme.index(key) + len(key) : readme.index("\n```", readme.index(key))]
    lua = "\n".join(line.removeprefix("    ") for line in block.split("\n"))
    assert lua + "\n" == LUA_SCRIPT.read_text()
