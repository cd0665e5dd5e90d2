"""Run a long-lived local Kubernetes API for the dev loop, with the CRDs applied.

    python -m devenv.kubedev --workdir .dev/kube --crds crds

prints ``KUBECONFIG=<path>`` once the server is ready (a line a shell can ``eval`` or a
Makefile can append to ``.dev/env``) and serves until interrupted. The work directory
is kept, etcd data included, so tenants survive a restart.
"""

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import yaml

from devenv.kube import KubeApi
from devenv.kubebin import KubeBinariesMissing
from devenv.process import ServiceError, wait_until


def apply_crds(kube: KubeApi, paths: Sequence[Path], *, timeout_seconds: int = 60) -> None:
    """Apply CRD manifests server-side; return once they are served and published.

    "Established" means the resources are served; their OpenAPI schema (which
    ``kubectl explain`` and client-side validation read) is published a moment later,
    so this waits for that too.
    """
    for path in paths:
        applied = kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        if applied.returncode != 0:
            raise ServiceError(f"kubectl apply -f {path} failed:\n{applied.stderr}")
        established = kube.kubectl(
            "wait",
            "--for=condition=Established",
            f"--timeout={timeout_seconds}s",
            "-f",
            str(path),
        )
        if established.returncode != 0:
            raise ServiceError(f"{path} not established:\n{established.stderr}")
    resources = {resource for path in paths for resource in _served_resources(path)}
    wait_until(
        lambda: all(_schema_published(kube, *resource) for resource in resources),
        what="the CRDs' OpenAPI schema",
        timeout=timeout_seconds,
    )
    kube.forget_kubectl_cache()


def _served_resources(crd_path: Path) -> set[tuple[str, str]]:
    """(``apis/<group>/<version>``, ``<plural>``) for every served version in a file."""
    resources = set()
    for crd in yaml.safe_load_all(crd_path.read_text()):
        if crd and crd.get("kind") == "CustomResourceDefinition":
            spec = crd["spec"]
            for version in spec["versions"]:
                if version["served"]:
                    group_version = f"apis/{spec['group']}/{version['name']}"
                    resources.add((group_version, spec["names"]["plural"]))
    return resources


def _schema_published(kube: KubeApi, group_version: str, plural: str) -> bool:
    """Both the OpenAPI v3 index and the group-version document know the resource.

    The index lags the document; kubectl reads the index first.
    """
    index = kube.kubectl("get", "--raw", "/openapi/v3")
    if index.returncode != 0 or group_version not in json.loads(index.stdout).get("paths", {}):
        return False
    document = kube.kubectl("get", "--raw", f"/openapi/v3/{group_version}")
    if document.returncode != 0:
        return False
    return f"/{group_version}/{plural}" in json.loads(document.stdout).get("paths", {})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, required=True, help="kept between runs")
    parser.add_argument("--crds", type=Path, help="directory of CRD YAML files to apply")
    args = parser.parse_args(argv)

    stopped = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        with KubeApi(workdir=args.workdir.resolve()) as kube:
            if args.crds is not None:
                apply_crds(kube, sorted(args.crds.glob("*.yaml")))
            print(f"KUBECONFIG={kube.kubeconfig}", flush=True)
            print(f"# kube-apiserver {kube.url}; logs in {kube.log_dir}", file=sys.stderr)
            stopped.wait()
    except (KubeBinariesMissing, ServiceError) as exc:
        print(f"kubedev: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
