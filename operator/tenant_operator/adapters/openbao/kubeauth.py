"""The config of a Kubernetes auth mount: where OpenBao checks service-account tokens.

A Kubernetes-auth login sends a service-account JWT; OpenBao asks the Kubernetes API
(``kubernetes_host``, trusting ``kubernetes_ca_cert``) whether it is valid with a
TokenReview, presenting ``token_reviewer_jwt`` as its own credential. Without a config no
workload can log in, so the adapter writes it to each tenant auth mount (namespace layout)
or to the shared auth mount (mount layout), read-compare-write.

OpenBao never returns ``token_reviewer_jwt`` (only ``token_reviewer_jwt_set``), so the JWT
itself cannot be compared. A :class:`KubeAuth` remembers, in memory, the SHA-256 of the JWT
it last wrote to each mount: with a reviewer JWT configured a mount's config is written once
per operator process (and again when the JWT changes), otherwise only when the readable
fields differ. The JWT is handed only to hvac; it never appears in a log line, a message or
a ``repr``.

When ``kubernetes_ca_cert`` is unset, OpenBao uses the CA of its own pod, and an OpenBao
that does not run in a pod refuses the config. That is logged as a warning (once per mount)
and does not fail provisioning: the tenant's secrets work, only Kubernetes logins do not.
Blocking; run in a thread.
"""

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hvac
from hvac import exceptions as hv
from pydantic import SecretStr

from tenant_operator.adapters.openbao import objects
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

log = logging.getLogger(__name__)

#: Where OpenBao looks for its own pod's CA and token; named in its error when they are absent.
LOCAL_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def normalised_pem(pem: str) -> str:
    """PEM as OpenBao wants it (every line ends with a newline) and returns it."""
    lines = [line.strip() for line in pem.strip().splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class KubeAuthConfig:
    """What the adapter writes to ``auth/<mount>/config``."""

    host: str
    ca_cert: str | None
    disable_local_ca_jwt: bool
    reviewer_jwt: SecretStr | None

    @classmethod
    def from_settings(cls, settings: Settings) -> "KubeAuthConfig":
        ca = normalised_pem(settings.kubernetes_ca_cert) if settings.kubernetes_ca_cert else None
        jwt = settings.kubernetes_token_reviewer_jwt
        if settings.kubernetes_disable_local_ca_jwt and ca is None:
            raise PermanentError(
                "kubernetes_disable_local_ca_jwt needs kubernetes_ca_cert: set the PEM CA "
                "certificate of the Kubernetes API at kubernetes_host",
                reason=Reason.OPENBAO_NOT_CONFIGURED,
            )
        return cls(
            host=settings.kubernetes_host,
            ca_cert=ca,
            disable_local_ca_jwt=settings.kubernetes_disable_local_ca_jwt,
            reviewer_jwt=jwt if jwt is not None and jwt.get_secret_value() else None,
        )

    def readable(self) -> dict[str, Any]:
        """The fields OpenBao returns on a read, as they should read back.

        Without a CA certificate, OpenBao's pod CA is used: whatever it stored is accepted.
        """
        want: dict[str, Any] = {
            "kubernetes_host": self.host,
            "disable_local_ca_jwt": self.disable_local_ca_jwt,
            "token_reviewer_jwt_set": self.reviewer_jwt is not None,
        }
        if self.ca_cert is not None:
            want["kubernetes_ca_cert"] = self.ca_cert
        return want

    def body(self) -> dict[str, Any]:
        """The request body (a write replaces the whole config); holds the reviewer JWT."""
        body: dict[str, Any] = {
            "kubernetes_host": self.host,
            "kubernetes_ca_cert": self.ca_cert or "",
            "disable_local_ca_jwt": self.disable_local_ca_jwt,
            "token_reviewer_jwt": self.reviewer_jwt.get_secret_value() if self.reviewer_jwt else "",
        }
        return body

    def reviewer_digest(self) -> str:
        if self.reviewer_jwt is None:
            return ""
        return hashlib.sha256(self.reviewer_jwt.get_secret_value().encode()).hexdigest()

    def __repr__(self) -> str:
        reviewer = "**********" if self.reviewer_jwt else None
        return (
            f"KubeAuthConfig(host={self.host!r}, ca_cert={'set' if self.ca_cert else None}, "
            f"disable_local_ca_jwt={self.disable_local_ca_jwt}, reviewer_jwt={reviewer})"
        )


def config_differences(found: Mapping[str, Any] | None, want: KubeAuthConfig) -> list[str]:
    """Readable fields of a mount's config that differ from ``want`` (['config'] if none)."""
    if found is None:
        return ["config"]
    data = objects.data_of(found)
    wrong = []
    for name, value in want.readable().items():
        have = data.get(name)
        if name == "kubernetes_ca_cert" and isinstance(have, str) and have:
            have = normalised_pem(have)
        if name in ("disable_local_ca_jwt", "token_reviewer_jwt_set"):
            have = bool(have)
        if have != value:
            wrong.append(name)
    return wrong


def _no_local_ca(exc: hv.VaultError) -> bool:
    return any(LOCAL_SERVICE_ACCOUNT_DIR in str(e) for e in exc.errors or ())


@dataclass
class KubeAuth:
    """The wanted config plus what this process wrote (digests of reviewer JWTs)."""

    want: KubeAuthConfig
    _written: dict[tuple[str | None, str], str] = field(default_factory=dict, repr=False)
    _warned: set[tuple[str | None, str]] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "KubeAuth":
        return cls(KubeAuthConfig.from_settings(settings))

    def differences(self, client: hvac.Client, mount: str) -> list[str]:
        """Readable drift of the config of ``mount`` in the client's namespace."""
        return config_differences(objects.read(client, f"auth/{mount}/config"), self.want)

    def ensure(self, client: hvac.Client, mount: str) -> bool:
        """Write the config of auth ``mount`` if it differs; True if written.

        hvac errors pass through (the caller translates them with ``redact=True``), except
        OpenBao's refusal for want of a pod CA, which is logged once per mount.
        """
        key = (client.adapter.namespace, mount)
        digest = self.want.reviewer_digest()
        with self._lock:
            remembered = self._written.get(key)
        differs = bool(self.differences(client, mount))
        if not differs and (not digest or remembered == digest):
            return False
        try:
            client.adapter.post(f"/v1/auth/{mount}/config", json=self.want.body())
        except hv.InvalidRequest as exc:
            if self.want.ca_cert is not None or not _no_local_ca(exc):
                raise
            self._warn_no_local_ca(key)
            return False
        with self._lock:
            self._written[key] = digest
        return True

    def _warn_no_local_ca(self, key: tuple[str | None, str]) -> None:
        with self._lock:
            first = key not in self._warned
            self._warned.add(key)
        namespace, mount = key
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "OpenBao refused the config of Kubernetes auth mount %s/ in namespace %s: it does "
            "not run in a Kubernetes pod, so it has no CA for %s. Tenant workloads cannot log "
            "in until kubernetes_ca_cert (and, outside a pod, kubernetes_token_reviewer_jwt) "
            "is set",
            mount,
            namespace or "root",
            self.want.host,
        )
