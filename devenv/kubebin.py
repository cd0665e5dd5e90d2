"""Find the kube-apiserver, kubectl and etcd binaries built by ``tools/kube/build.sh``.

The build script puts them in ``${XDG_CACHE_HOME:-~/.cache}/tenant-operator/bin/<tag>/``
where ``<tag>`` is ``kube-<k8s version>_etcd-<etcd version>``, both read from the
``go.mod`` files under ``tools/kube/``; ``TENANT_OPERATOR_BIN_DIR`` overrides the whole
directory. This module reads the same convention, so both agree on one place.

``tools/helm/build.sh`` puts ``helm`` in ``.../tenant-operator/bin/helm-<helm version>/``
(the version read from ``tools/helm/go.mod``); ``TENANT_OPERATOR_HELM_DIR`` overrides it.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BIN_DIR_ENV = "TENANT_OPERATOR_BIN_DIR"
BUILD_HINT = "run `make cluster-bins` (or `bash tools/kube/build.sh`)"
HELM_DIR_ENV = "TENANT_OPERATOR_HELM_DIR"
HELM_BUILD_HINT = "run `make cluster-bins` (or `bash tools/helm/build.sh`)"

_KUBE_MODULE = "k8s.io/kubernetes"
_ETCD_MODULE = "go.etcd.io/etcd/server/v3"
_HELM_MODULE = "helm.sh/helm/v3"


class KubeBinariesMissing(FileNotFoundError):
    """The local control-plane binaries are not built; the message says how to build them."""


@dataclass(frozen=True)
class KubeBinaries:
    directory: Path
    kube_apiserver: Path
    kubectl: Path
    etcd: Path


def find_kube_binaries(
    *, environ: Mapping[str, str] | None = None, tools_dir: Path | None = None
) -> KubeBinaries:
    """Locate the built binaries or raise :class:`KubeBinariesMissing` naming the fix."""
    env = os.environ if environ is None else environ
    directory = kube_bin_dir(env, tools_dir)
    binaries = KubeBinaries(
        directory=directory,
        kube_apiserver=directory / "kube-apiserver",
        kubectl=directory / "kubectl",
        etcd=directory / "etcd",
    )
    missing = [
        path.name
        for path in (binaries.kube_apiserver, binaries.kubectl, binaries.etcd)
        if not os.access(path, os.X_OK)
    ]
    if missing:
        raise KubeBinariesMissing(f"{', '.join(missing)} not found in {directory}; {BUILD_HINT}")
    return binaries


def kube_bin_dir(environ: Mapping[str, str], tools_dir: Path | None = None) -> Path:
    """The directory build.sh writes to (honours TENANT_OPERATOR_BIN_DIR)."""
    override = environ.get(BIN_DIR_ENV)
    if override:
        return Path(override)
    tools = tools_dir if tools_dir is not None else find_tools_dir()
    kube_version = pinned_version(tools / "go.mod", _KUBE_MODULE)
    etcd_version = pinned_version(tools / "etcd" / "go.mod", _ETCD_MODULE)
    return bin_cache_root(environ) / f"kube-{kube_version}_etcd-{etcd_version}"


def find_helm(*, environ: Mapping[str, str] | None = None, tools_dir: Path | None = None) -> Path:
    """Locate the built ``helm`` or raise :class:`KubeBinariesMissing` naming the fix.

    ``tools_dir`` is ``tools/kube`` as for :func:`find_kube_binaries`; helm's go.mod is
    its sibling ``tools/helm/go.mod``.
    """
    env = os.environ if environ is None else environ
    directory = helm_bin_dir(env, tools_dir)
    helm = directory / "helm"
    if not os.access(helm, os.X_OK):
        raise KubeBinariesMissing(f"helm not found in {directory}; {HELM_BUILD_HINT}")
    return helm


def helm_bin_dir(environ: Mapping[str, str], tools_dir: Path | None = None) -> Path:
    """The directory tools/helm/build.sh writes to (honours TENANT_OPERATOR_HELM_DIR)."""
    override = environ.get(HELM_DIR_ENV)
    if override:
        return Path(override)
    tools = tools_dir if tools_dir is not None else find_tools_dir()
    go_mod = tools.parent / "helm" / "go.mod"
    if not go_mod.is_file():
        raise KubeBinariesMissing(
            f"cannot find {go_mod}; set {HELM_DIR_ENV} to the directory holding helm"
        )
    return bin_cache_root(environ) / f"helm-{pinned_version(go_mod, _HELM_MODULE)}"


def bin_cache_root(environ: Mapping[str, str]) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/tenant-operator/bin``, the root both build scripts use."""
    cache_root = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_root) / "tenant-operator" / "bin"


def find_tools_dir(start: Path | None = None) -> Path:
    """``tools/kube`` of the source checkout this package (or ``start``) lives in."""
    origins = [start] if start is not None else [Path(__file__).resolve(), Path.cwd()]
    for origin in origins:
        for parent in [origin, *origin.parents]:
            candidate = parent / "tools" / "kube"
            if (candidate / "go.mod").is_file():
                return candidate
    raise KubeBinariesMissing(
        f"cannot find tools/kube/go.mod from {origins[0]}; set {BIN_DIR_ENV} to the directory "
        "holding kube-apiserver, kubectl and etcd"
    )


def pinned_version(go_mod: Path, module: str) -> str:
    """The version of ``module`` required by ``go_mod`` (the same rule build.sh uses)."""
    match = re.search(rf"(?m)^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod.read_text())
    if match is None:
        raise KubeBinariesMissing(f"{go_mod} does not pin {module}")
    return match.group(1)
