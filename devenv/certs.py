"""Throwaway PKI: a local kube-apiserver's (CA, serving and client certs, SA key pair), and
the per-run CA that signs the TLS certificates of the local PostgreSQL and OpenBao.

Everything is generated fresh per launch with the ``cryptography`` package and written
to one directory with owner-only permissions. Key material is never logged.
"""

import datetime
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=7)
_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KubePki:
    """Paths of the PEM files a local control plane needs."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_public_key: Path
    sa_private_key: Path


@dataclass(frozen=True)
class _Issued:
    cert: x509.Certificate
    key: _PrivateKey


def write_kube_pki(directory: Path, *, admin_user: str = "admin") -> KubePki:
    """Generate the PKI into ``directory`` (created 0700) and return the file paths.

    The admin client certificate carries ``O=system:masters``, which the apiserver's
    RBAC authorizer lets do anything; the serving certificate is for 127.0.0.1 and
    localhost. The service-account key pair is RSA, which the apiserver accepts for
    both signing and verifying tokens.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = _build_ca()
    serving = _issue(
        ca,
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            x509.DNSName("localhost"),
        ],
    )
    admin = _issue(
        ca, _name(admin_user, organisation="system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki = KubePki(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        sa_public_key=directory / "sa.pub",
        sa_private_key=directory / "sa.key",
    )
    _write(pki.ca_cert, _cert_pem(ca.cert))
    _write(pki.serving_cert, _cert_pem(serving.cert))
    _write(pki.serving_key, _key_pem(serving.key))
    _write(pki.admin_cert, _cert_pem(admin.cert))
    _write(pki.admin_key, _key_pem(admin.key))
    _write(
        pki.sa_public_key,
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    _write(pki.sa_private_key, _key_pem(sa_key))
    return pki


@dataclass(frozen=True)
class ServerTls:
    """A loopback server's certificate and key, and the CA file clients verify it with."""

    ca_cert: Path
    cert: Path
    key: Path


_RUN_CA: tuple[Path, _Issued] | None = None


def run_ca() -> tuple[Path, _Issued]:
    """This process's local CA (made on first use): its certificate file, and it."""
    global _RUN_CA
    if _RUN_CA is None:
        directory = Path(tempfile.mkdtemp(prefix="tenantop-ca-"))
        ca = _build_ca()
        path = directory / "ca.crt"
        path.write_bytes(_cert_pem(ca.cert))
        path.chmod(0o644)  # a certificate: anyone may read it
        _RUN_CA = (path, ca)
    return _RUN_CA


def server_tls(directory: Path, name: str) -> ServerTls:
    """A serving certificate for 127.0.0.1 and localhost from :func:`run_ca`, in ``directory``."""
    ca_path, ca = run_ca()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    issued = _issue(
        ca,
        _name(name),
        ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")],
    )
    tls = ServerTls(ca_path, directory / f"{name}.crt", directory / f"{name}.key")
    _write(tls.cert, _cert_pem(issued.cert))
    _write(tls.key, _key_pem(issued.key))
    return tls


def _name(common_name: str, *, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def _build_ca() -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("tenant-operator-dev-ca")
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Issued(cert, key)


def _issue(
    ca: _Issued,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    *,
    sans: list[x509.GeneralName] | None = None,
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
