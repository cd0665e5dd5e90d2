"""hvac clients per OpenBao namespace, sharing one HTTP session, with timeouts.

The token is held as a ``SecretStr`` and handed only to hvac; it is never logged and never
appears in a ``repr``. hvac is blocking: callers run these clients in a worker thread.
"""

from collections.abc import Callable

import hvac
import requests
from pydantic import SecretStr

from tenant_operator.domain.errors import PermanentError
from tenant_operator.settings import Settings

#: Builds an hvac client bound to a namespace (None = the root namespace).
ClientFactory = Callable[[str | None], hvac.Client]


class BaoClients:
    """A :data:`ClientFactory` over one ``requests.Session`` (connection pooling)."""

    def __init__(
        self,
        settings: Settings,
        token: str | SecretStr | None = None,
        *,
        session: requests.Session | None = None,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else None
        if isinstance(token, str):
            secret = SecretStr(token)
        secret = secret or settings.bao_token
        if secret is None or not secret.get_secret_value():
            raise PermanentError(
                "no OpenBao token: set BAO_TOKEN (or TENANT_OPERATOR_BAO_TOKEN) to a token "
                "holding the operator's policy (operator.hcl)",
                reason="OpenBaoNotConfigured",
            )
        self._token = secret
        self.addr = settings.bao_addr
        self.timeout = settings.bao_timeout_seconds
        self.session = session or requests.Session()

    def __call__(self, namespace: str | None) -> hvac.Client:
        return hvac.Client(
            url=self.addr,
            token=self._token.get_secret_value(),
            namespace=namespace,
            timeout=self.timeout,
            session=self.session,
        )

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"BaoClients(addr={self.addr!r}, token=**********)"
