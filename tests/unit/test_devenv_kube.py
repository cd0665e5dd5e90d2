"""The local control plane's PKI and binary lookup (no servers started here)."""

import ipaddress
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devenv.certs import write_kube_pki
from devenv.kubebin import (
    BIN_DIR_ENV,
    KubeBinariesMissing,
    find_kube_binaries,
    find_tools_dir,
    kube_bin_dir,
    pinned_version,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / "tools" / "kube"


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_pki_issues_an_admin_client_cert_in_system_masters(tmp_path: Path) -> None:
    pki = write_kube_pki(tmp_path / "pki")
    ca, admin = _cert(pki.ca_cert), _cert(pki.admin_cert)

    admin.verify_directly_issued_by(ca)
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "system:masters"
    )
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_pki_serving_cert_covers_loopback_names(tmp_path: Path) -> None:
    pki = write_kube_pki(tmp_path / "pki")
    serving = _cert(pki.serving_cert)

    serving.verify_directly_issued_by(_cert(pki.ca_cert))
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.IPv4Address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]


def test_pki_files_are_owner_only(tmp_path: Path) -> None:
    pki = write_kube_pki(tmp_path / "pki")

    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    for key in (pki.serving_key, pki.admin_key, pki.sa_private_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_pinned_versions_are_read_as_build_sh_reads_them() -> None:
    kube = pinned_version(TOOLS / "go.mod", "k8s.io/kubernetes")
    etcd = pinned_version(TOOLS / "etcd" / "go.mod", "go.etcd.io/etcd/server/v3")
    expected = f"kube-{kube}_etcd-{etcd}"

    built_into = subprocess.run(
        ["bash", str(TOOLS / "build.sh"), "--print-dir"],
        env={"HOME": "/h", "XDG_CACHE_HOME": "/c"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert kube.startswith("v1.36.") and etcd.startswith("v3.6.")
    assert built_into.stdout.strip() == f"/c/tenant-operator/bin/{expected}"
    assert kube_bin_dir({"XDG_CACHE_HOME": "/c"}, TOOLS) == Path(
        f"/c/tenant-operator/bin/{expected}"
    )


def test_bin_dir_override_wins(tmp_path: Path) -> None:
    assert kube_bin_dir({BIN_DIR_ENV: str(tmp_path)}, TOOLS) == tmp_path


def test_missing_binaries_name_the_command_that_builds_them(tmp_path: Path) -> None:
    with pytest.raises(KubeBinariesMissing, match=r"make cluster-bins"):
        find_kube_binaries(environ={BIN_DIR_ENV: str(tmp_path)})


def test_tools_dir_is_found_from_the_package() -> None:
    assert find_tools_dir() == TOOLS
