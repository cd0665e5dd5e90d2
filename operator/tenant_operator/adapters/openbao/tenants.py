"""The async face of the OpenBao adapter, used by reconcile and the drift scanner.

hvac is blocking, so every method runs its work with ``asyncio.to_thread``; nothing here
blocks the event loop. Errors arrive only as ``RetryableError`` / ``PermanentError``.
"""

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from functools import partial

from pydantic import SecretStr

from tenant_operator.adapters.openbao import (
    audit_mirror,
    datakeys,
    desired,
    provision,
    routing,
    signing,
)
from tenant_operator.adapters.openbao.client import BaoClients, ClientFactory
from tenant_operator.adapters.openbao.kubeauth import KubeAuth
from tenant_operator.adapters.openbao.paths import (
    DEFAULT_PLATFORM_MOUNT,
    build_platform_paths,
    build_tenant_paths,
)
from tenant_operator.adapters.openbao.provision import SecretsState
from tenant_operator.adapters.openbao.routing import ConnectorRoute
from tenant_operator.domain.errors import OperatorError
from tenant_operator.settings import Settings

__all__ = ["ConnectorRoute", "OpenBaoTenants", "SecretsState"]

log = logging.getLogger(__name__)


class OpenBaoTenants:
    """Provision, route into, verify and erase tenants' OpenBao objects.

    ``client_factory`` builds an hvac client per namespace; by default a :class:`BaoClients`
    over ``token`` (or ``settings.bao_token``, or a Kubernetes-auth login with
    ``settings.bao_auth_role``). ``audit_mount`` is the platform KV v2 mount that holds the
    mirrored audit-chain heads. The Kubernetes-auth config written to tenant auth mounts
    comes from ``settings.kubernetes_*``.
    """

    def __init__(
        self,
        settings: Settings,
        client_factory: ClientFactory | None = None,
        *,
        token: str | SecretStr | None = None,
        audit_mount: str = DEFAULT_PLATFORM_MOUNT,
    ) -> None:
        self.settings = settings
        self._owned = client_factory is None
        self.clients: ClientFactory = client_factory or BaoClients(settings, token)
        self.platform = build_platform_paths(settings, audit_mount=audit_mount)
        self.kube_auth = KubeAuth.from_settings(settings)
        self.limits = desired.TokenLimits.from_settings(settings)
        self._platform_ready = False

    def __repr__(self) -> str:
        return f"OpenBaoTenants(addr={self.settings.bao_addr!r}, layout={self.platform.layout!r})"

    def close(self) -> None:
        if self._owned and isinstance(self.clients, BaoClients):
            self.clients.close()

    async def ensure_platform(self) -> tuple[str, ...]:
        """The shared objects (parent namespace or auth mount, transit and audit mounts)."""
        changed = await asyncio.to_thread(
            provision.ensure_platform, self.clients, self.platform, self.kube_auth
        )
        self._platform_ready = True
        if changed:
            log.info("OpenBao platform objects: %s", "; ".join(changed))
        return tuple(changed)

    async def ensure_tenant(
        self, slug: str, *, service_accounts: Sequence[tuple[str, str]] = ()
    ) -> SecretsState:
        """Make the tenant's place, policy, role and transit key; write only what differs.

        ``service_accounts`` are (Kubernetes namespace, name) pairs the role binds; when
        empty, ``settings.tenant_service_accounts`` ('name' in namespace <slug>, or
        'namespace/name').
        """
        paths = build_tenant_paths(self.settings, slug)
        accounts = provision.service_account_pairs(
            paths.slug, service_accounts, self.settings.tenant_service_accounts
        )
        shared: tuple[str, ...] = ()
        if not self._platform_ready:
            shared = await self.ensure_platform()
        try:
            state = await asyncio.to_thread(
                provision.ensure_tenant, self.clients, paths, accounts, self.kube_auth, self.limits
            )
        except OperatorError:
            self._platform_ready = False  # check the shared objects again next time
            raise
        if state.changed:
            log.info("OpenBao tenant %s: %s", paths.slug, "; ".join(state.changed))
        if shared:
            return SecretsState(**{**state.__dict__, "changed": shared + state.changed})
        return state

    async def verify_tenant(
        self,
        slug: str,
        *,
        connectors: Sequence[str] = (),
        service_accounts: Sequence[tuple[str, str]] = (),
    ) -> tuple[str, ...]:
        """Drift problems of the tenant's OpenBao objects; empty means none.

        ``connectors``: names of the routed connectors, whose secrets must be as the
        operator wrote them (a value changed behind its back is drift; the reconcile that
        follows rewrites it from the Secret). ``service_accounts``: what the role must bind,
        as for :meth:`ensure_tenant` (empty: the settings' defaults).

        On drift the shared objects are checked again by the next ``ensure_tenant`` too (in
        the mount layout the shared auth mount's config is one of them).
        """
        paths = build_tenant_paths(self.settings, slug)
        accounts = provision.service_account_pairs(
            paths.slug, service_accounts, self.settings.tenant_service_accounts
        )
        problems = await asyncio.to_thread(
            provision.verify_tenant,
            self.clients,
            paths,
            accounts,
            self.kube_auth,
            self.limits,
            tuple(connectors),
        )
        if problems:
            self._platform_ready = False
        return problems

    async def drop_tenant(self, slug: str) -> bool:
        """Erase the tenant's place and destroy its transit key; True if anything was there."""
        paths = build_tenant_paths(self.settings, slug)
        removed = await asyncio.to_thread(
            provision.drop_tenant,
            self.clients,
            paths,
            timeout=self.settings.bao_timeout_seconds,
        )
        if removed:
            log.info("OpenBao tenant %s erased", paths.slug)
        return removed

    async def route_connector(
        self, slug: str, connector: str, data: Mapping[str, bytes | str]
    ) -> ConnectorRoute:
        """Write the Secret's data to ``connectors/<connector>`` if its content changed."""
        paths = build_tenant_paths(self.settings, slug)
        route = await asyncio.to_thread(
            routing.route_connector, self.clients, paths, connector, dict(data)
        )
        if route.changed:
            log.info("OpenBao: routed %s (version %d)", route.ref, route.version)
        return route

    async def drop_connector(self, slug: str, connector: str) -> bool:
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(routing.drop_connector, self.clients, paths, connector)

    async def store_invite(self, slug: str, token: str) -> str:
        """Write the owner's invite token into the tenant's mount; returns its reference."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(
            routing.store_invite,
            self.clients,
            paths,
            token,
            ttl_seconds=self.settings.invite_ttl_seconds,
        )

    async def destroy_account_invite(self, slug: str, account: uuid.UUID) -> bool:
        """Destroy the invite kept for one account of the tenant (a subject's erasure)."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(routing.destroy_account_invite, self.clients, paths, account)

    async def account_invite_exists(self, slug: str, account: uuid.UUID) -> bool:
        """Whether an invite is kept for one account of the tenant."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(routing.account_invite_exists, self.clients, paths, account)

    async def destroy_invite(self, slug: str) -> bool:
        """Destroy the owner's invite of the tenant (every version); whether it existed."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(datakeys.destroy_invite, self.clients, paths)

    async def new_data_key(self, slug: str) -> tuple[str, bytes]:
        """A new data key of the tenant from its transit key: (wrapped, plaintext)."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(datakeys.new_data_key, self.clients, paths)

    async def unwrap_data_key(self, slug: str, wrapped: str) -> bytes:
        """Unwrap one of the tenant's data keys (as stored in PostgreSQL)."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(datakeys.unwrap_data_key, self.clients, paths, wrapped)

    async def rotate_tenant_key(self, slug: str) -> int:
        """Rotate the tenant's transit key; returns its latest version."""
        paths = build_tenant_paths(self.settings, slug)
        version = await asyncio.to_thread(datakeys.rotate_tenant_key, self.clients, paths)
        log.info("OpenBao tenant %s: transit key rotated to v%d", paths.slug, version)
        return version

    async def tenant_key_version(self, slug: str) -> int:
        """The latest version of the tenant's transit key."""
        paths = build_tenant_paths(self.settings, slug)
        return await asyncio.to_thread(datakeys.tenant_key_version, self.clients, paths)

    async def trim_tenant_key(self, slug: str, min_version: int) -> None:
        """Delete the tenant's transit key versions below ``min_version`` for good."""
        paths = build_tenant_paths(self.settings, slug)
        await asyncio.to_thread(datakeys.trim_tenant_key, self.clients, paths, min_version)
        log.info("OpenBao tenant %s: transit key trimmed to v%d", paths.slug, min_version)

    async def mirror_audit_head(self, slug: str | None, seq: int, head: str) -> None:
        """Store the head of a tenant chain (its name: the slug, or ``<slug>@<uuid>``) or,
        for None, of the platform's audit chain."""
        if not self._platform_ready:
            await self.ensure_platform()
        await asyncio.to_thread(
            audit_mirror.mirror_audit_head, self.clients, self.platform, slug, seq, head
        )

    async def read_audit_head(self, slug: str | None) -> tuple[int, str] | None:
        return await asyncio.to_thread(
            audit_mirror.read_audit_head, self.clients, self.platform, slug
        )

    async def close_audit_head(self, chain: str) -> None:
        """Mark the tenant chain's mirrored head as its last: it never moves again."""
        await asyncio.to_thread(audit_mirror.close_audit_head, self.clients, self.platform, chain)

    async def audit_head_closed(self, chain: str | None) -> bool:
        """Whether the chain's mirrored head is marked as its last (erasure closed it)."""
        found = await asyncio.to_thread(
            audit_mirror.read_audit_mirror, self.clients, self.platform, chain
        )
        return found is not None and found[2]

    async def mirrored_chains(self) -> list[str | None]:
        """The chains whose heads are mirrored (None: the platform chain)."""
        return await asyncio.to_thread(audit_mirror.mirrored_chains, self.clients, self.platform)

    async def audit_key(self, chain: str | None) -> bytes:
        """The chain's digest key (created if missing); it never leaves the operator."""
        if not self._platform_ready:
            await self.ensure_platform()
        key = await asyncio.to_thread(
            audit_mirror.audit_digest_key, self.clients, self.platform, chain
        )
        assert key is not None  # created when missing
        return key

    async def read_audit_key(self, chain: str | None) -> bytes | None:
        """The chain's digest key, if it has one (verification never creates one)."""
        return await asyncio.to_thread(
            partial(audit_mirror.audit_digest_key, create=False), self.clients, self.platform, chain
        )

    async def forget_audit_key(self, chain: str | None) -> None:
        """Destroy the chain's digest key (erasure)."""
        await asyncio.to_thread(
            audit_mirror.forget_audit_digest_key, self.clients, self.platform, chain
        )

    async def sign_export(self, data: bytes, key_version: int | None = None) -> str:
        """The transit signature (``vault:vN:...``) of an export manifest's bytes."""
        if not self._platform_ready:
            await self.ensure_platform()
        return await asyncio.to_thread(signing.sign, self.clients, self.platform, data, key_version)

    async def export_public_keys(self) -> dict[int, str]:
        """The export signing key's public keys (PEM) by version."""
        return await asyncio.to_thread(signing.public_keys, self.clients, self.platform)
