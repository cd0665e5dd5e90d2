"""The kinds of OpenBao objects the operator keeps, each with ensure, verify and drop.

Every kind is a :class:`Remote`: ``ensure`` makes the object as wanted and returns what it
changed (empty when nothing differed), ``verify`` returns what differs (empty when nothing
does) without writing, ``drop`` removes it ("already gone" is success) and returns whether
something was there. Most kinds are :class:`Stored` objects at one path and supply only
that path, what they want and how to compare: one read-compare-write path serves them all.
The Kubernetes-auth config and the routed connectors have rules of their own (see
:class:`AuthConfig`, :class:`Connectors`). hvac errors pass through untranslated (the
caller wraps each step in ``errors.translated``). Blocking; run in a thread.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import hvac

from tenant_operator.adapters.openbao import objects
from tenant_operator.adapters.openbao.kubeauth import KubeAuth
from tenant_operator.adapters.openbao.paths import TenantPaths
from tenant_operator.adapters.openbao.routing import connector_problem
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

#: Seconds between polls while OpenBao deletes a namespace in the background.
NAMESPACE_POLL = 0.05


class Remote(Protocol):
    """One OpenBao object, reached with a client of the namespace it lives in.

    ``drop`` may wait up to ``timeout`` seconds for OpenBao to finish a deletion.
    """

    def ensure(self, client: hvac.Client, /) -> list[str]: ...

    def verify(self, client: hvac.Client, /) -> list[str]: ...

    def drop(self, client: hvac.Client, timeout: float, /) -> bool: ...


class Stored:
    """An object at ``path``: read it, compare with what is wanted, write only if different.

    A kind supplies ``label`` (how messages name it: '<label> is missing', '<label>
    written'), ``path``, what differs in an existing object (:meth:`differences`), how to
    write it (:meth:`write`) and, if it must not be adopted as it is, :meth:`check`.
    """

    label: str
    #: What verify says of an object that differs ('': '<label> differs (<fields>)').
    drift = ""

    @property
    def path(self) -> str:
        raise NotImplementedError

    def differences(self, _found: Mapping[str, Any], /) -> list[str]:
        """What differs in an object that exists (nothing, unless a kind compares more)."""
        return []

    def check(self, _found: Mapping[str, Any], /) -> None:
        """Before ensure adopts an existing object: raise if it must not (default: adopt)."""

    def write(self, client: hvac.Client, found: Mapping[str, Any] | None, /) -> list[str]:
        """Make the object as wanted (``found`` is what is there, None if nothing)."""
        raise NotImplementedError

    def differs(self, wrong: list[str]) -> str:
        return f"{self.label} {self.drift or 'differs (' + ', '.join(wrong) + ')'}"

    def ensure(self, client: hvac.Client, /) -> list[str]:
        found = objects.read(client, self.path)
        if found is not None:
            self.check(found)
            if not self.differences(found):
                return []
        return self.write(client, found)

    def verify(self, client: hvac.Client, /) -> list[str]:
        found = objects.read(client, self.path)
        if found is None:
            return [f"{self.label} is missing"]
        wrong = self.differences(found)
        return [self.differs(wrong)] if wrong else []

    def drop(self, client: hvac.Client, _timeout: float, /) -> bool:
        return objects.drop(client, self.path)


@dataclass(frozen=True)
class Namespace(Stored):
    """Child namespace ``name`` of the client's namespace."""

    label: str
    name: str

    @property
    def path(self) -> str:
        return f"sys/namespaces/{self.name}"

    def check(self, found: Mapping[str, Any], /) -> None:
        if objects.data_of(found).get("tainted"):
            raise RetryableError(
                f"OpenBao namespace {self.name!r} is still being deleted; retrying",
                reason=Reason.OPENBAO_NAMESPACE_DELETING,
                delay=2.0,
            )

    def write(self, client: hvac.Client, _found: Mapping[str, Any] | None, /) -> list[str]:
        client.adapter.post(f"/v1/{self.path}")
        return [f"{self.label} created"]

    def drop(self, client: hvac.Client, timeout: float, /) -> bool:
        """Delete the namespace and wait until OpenBao has finished deleting it."""
        if objects.read(client, self.path) is None:
            return False
        client.adapter.delete(f"/v1/{self.path}")
        deadline = time.monotonic() + timeout
        while objects.read(client, self.path) is not None:
            if time.monotonic() > deadline:
                raise RetryableError(
                    f"OpenBao is still deleting namespace {self.name!r}; retrying",
                    reason=Reason.OPENBAO_NAMESPACE_DELETING,
                    delay=5.0,
                )
            time.sleep(NAMESPACE_POLL)
        return True


@dataclass(frozen=True)
class Mount(Stored):
    """Secrets engine ``type`` at ``mount`` or, with ``auth``, an auth method (type checked)."""

    label: str
    mount: str
    type: str
    version: str = ""
    auth: bool = False

    @property
    def path(self) -> str:
        return f"sys/{'auth' if self.auth else 'mounts'}/{self.mount}"

    def check(self, found: Mapping[str, Any], /) -> None:
        kind = "auth mount" if self.auth else "mount"
        objects.check_type(kind, self.mount, found, self.type, self.version)

    def write(self, client: hvac.Client, _found: Mapping[str, Any] | None, /) -> list[str]:
        body: dict[str, Any] = {"type": self.type}
        if self.version:
            body["options"] = {"version": self.version}
        client.adapter.post(f"/v1/{self.path}", json=body)
        return [f"{self.label} enabled"]


def _normalised(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    return value


@dataclass(frozen=True)
class Document(Stored):
    """A document at ``at`` holding the fields of ``body`` (lists unordered), written whole.

    E.g. an ACL policy (``policy``: its text, written with PUT) or a Kubernetes-auth role.
    ``drift`` is what verify says when it differs ('': which fields differ).
    """

    label: str
    at: str
    body: Mapping[str, Any]
    method: str = "post"
    drift: str = ""

    @property
    def path(self) -> str:
        return self.at

    def differences(self, found: Mapping[str, Any], /) -> list[str]:
        data = objects.data_of(found)
        return [k for k, v in self.body.items() if _normalised(data.get(k)) != _normalised(v)]

    def write(self, client: hvac.Client, _found: Mapping[str, Any] | None, /) -> list[str]:
        client.adapter.request(self.method, f"/v1/{self.path}", json=dict(self.body))
        return [f"{self.label} written"]


def policy(label: str, name: str, text: str) -> Document:
    """ACL policy ``name`` with exactly the text ``text``."""
    body = {"policy": text}
    return Document(
        label, f"sys/policies/acl/{name}", body, "put", "differs from the rendered policy"
    )


def role(label: str, mount: str, name: str, body: Mapping[str, Any]) -> Document:
    """Role ``name`` of auth mount ``mount`` with the fields of ``body``."""
    return Document(label, f"auth/{mount}/role/{name}", body)


@dataclass(frozen=True)
class TransitKey(Stored):
    """A deletable aes256-gcm96 key ``name`` of transit mount ``mount``."""

    label: str
    mount: str
    name: str
    drift = "cannot be deleted"

    @property
    def path(self) -> str:
        return f"{self.mount}/keys/{self.name}"

    def differences(self, found: Mapping[str, Any], /) -> list[str]:
        return [] if objects.data_of(found).get("deletion_allowed") else ["deletion_allowed"]

    def write(self, client: hvac.Client, found: Mapping[str, Any] | None, /) -> list[str]:
        changed = []
        if found is None:
            client.adapter.post(f"/v1/{self.path}", json={"type": "aes256-gcm96"})
            changed.append(f"{self.label} created")
        client.adapter.post(f"/v1/{self.path}/config", json={"deletion_allowed": True})
        return [*changed, f"{self.label} made deletable"]

    def drop(self, client: hvac.Client, _timeout: float, /) -> bool:
        """Destroy the key (crypto-shredding), allowing its deletion first if need be."""
        found = objects.read(client, self.path)
        if found is None:
            return False
        if self.differences(found):
            client.adapter.post(f"/v1/{self.path}/config", json={"deletion_allowed": True})
        client.adapter.delete(f"/v1/{self.path}")
        return True


@dataclass(frozen=True)
class SigningKey(Stored):
    """The operator's ed25519 key ``name`` of transit mount ``mount``: signs export manifests.

    Never deletable (a bundle must stay verifiable), never dropped; a key of that name of
    another type is not adopted.
    """

    label: str
    mount: str
    name: str
    drift = "is deletable (a signing key must never be)"

    @property
    def path(self) -> str:
        return f"{self.mount}/keys/{self.name}"

    def check(self, found: Mapping[str, Any], /) -> None:
        if objects.data_of(found).get("type") != "ed25519":
            raise PermanentError(
                f"OpenBao transit key {self.path} exists but is not ed25519: move it away "
                "(bundles are signed with an ed25519 key of that name)",
                reason=Reason.OPENBAO_MOUNT_CONFLICT,
            )

    def differences(self, found: Mapping[str, Any], /) -> list[str]:
        return ["deletion_allowed"] if objects.data_of(found).get("deletion_allowed") else []

    def write(self, client: hvac.Client, found: Mapping[str, Any] | None, /) -> list[str]:
        if found is not None:  # deletable: only an administrator can make it safe again
            return []
        client.adapter.post(f"/v1/{self.path}", json={"type": "ed25519"})
        return [f"{self.label} created"]

    def drop(self, _client: hvac.Client, _timeout: float, /) -> bool:
        return False


@dataclass(frozen=True)
class AuthConfig:
    """The config of Kubernetes auth mount ``mount``, as ``kube_auth`` wants and remembers it.

    Not a plain :class:`Stored`: OpenBao never returns the reviewer JWT, so ``ensure`` also
    writes a config whose JWT this process has not written (``KubeAuth.ensure``), and
    ``verify`` does not count a missing config as drift (an OpenBao outside a pod refuses
    one without a CA certificate; ``ensure`` warned about that). It goes with its mount.
    """

    label: str
    mount: str
    kube_auth: KubeAuth

    def ensure(self, client: hvac.Client, /) -> list[str]:
        return [f"{self.label} written"] if self.kube_auth.ensure(client, self.mount) else []

    def verify(self, client: hvac.Client, /) -> list[str]:
        wrong = self.kube_auth.differences(client, self.mount)
        if not wrong or wrong == ["config"]:
            return []
        return [f"{self.label} differs ({', '.join(wrong)})"]

    def drop(self, _client: hvac.Client, _timeout: float, /) -> bool:
        return False


@dataclass(frozen=True)
class Connectors:
    """The routed connector secrets ``names``: each must be the version the operator wrote.

    Only verified here (``routing.connector_problem``, from the KV metadata): each one is
    written by ``routing.route_connector`` from its Kubernetes Secret, and goes with the
    tenant's mount.
    """

    paths: TenantPaths
    names: tuple[str, ...]

    def ensure(self, _client: hvac.Client, /) -> list[str]:
        return []

    def verify(self, client: hvac.Client, /) -> list[str]:
        problems = []
        for name in self.names:
            key = self.paths.connector_key(name)
            meta = objects.read(client, f"{self.paths.mount}/metadata/{key}")
            problem = connector_problem(meta, key)
            if problem:
                problems.append(problem)
        return problems

    def drop(self, _client: hvac.Client, _timeout: float, /) -> bool:
        return False
