"""tools/kind/*.yaml (the manifests of `make kind-e2e`) pass a server-side dry-run.

The kind run needs Docker; here the real kube-apiserver checks the manifests' schema and
admission without storing anything, so a typo fails ``make test`` and not only the kind run.
"""

from pathlib import Path

import pytest

from devenv.kube import KubeApi
from devenv.operator import ensure_namespaces

pytestmark = pytest.mark.e2e

KIND_DIR = Path(__file__).resolve().parents[2] / "tools" / "kind"


@pytest.mark.parametrize("name", sorted(p.name for p in KIND_DIR.glob("*.yaml")))
def test_kind_manifest_passes_a_server_side_dry_run(kube_api: KubeApi, name: str) -> None:
    ensure_namespaces(kube_api, ["postgres", "openbao"])  # tools/kind-e2e.sh creates them
    done = kube_api.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", str(KIND_DIR / name)
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert "(server dry run)" in done.stdout
