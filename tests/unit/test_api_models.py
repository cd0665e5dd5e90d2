"""The API models accept the design's manifests and reject bad ones, naming the field."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tenant_operator.api import Tenant
from tenant_operator.api.subprocessor import SubProcessor
from tenant_operator.api.tenant import Isolation, Plan

REF = {"namespace": "tenant-secrets", "name": "acme-github"}
EXAMPLES = Path(__file__).parents[2] / "examples"


def manifest(**spec: Any) -> dict[str, Any]:
    name = spec.pop("_name", "acme")
    base: dict[str, Any] = {
        "organisation": "Acme Ltd",
        "plan": "team",
        "owner": {"name": "Jane Roe", "email": "jane@acme.example"},
    }
    base.update(spec)
    return {
        "apiVersion": "integraci.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": base,
    }


def error_locations(exc: ValidationError) -> list[str]:
    return [".".join(str(part) for part in err["loc"]) for err in exc.errors()]


def test_examples_parse() -> None:
    docs = [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    tenants = [Tenant.model_validate(d) for d in docs if d["kind"] == "Tenant"]
    subprocessors = [SubProcessor.model_validate(d) for d in docs if d["kind"] == "SubProcessor"]
    assert {t.slug for t in tenants} == {"acme", "globex", "initech"}
    assert {s.metadata.name for s in subprocessors} == {"cloud-hosting", "stripe"}


@pytest.mark.parametrize(
    ("plan", "isolation", "expected"),
    [
        ("free", None, Isolation.SHARED),
        ("team", None, Isolation.SHARED),
        ("enterprise", None, Isolation.SCHEMA),
        ("team", "schema", Isolation.SCHEMA),
        ("enterprise", "shared", Isolation.SHARED),
    ],
)
def test_isolation_defaults_from_plan(
    plan: str, isolation: str | None, expected: Isolation
) -> None:
    spec = Tenant.model_validate(manifest(plan=plan, isolation=isolation)).spec
    assert spec.plan is Plan(plan)
    assert spec.effective_isolation is expected


@pytest.mark.parametrize(
    "slug",
    [
        "Acme",
        "acme_ltd",
        "-acme",
        "acme-",
        "a" * 41,
        "acme;drop",
        "ac'me",
        "\u0430cme",  # Cyrillic a
        "acme/..",
        "",
    ],
)
def test_bad_slug_is_rejected(slug: str) -> None:
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(_name=slug))
    assert error_locations(info.value) == ["metadata"]
    assert "tenant slug" in str(info.value)


def test_duplicate_connector_names_rejected() -> None:
    github = {"name": "github", "type": "github", "secretRef": REF}
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(connectors=[github, github]))
    assert "spec.connectors" in error_locations(info.value)
    assert "listed twice" in str(info.value)


def test_unknown_field_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(isolaton="schema"))
    assert "spec.isolaton" in error_locations(info.value)
    assert "Extra inputs are not permitted" in str(info.value)


def test_unknown_nested_field_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(owner={"name": "J", "email": "j@a.example", "phone": "1"}))
    assert "spec.owner.phone" in error_locations(info.value)


@pytest.mark.parametrize("value", [True, 42, 1.5, None, ["a"], {"k": "v"}])
def test_non_string_config_value_rejected(value: object) -> None:
    bad = {"name": "github", "type": "github", "config": {"org": value}, "secretRef": REF}
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(connectors=[bad]))
    assert "spec.connectors.0.config" in error_locations(info.value)
    assert "config.org must be a string" in str(info.value)


def test_config_is_bounded() -> None:
    too_long = {"name": "gh", "type": "github", "config": {"org": "x" * 1025}, "secretRef": REF}
    with pytest.raises(ValidationError):
        Tenant.model_validate(manifest(connectors=[too_long]))
    many = {f"k{i}": "v" for i in range(33)}
    too_many = {"name": "gh", "type": "github", "config": many, "secretRef": REF}
    with pytest.raises(ValidationError):
        Tenant.model_validate(manifest(connectors=[too_many]))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("plan", "platinum"),
        ("isolation", "database"),
        ("deletionPolicy", "delete"),
        ("owner", {"name": "Jane", "email": "not-an-email"}),
        ("organisation", ""),
        ("organisation", "line\nbreak"),
    ],
)
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(**{field: value}))
    assert any(loc.startswith(f"spec.{field}") for loc in error_locations(info.value))


def test_objections_must_be_unique_labels() -> None:
    with pytest.raises(ValidationError):
        Tenant.model_validate(manifest(subProcessors={"objections": ["stripe", "stripe"]}))
    with pytest.raises(ValidationError):
        Tenant.model_validate(manifest(subProcessors={"objections": ["Stripe Inc"]}))


def test_secret_ref_names_are_validated() -> None:
    bad = {
        "name": "gh",
        "type": "github",
        "secretRef": {"namespace": "../kube-system", "name": "x"},
    }
    with pytest.raises(ValidationError) as info:
        Tenant.model_validate(manifest(connectors=[bad]))
    assert "spec.connectors.0.secretRef.namespace" in error_locations(info.value)


HOSTILE = [
    pytest.param("\u202e", id="U+202E-bidi-override"),
    pytest.param("\u2066", id="U+2066-bidi-isolate"),
    pytest.param("\u200b", id="U+200B-zero-width-space"),
    pytest.param("\u200d", id="U+200D-zero-width-joiner"),
    pytest.param("\ufeff", id="U+FEFF-byte-order-mark"),
    pytest.param("\u00ad", id="U+00AD-soft-hyphen"),
    pytest.param("\u0085", id="U+0085-C1-control"),
    pytest.param("\t", id="tab"),
    pytest.param("\u2028", id="U+2028-line-separator"),
    pytest.param("\u2029", id="U+2029-paragraph-separator"),
    pytest.param("\ue000", id="U+E000-private-use"),
    pytest.param("\ud800", id="lone-surrogate"),
]


@pytest.mark.parametrize("char", HOSTILE)
def test_format_and_control_characters_are_refused_in_organisation(char: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Tenant.model_validate(manifest(organisation=f"Acme {char}Ltd"))
    assert error_locations(refused.value) == ["spec.organisation"]
    if char != "\ud800":  # pydantic itself refuses a lone surrogate, with its own message
        assert "format or control character" in str(refused.value)


@pytest.mark.parametrize("char", HOSTILE)
def test_format_and_control_characters_are_refused_in_owner_name(char: str) -> None:
    owner = {"name": f"Jane{char}Roe", "email": "jane@acme.example"}
    with pytest.raises(ValidationError) as refused:
        Tenant.model_validate(manifest(owner=owner))
    assert error_locations(refused.value) == ["spec.owner.name"]


def test_format_characters_are_refused_in_connector_config_values() -> None:
    connector = {
        "name": "github",
        "type": "github",
        "config": {"url": "https://github.com/\u202eacme"},
        "secretRef": REF,
    }
    with pytest.raises(ValidationError) as refused:
        Tenant.model_validate(manifest(connectors=[connector]))
    assert "format or control character" in str(refused.value)


def test_text_is_stored_nfc_normalised() -> None:
    decomposed = "Bu\u0308cher GmbH"  # u + combining diaeresis
    owner = {"name": "Zoe\u0308 Roe", "email": "zoe@acme.example"}
    spec = Tenant.model_validate(manifest(organisation=decomposed, owner=owner)).spec
    assert spec.organisation == "B\u00fccher GmbH"
    assert spec.owner.name == "Zo\u00eb Roe"


def test_unicode_letters_and_punctuation_stay_accepted() -> None:
    owner = {"name": "Zo\u00eb \u5c71\u7530 O'Brien-M\u00fcller", "email": "jane@acme.example"}
    spec = Tenant.model_validate(
        manifest(organisation="\u0634\u0631\u0643\u0629 & Co.", owner=owner)
    ).spec
    assert spec.owner.name.startswith("Zo\u00eb")


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("jane@b\u00fccher.example", id="unicode-domain"),
        pytest.param("j\u00e4ne@acme.example", id="unicode-local-part"),
        pytest.param("jane@xn--zz.example", id="invalid-a-label"),
        pytest.param("jane@xn--bcher-kva\u200b.example", id="zero-width-in-domain"),
    ],
)
def test_owner_email_must_be_ascii_with_valid_idna_labels(email: str) -> None:
    owner = {"name": "Jane Roe", "email": email}
    with pytest.raises(ValidationError) as refused:
        Tenant.model_validate(manifest(owner=owner))
    assert error_locations(refused.value) == ["spec.owner.email"]


def test_a_unicode_domain_is_refused_naming_its_a_label() -> None:
    owner = {"name": "Jane Roe", "email": "jane@b\u00fccher.example"}
    with pytest.raises(ValidationError) as refused:
        Tenant.model_validate(manifest(owner=owner))
    assert "jane@xn--bcher-kva.example" in str(refused.value)


def test_an_a_label_email_is_accepted_as_written() -> None:
    owner = {"name": "Jane Roe", "email": "jane@xn--bcher-kva.example"}
    assert Tenant.model_validate(manifest(owner=owner)).spec.owner.email == (
        "jane@xn--bcher-kva.example"
    )
