"""A tenant's data keys: made by OpenBao transit, kept wrapped in PostgreSQL, used in memory.

:func:`key_ring` is what a step that writes personal data asks for: the tenant's data keys
unwrapped (the plaintext never leaves this process), the first one made (``datakey`` of
the tenant's transit key) and recorded wrapped when the tenant has none. Two replicas
racing to make the first key both record version 1; the second insert is refused and that
one reads back the winner's.
"""

import uuid

from tenant_operator.controller.ports import Ports
from tenant_operator.domain.envelope import DataKey, KeyRing

#: The version of a tenant's first data key.
FIRST_VERSION = 1


async def key_ring(ports: Ports, slug: str, tenant_id: uuid.UUID) -> KeyRing:
    """The tenant's data keys, unwrapped; its first one created and stored if it has none."""
    stored = await ports.db.tenant_keys(tenant_id)
    if not stored:
        wrapped, material = await ports.bao.new_data_key(slug)
        if await ports.db.add_tenant_key(tenant_id, FIRST_VERSION, wrapped):
            return KeyRing.of(tenant_id, [DataKey(FIRST_VERSION, material)])
        stored = await ports.db.tenant_keys(tenant_id)  # another replica made it first
    keys = [DataKey(version, await ports.bao.unwrap_data_key(slug, w)) for version, w in stored]
    return KeyRing.of(tenant_id, keys)
