"""The Kubernetes-auth config the adapter writes, and the operator's login settings."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from tenant_operator.adapters.openbao.client import BaoClients
from tenant_operator.adapters.openbao.kubeauth import KubeAuthConfig, config_differences
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.settings import Settings

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----"
JWT = "eyJhbGciOiJSUzI1NiJ9.reviewer-secret.sig"


def test_defaults_describe_an_openbao_inside_the_cluster() -> None:
    settings = Settings(bao_token=None)
    assert settings.kubernetes_host == "https://kubernetes.default.svc"
    assert settings.kubernetes_ca_cert is None
    assert settings.kubernetes_token_reviewer_jwt is None
    assert settings.kubernetes_disable_local_ca_jwt is False
    assert settings.bao_auth_jwt_path == Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    config = KubeAuthConfig.from_settings(settings)
    assert config.body() == {
        "kubernetes_host": "https://kubernetes.default.svc",
        "kubernetes_ca_cert": "",
        "disable_local_ca_jwt": False,
        "token_reviewer_jwt": "",
    }
    # Without a CA the pod's CA is used, so whatever OpenBao stored is accepted.
    assert "kubernetes_ca_cert" not in config.readable()


def test_body_carries_the_reviewer_jwt_but_repr_and_readable_do_not() -> None:
    config = KubeAuthConfig.from_settings(
        Settings(
            kubernetes_host="https://10.0.0.1:6443",
            kubernetes_ca_cert=PEM,
            kubernetes_token_reviewer_jwt=SecretStr(JWT),
        )
    )
    assert config.body()["token_reviewer_jwt"] == JWT
    assert config.body()["kubernetes_ca_cert"] == PEM + "\n"  # every line ends with \n
    assert JWT not in repr(config) and JWT not in str(config.readable())
    assert config.readable()["token_reviewer_jwt_set"] is True
    assert len(config.reviewer_digest()) == 64 and JWT not in config.reviewer_digest()


def test_differences_compare_only_what_openbao_returns() -> None:
    want = KubeAuthConfig.from_settings(
        Settings(kubernetes_ca_cert=PEM, kubernetes_token_reviewer_jwt=SecretStr(JWT))
    )
    stored = {
        "kubernetes_host": "https://kubernetes.default.svc",
        "kubernetes_ca_cert": PEM + "\n\n",
        "disable_local_ca_jwt": False,
        "token_reviewer_jwt_set": True,
        "disable_iss_validation": True,
        "pem_keys": [],
    }
    assert config_differences({"data": stored}, want) == []
    assert config_differences(None, want) == ["config"]
    moved = {**stored, "kubernetes_host": "https://evil:6443", "token_reviewer_jwt_set": False}
    assert config_differences({"data": moved}, want) == [
        "kubernetes_host",
        "token_reviewer_jwt_set",
    ]


def test_disabling_the_local_ca_needs_a_ca() -> None:
    with pytest.raises(PermanentError, match="kubernetes_ca_cert"):
        KubeAuthConfig.from_settings(Settings(kubernetes_disable_local_ca_jwt=True))


def test_a_role_without_a_token_means_kubernetes_login(tmp_path: Path) -> None:
    settings = Settings(
        bao_token=None, bao_auth_role="tenant-operator", bao_auth_jwt_path=tmp_path / "absent"
    )
    clients = BaoClients(settings)  # no I/O until the first request
    assert clients.login is not None and clients.login.logins == 0
    assert "tenant-operator" in repr(clients) and "**********" in repr(clients)
    with pytest.raises(RetryableError) as missing:
        clients.login.token()
    assert missing.value.reason == "OpenBaoLoginFailed"
    assert "bao_auth_jwt_path" in missing.value.message
    (tmp_path / "absent").write_text("  \n")
    with pytest.raises(RetryableError, match="is empty"):
        clients.login.token()
    with pytest.raises(PermanentError, match="BAO_AUTH_ROLE"):
        BaoClients(Settings(bao_token=None, bao_auth_role=None))


def test_a_token_wins_over_a_role() -> None:
    clients = BaoClients(Settings(bao_token=SecretStr("s.x"), bao_auth_role="tenant-operator"))
    assert clients.login is None
