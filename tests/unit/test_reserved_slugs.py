"""Which slugs derive names that are someone else's (domain.reserved, pure)."""

import pytest

from tenant_operator.api.crdgen import render_crds
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.reserved import (
    NameContext,
    collisions,
    openbao_untouchable,
    refusal,
    reserved_slugs,
    settings_problems,
)
from tenant_operator.runtime import check_names
from tenant_operator.settings import Settings

DEFAULTS = Settings().names


@pytest.mark.parametrize(
    ("slug", "names"),
    [
        ("secrets", "workload namespace tenant-secrets"),
        ("operator", "OpenBao policy, role and transit key name tenant-operator"),
        ("cubbyhole", "OpenBao namespace name cubbyhole"),
        ("sys", "reserved by OpenBao"),
        ("root", "reserved by OpenBao"),
    ],
)
def test_default_settings_refuse_colliding_slugs_saying_with_what(slug: str, names: str) -> None:
    message = refusal(slug, DEFAULTS)
    assert message is not None
    assert names in message
    assert message.endswith("; choose another name for the Tenant")


@pytest.mark.parametrize("slug", ["acme", "secret", "operators", "system", "tenant", "kube"])
def test_ordinary_slugs_collide_with_nothing(slug: str) -> None:
    assert collisions(slug, DEFAULTS) == ()


def test_the_settings_decide_what_collides() -> None:
    ctx = NameContext(
        workload_namespace_prefix="ws-",
        secret_namespaces=("ws-vault", "connector-secrets"),
        operator_namespace="ws-platform",
        operator_openbao_names=("tenant-ops", "integraci-operator"),
    )
    assert refusal("vault", ctx) is not None
    assert "the operator's namespace" in (refusal("platform", ctx) or "")
    assert "the operator's own OpenBao policy" in (refusal("ops", ctx) or "")
    assert refusal("secrets", ctx) is None  # tenant-secrets is not this install's
    assert set(reserved_slugs(ctx)) >= {"vault", "platform", "ops", "sys", "cubbyhole"}


def test_a_prefix_that_reaches_kubernetes_namespaces_reserves_them() -> None:
    ctx = NameContext(workload_namespace_prefix="k")
    assert "Kubernetes system namespace" in (refusal("ube-system", ctx) or "")
    assert "ube-system" in reserved_slugs(ctx)
    assert refusal("ube-anything", ctx) is not None  # kube-* is Kubernetes'


def test_erasure_leaves_openbao_alone_only_where_the_path_is_not_the_tenants() -> None:
    assert openbao_untouchable("cubbyhole", NameContext(layout="namespace"))
    assert not openbao_untouchable("cubbyhole", NameContext(layout="mount"))
    assert openbao_untouchable("operator", NameContext(layout="mount"))
    assert not openbao_untouchable("secrets", NameContext())  # a Kubernetes collision


@pytest.mark.parametrize(
    ("ctx", "problem"),
    [
        (NameContext(workload_namespace_prefix="kube-t"), "reserved by Kubernetes"),
        (NameContext(workload_namespace_prefix="a" * 24), "use at most 23"),
        (NameContext(platform_schema="t_platform"), "schema-tier tenants' schemas"),
    ],
)
def test_settings_that_make_families_collide_are_refused(ctx: NameContext, problem: str) -> None:
    assert any(problem in p for p in settings_problems(ctx))


def test_default_settings_have_no_problem() -> None:
    assert settings_problems(DEFAULTS) == []


def test_the_crd_refuses_every_slug_the_default_settings_reserve() -> None:
    crd = render_crds()["tenants.integraci.io.yaml"]
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rule = next(r for r in schema["x-kubernetes-validations"] if "metadata.name" in r["rule"])
    for slug in reserved_slugs(DEFAULTS):
        assert f"'{slug}'" in rule["rule"] or f"'{slug}'" in rule["messageExpression"]
    for slug in reserved_slugs(NameContext(layout="mount")):
        assert f"'{slug}'" in rule["messageExpression"]


def test_the_defaults_of_the_crd_rule_are_the_settings_defaults() -> None:
    assert Settings(_env_file=None).names == NameContext()  # type: ignore[call-arg]


def test_the_operator_refuses_to_start_under_colliding_settings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(PermanentError) as refused:
        check_names(Settings(tenant_workload_namespace_prefix="kube-t"))
    assert refused.value.reason == "InvalidSettings"
    caplog.set_level("INFO", logger="tenant_operator.runtime")
    check_names(Settings(allowed_secret_namespaces=("tenant-vault",)))
    assert "slug vault is refused under these settings" in caplog.text
