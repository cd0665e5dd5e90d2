"""hvac clients per OpenBao namespace, sharing one HTTP session, with timeouts.

The operator authenticates with a token (``bao_token``), or, when none is set and
``bao_auth_role`` is, by logging in with Kubernetes auth: the service-account JWT at
``bao_auth_jwt_path`` is posted to ``auth/<bao_auth_mount>/login`` in the operator's
namespace (``bao_namespace``). The login happens lazily, on the first request, in the worker
thread that makes it; it is repeated shortly before the token expires, and once when
OpenBao answers 403 to a request (a revoked token), after which the request is retried once.

The token and the JWT are held as ``SecretStr`` and handed only to hvac; neither is ever
logged, put into an error message or shown in a ``repr``. hvac is blocking: callers run
these clients in a worker thread.
"""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import requests
from hvac import adapters
from hvac import exceptions as hv
from pydantic import SecretStr

from tenant_operator.adapters.openbao.errors import DENIED_RETRY_DELAY, translate
from tenant_operator.adapters.openbao.paths import operator_namespace
from tenant_operator.domain.errors import OperatorError, PermanentError, RetryableError
from tenant_operator.domain.naming import validate_label
from tenant_operator.domain.vocabulary import Reason
from tenant_operator.settings import Settings

log = logging.getLogger(__name__)

#: Builds an hvac client bound to a namespace (None = the root namespace).
ClientFactory = Callable[[str | None], hvac.Client]

#: Log in again this long before the token's TTL runs out (at most a fifth of the TTL).
RENEW_MARGIN_SECONDS = 30.0


