"""The local stack behind ``make dev`` (``python -m devenv``).

Real PostgreSQL, OpenBao, SeaweedFS S3 and kube-apiserver on loopback, the generated CRDs
applied, the operator running against them with its own database role and least-privilege OpenBao
token, and the example manifests applied. Settings go to ``.dev/env`` (mode 0600); what
is printed names the secret ones without their values (:data:`SECRET_KEYS`), so a terminal,
a CI log or a screen share of ``make dev`` gives nobody the root token or the superuser DSN.
"""

import contextlib
import logging
import os
import shlex
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from devenv.kube import KubeApi
from devenv.kubedev import apply_crds
from devenv.openbao import OpenBaoServer
from devenv.operator import OperatorProcess, operator_for
from devenv.postgres import PostgresServer
from devenv.process import ServiceError
from devenv.s3 import S3Server

log = logging.getLogger(__name__)

DEV_DATABASE = "integraci"
#: Settings that grant full access (OpenBao root token, PostgreSQL superuser): never printed.
SECRET_KEYS = frozenset({"BAO_TOKEN", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY"})


@dataclass
class DevStack:
    """Running local services and the settings a user needs to look inside them."""

    postgres: PostgresServer
    openbao: OpenBaoServer
    kube: KubeApi
    operator: OperatorProcess
    s3: S3Server
    exports: Path

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.dsn(DEV_DATABASE),
            "BAO_ADDR": self.openbao.addr,
            "BAO_CACERT": str(self.openbao.ca_cert),
            "BAO_TOKEN": self.openbao.root_token,
            "KUBECONFIG": str(self.kube.kubeconfig),
            "KUBECTL": str(self.kube.binaries.kubectl),
            "OPERATOR_LOG": str(self.operator.log_path),
            "TENANT_OPERATOR_EXPORT_DESTINATION": self.exports.as_uri(),
            "TENANT_OPERATOR_S3_ENDPOINT": self.s3.endpoint,
            "AWS_ACCESS_KEY_ID": self.s3.admin.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.admin.secret_key,
        }

    def apply(self, directory: Path) -> None:
        """Apply every manifest in ``directory`` (sorted), as a user would."""
        for path in sorted(directory.glob("*.yaml")):
            result = self.kube.kubectl("apply", "-f", str(path))
            if result.returncode != 0:
                raise ServiceError(f"kubectl apply -f {path} failed:\n{result.stderr}")
            print(result.stdout.strip(), flush=True)

    def wait_ready(self, timeout: float = 120.0) -> str:
        """Wait until every Tenant is Ready; return ``kubectl get tenants -o wide``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.kube.kubectl(
                "wait", "--for=condition=Ready", "tenants", "--all", "--timeout=10s"
            )
            if result.returncode == 0:
                break
        return self.kube.kubectl("get", "tenants", "-o", "wide").stdout


def render_env(env: Mapping[str, str]) -> str:
    """Shell-sourceable ``export`` lines (secrets included: only for the 0600 file)."""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())


def describe_env(env: Mapping[str, str], env_file: Path) -> str:
    """What ``make dev`` prints: the settings, the secret ones only by name."""
    return "".join(
        f"{key}=<secret, in {env_file}>\n" if key in SECRET_KEYS else f"{key}={value}\n"
        for key, value in env.items()
    )


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``env`` to ``path`` readable by its owner only, whatever mode it had before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as file:
        os.fchmod(fd, 0o600)  # O_CREAT's mode applies only to a new file
        file.write(render_env(env))


@contextlib.contextmanager
def dev_stack(workdir: Path, crds: Path) -> Iterator[DevStack]:
    """Start everything; stop it all (in reverse order) on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (
        PostgresServer(durable=True) as pg,
        OpenBaoServer() as bao,
        S3Server() as s3,
        KubeApi() as kube,
    ):
        exports = workdir / "exports"
        exports.mkdir(exist_ok=True)
        apply_crds(kube, sorted(crds.glob("*.yaml")))
        log_path = workdir / "operator.log"
        running = operator_for(
            pg,
            bao,
            kube,
            dbname=DEV_DATABASE,
            log_path=log_path,
            drift_period_seconds="30",
            log_format="text",
            export_destination=exports.as_uri(),
            s3_endpoint=s3.endpoint,
        )
        with running as operator:
            yield DevStack(
                postgres=pg, openbao=bao, kube=kube, operator=operator, s3=s3, exports=exports
            )
