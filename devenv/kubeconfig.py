"""The kubeconfig of a local control plane: admin client certificate, file references."""

import json
import os
from pathlib import Path
from typing import Any

from devenv.certs import KubePki

CLUSTER_NAME = "tenant-operator-dev"
ADMIN_USER = "admin"


def build_kubeconfig(server: str, pki: KubePki) -> dict[str, Any]:
    """A kubeconfig that reaches ``server`` as the system:masters admin (paths, not data)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": ADMIN_USER,
                "user": {
                    "client-certificate": str(pki.admin_cert),
                    "client-key": str(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": ADMIN_USER}}
        ],
        "current-context": CLUSTER_NAME,
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    """Write ``config`` owner-only. JSON is valid YAML, and every kubeconfig reader takes it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
        handle.write("\n")