class KubernetesLogin:
    """An OpenBao token obtained with Kubernetes auth; logs in again when it runs out.

    Thread-safe: concurrent worker threads share one login.
    """

    def __init__(self, settings: Settings, session: requests.Session) -> None:
        if not settings.bao_auth_role:
            raise PermanentError("no Kubernetes-auth role", reason=Reason.OPENBAO_NOT_CONFIGURED)
        self.role = validate_label(settings.bao_auth_role, what="bao_auth_role")
        self.mount = validate_label(settings.bao_auth_mount, what="bao_auth_mount")
        self.namespace = operator_namespace(settings)
        self.jwt_path: Path = settings.bao_auth_jwt_path
        self.addr = settings.bao_addr
        self.timeout = settings.bao_timeout_seconds
        self.session = session
        #: How many times this process logged in (for tests and metrics).
        self.logins = 0
        self._token: SecretStr | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"auth/{self.mount}/login in namespace {self.namespace or 'root'}"

    def token(self) -> str:
        """The current token; logs in first if there is none or it is about to expire."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._login()
            assert self._token is not None
            return self._token.get_secret_value()

    def refreshed_after_denial(self, used: str) -> str | None:
        """A new token after OpenBao refused ``used``; None if ``used`` was not ours.

        If another thread already logged in again since ``used`` was handed out, its newer
        token is returned without another login.
        """
        with self._lock:
            current = self._token.get_secret_value() if self._token else None
            if current is not None and current != used:
                return current
            if current is None:
                return None
            self._login()
            assert self._token is not None
            return self._token.get_secret_value()

    def _read_jwt(self) -> str:
        try:
            jwt = self.jwt_path.read_text().strip()
        except OSError as exc:
            raise RetryableError(
                f"cannot read the operator's service-account token at {self.jwt_path} "
                f"({type(exc).__name__}) to log in to OpenBao at {self.where}: mount the "
                "service-account token there (automountServiceAccountToken, or a projected "
                "volume) or set bao_auth_jwt_path; retrying",
                reason=Reason.OPENBAO_LOGIN_FAILED,
                delay=DENIED_RETRY_DELAY,
            ) from None
        if not jwt:
            raise RetryableError(
                f"the operator's service-account token file {self.jwt_path} is empty; retrying",
                reason=Reason.OPENBAO_LOGIN_FAILED,
                delay=DENIED_RETRY_DELAY,
            )
        return jwt

    def _login(self) -> None:
        """Post the JWT to the login endpoint and keep the token (caller holds the lock)."""
        jwt = self._read_jwt()
        client = hvac.Client(
            url=self.addr,
            token="",  # no token header (None would make hvac read VAULT_TOKEN)
            namespace=self.namespace,
            timeout=self.timeout,
            session=self.session,
        )
        try:
            answer = client.adapter.post(
                f"/v1/auth/{self.mount}/login", json={"role": self.role, "jwt": jwt}
            )
        except requests.RequestException as exc:
            raise translate(exc, f"logging in at {self.where}") from None
        except hv.VaultError as exc:
            raise self._login_error(exc, jwt) from None
        auth = answer.get("auth") if isinstance(answer, dict) else None
        token = auth.get("client_token") if isinstance(auth, dict) else None
        if not isinstance(auth, dict) or not isinstance(token, str) or not token:
            raise RetryableError(
                f"OpenBao answered the Kubernetes-auth login at {self.where} without a token; "
                "retrying",
                reason=Reason.OPENBAO_LOGIN_FAILED,
            )
        ttl = float(auth.get("lease_duration") or 0)
        now = time.monotonic()
        self._renew_at = now + ttl - min(RENEW_MARGIN_SECONDS, ttl / 5) if ttl > 0 else float("inf")
        self._token = SecretStr(token)
        self.logins += 1
        log.info(
            "logged in to OpenBao with Kubernetes-auth role %s at %s (token TTL %ds)",
            self.role,
            self.where,
            int(ttl),
        )

    def _login_error(self, exc: hv.VaultError, jwt: str) -> OperatorError:
        if isinstance(exc, hv.Forbidden | hv.Unauthorized | hv.InvalidRequest | hv.InvalidPath):
            said = "; ".join(" ".join(str(e).split()) for e in exc.errors or ())[:300]
            if jwt in said:
                said = "(withheld: it quoted the token)"
            return RetryableError(
                f"OpenBao refused the operator's Kubernetes-auth login with role {self.role!r} "
                f"at {self.where}" + (f" (OpenBao said: {said})" if said else "") + ": check "
                "that the auth mount is enabled and configured (kubernetes_host, CA, token "
                "reviewer allowed to create TokenReviews), and that the role exists, binds the "
                "operator's service account and namespace, and carries the operator's policy "
                "(operator.hcl); retrying",
                reason=Reason.OPENBAO_LOGIN_FAILED,
                delay=DENIED_RETRY_DELAY,
            )
        return translate(exc, f"logging in at {self.where}", redact=True)

    def __repr__(self) -> str:
        return f"KubernetesLogin(role={self.role!r}, mount={self.mount!r}, token=**********)"


class _LoginAdapter(adapters.JSONAdapter):  # type: ignore[misc]
    """hvac's JSON adapter that takes its token from a :class:`KubernetesLogin`."""

    login: KubernetesLogin

    def request(self, *args: Any, **kwargs: Any) -> Any:
        used = self.token = self.login.token()
        try:
            return super().request(*args, **kwargs)
        except hv.Forbidden:
            fresh = self.login.refreshed_after_denial(used)
            if fresh is None:
                raise
            self.token = fresh
            return super().request(*args, **kwargs)


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
        self.addr = settings.bao_addr
        self.timeout = settings.bao_timeout_seconds
        self.session = session or requests.Session()
        if settings.bao_cacert:  # verify OpenBao's certificate against this CA only
            self.session.verify = settings.bao_cacert
        self.login: KubernetesLogin | None = None
        if secret is None or not secret.get_secret_value():
            if not settings.bao_auth_role:
                raise PermanentError(
                    "no OpenBao token: set BAO_TOKEN (or TENANT_OPERATOR_BAO_TOKEN) to a token "
                    "holding the operator's policy (operator.hcl), or set "
                    "TENANT_OPERATOR_BAO_AUTH_ROLE to a Kubernetes-auth role carrying it",
                    reason=Reason.OPENBAO_NOT_CONFIGURED,
                )
            self.login = KubernetesLogin(settings, self.session)
        self._token = secret

    def __call__(self, namespace: str | None) -> hvac.Client:
        login = self.login
        if login is None:
            assert self._token is not None
            return hvac.Client(
                url=self.addr,
                token=self._token.get_secret_value(),
                namespace=namespace,
                timeout=self.timeout,
                session=self.session,
            )

        def adapter(**kwargs: Any) -> _LoginAdapter:
            built = _LoginAdapter(**kwargs)
            built.login = login
            return built

        return hvac.Client(
            url=self.addr,
            token="",  # set per request by the adapter
            namespace=namespace,
            timeout=self.timeout,
            session=self.session,
            adapter=adapter,
        )

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        if self.login is not None:
            return f"BaoClients(addr={self.addr!r}, login={self.login!r})"
        return f"BaoClients(addr={self.addr!r}, token=**********)"
