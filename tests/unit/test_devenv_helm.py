"""Finding the helm binary built by tools/helm/build.sh (nothing is built here)."""

import subprocess
from pathlib import Path

import pytest

from devenv.kubebin import (
    HELM_DIR_ENV,
    KubeBinariesMissing,
    find_helm,
    helm_bin_dir,
    pinned_version,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBE_TOOLS = REPO_ROOT / "tools" / "kube"
HELM_TOOLS = REPO_ROOT / "tools" / "helm"


def _fake_helm(directory: Path, mode: int = 0o755) -> Path:
    helm = directory / "helm"
    helm.write_text("#!/bin/sh\n")
    helm.chmod(mode)
    return helm


def test_helm_dir_is_where_build_sh_puts_it() -> None:
    version = pinned_version(HELM_TOOLS / "go.mod", "helm.sh/helm/v3")

    built_into = subprocess.run(
        ["bash", str(HELM_TOOLS / "build.sh"), "--print-dir"],
        env={"HOME": "/h", "XDG_CACHE_HOME": "/c"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert version.startswith("v3.")
    assert built_into.stdout.strip() == f"/c/tenant-operator/bin/helm-{version}"
    assert helm_bin_dir({"XDG_CACHE_HOME": "/c"}, KUBE_TOOLS) == Path(
        f"/c/tenant-operator/bin/helm-{version}"
    )


def test_build_sh_honours_the_helm_dir_override(tmp_path: Path) -> None:
    built_into = subprocess.run(
        ["bash", str(HELM_TOOLS / "build.sh"), "--print-dir"],
        env={"HOME": "/h", HELM_DIR_ENV: str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert built_into.stdout.strip() == str(tmp_path)
    assert helm_bin_dir({HELM_DIR_ENV: str(tmp_path)}, KUBE_TOOLS) == tmp_path


def test_find_helm_returns_the_executable(tmp_path: Path) -> None:
    helm = _fake_helm(tmp_path)

    assert find_helm(environ={HELM_DIR_ENV: str(tmp_path)}) == helm


def test_missing_helm_names_the_command_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(KubeBinariesMissing, match=r"make cluster-bins.*tools/helm/build\.sh"):
        find_helm(environ={HELM_DIR_ENV: str(tmp_path)})


def test_a_helm_that_is_not_executable_counts_as_missing(tmp_path: Path) -> None:
    _fake_helm(tmp_path, mode=0o644)

    with pytest.raises(KubeBinariesMissing, match=r"helm not found"):
        find_helm(environ={HELM_DIR_ENV: str(tmp_path)})


def test_find_helm_looks_in_the_versioned_cache_by_default(tmp_path: Path) -> None:
    version = pinned_version(HELM_TOOLS / "go.mod", "helm.sh/helm/v3")
    cache_dir = tmp_path / "tenant-operator" / "bin" / f"helm-{version}"
    cache_dir.mkdir(parents=True)
    helm = _fake_helm(cache_dir)

    assert find_helm(environ={"XDG_CACHE_HOME": str(tmp_path)}) == helm


def test_a_checkout_without_tools_helm_says_how_to_point_at_helm(tmp_path: Path) -> None:
    kube_tools = tmp_path / "tools" / "kube"
    kube_tools.mkdir(parents=True)

    with pytest.raises(KubeBinariesMissing, match=HELM_DIR_ENV):
        find_helm(environ={"XDG_CACHE_HOME": str(tmp_path)}, tools_dir=kube_tools)
