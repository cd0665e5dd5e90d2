"""Invalid Tenants are refused by the real apiserver, with messages a user can act on.

Objects go through the built kubectl (what a user or a GitOps pipeline runs), so the
assertions are on the exact text a person sees. No operator runs here: the CRD schema and
its CEL rules alone do the refusing.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devenv.kube import KubeApi
from tests.support.tenants import tenant_manifest as tenant

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "integraci.io", "v1alpha1", "tenants"


def create(kube: KubeApi, body: dict[str, Any]) -> tuple[int, str]:
    result = kube.kubectl("create", "-f", "-", stdin=json.dumps(body))
    return result.returncode, result.stderr


@pytest.fixture
def slug(kube_api: KubeApi, crds: list[Path]) -> Iterator[str]:
    """A unique tenant name, deleted after the test (Tenants are cluster-scoped)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    yield name
    kube_api.kubectl("delete", "tenant", name, "--ignore-not-found", "--wait=false")


def test_a_valid_tenant_is_accepted(kube_api: KubeApi, slug: str) -> None:
    code, stderr = create(kube_api, tenant(slug))

    assert code == 0, stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "acme.corp",
            'metadata.name: Invalid value: "acme.corp": metadata.name in body should match '
            "'^[a-z]([-a-z0-9]*[a-z0-9])?$'",
            id="dot-in-slug",
        ),
        pytest.param(
            "a" * 41,
            "metadata.name: Too long: may not be more than 40 bytes",
            id="slug-over-40-chars",
        ),
        pytest.param(
            "Acme",
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
            id="uppercase-slug",
        ),
    ],
)
def test_a_bad_slug_is_rejected(
    kube_api: KubeApi, crds: list[Path], name: str, expected: str
) -> None:
    code, stderr = create(kube_api, tenant(name))

    assert code != 0
    assert expected in stderr


def test_an_unknown_plan_is_rejected_naming_the_allowed_values(
    kube_api: KubeApi, slug: str
) -> None:
    code, stderr = create(kube_api, tenant(slug, plan="gold"))

    assert code != 0
    assert (
        'spec.plan: Unsupported value: "gold": supported values: "free", "team", "enterprise"'
        in stderr
    )


def test_an_unknown_field_is_rejected_not_silently_dropped(kube_api: KubeApi, slug: str) -> None:
    code, stderr = create(kube_api, tenant(slug, colour="blue"))

    assert code != 0
    assert 'unknown field "spec.colour"' in stderr


def test_an_unknown_field_is_rejected_through_the_api_with_strict_validation(
    api_client: Any, slug: str
) -> None:
    custom = client.CustomObjectsApi(api_client)

    with pytest.raises(ApiException) as refused:
        custom.create_cluster_custom_object(
            GROUP, VERSION, PLURAL, tenant(slug, colour="blue"), field_validation="Strict"
        )

    assert refused.value.status == 400
    assert 'unknown field "spec.colour"' in json.loads(refused.value.body)["message"]


def test_a_bad_connector_name_is_rejected(kube_api: KubeApi, slug: str) -> None:
    connector = {
        "name": "GitHub_Main",
        "type": "github",
        "secretRef": {"namespace": "tenants", "name": "acme-github"},
    }

    code, stderr = create(kube_api, tenant(slug, connectors=[connector]))

    assert code != 0
    assert 'spec.connectors[0].name: Invalid value: "GitHub_Main"' in stderr


def test_an_invalid_owner_email_is_rejected(kube_api: KubeApi, slug: str) -> None:
    code, stderr = create(
        kube_api, tenant(slug, owner={"name": "Jane Roe", "email": "not-an-email"})
    )

    assert code != 0
    assert 'spec.owner.email: Invalid value: "not-an-email"' in stderr


def test_a_missing_organisation_is_rejected(kube_api: KubeApi, slug: str) -> None:
    body = tenant(slug)
    del body["spec"]["organisation"]

    code, stderr = create(kube_api, body)

    assert code != 0
    assert "spec.organisation: Required value" in stderr


ISOLATION_FIXED = (
    "isolation cannot be changed or removed once set: create a new Tenant and migrate instead"
)


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param({"spec": {"isolation": "schema"}}, id="changed"),
        pytest.param({"spec": {"isolation": None}}, id="removed"),
    ],
)
def test_isolation_cannot_change_after_creation(
    kube_api: KubeApi, slug: str, patch: dict[str, Any]
) -> None:
    code, stderr = create(kube_api, tenant(slug, isolation="shared"))
    assert code == 0, stderr

    result = kube_api.kubectl("patch", "tenant", slug, "--type=merge", "-p", json.dumps(patch))

    assert result.returncode != 0
    assert f"spec.isolation: Forbidden: {ISOLATION_FIXED}" in result.stderr
    current = kube_api.kubectl("get", "tenant", slug, "-o", "jsonpath={.spec.isolation}")
    assert current.stdout == "shared"


def test_other_fields_stay_editable_once_isolation_is_set(kube_api: KubeApi, slug: str) -> None:
    code, stderr = create(kube_api, tenant(slug, isolation="shared"))
    assert code == 0, stderr

    result = kube_api.kubectl(
        "patch", "tenant", slug, "--type=merge", "-p", json.dumps({"spec": {"plan": "free"}})
    )

    assert result.returncode == 0, result.stderr


# Names that collide: a slug whose derived names are someone else's is refused by the CRD's
# CEL rule (the static list: OpenBao's reserved names and those the default settings derive;
# the chart's ValidatingAdmissionPolicy adds the ones of an install's own values).
@pytest.mark.parametrize(
    ("name", "collides"),
    [
        pytest.param("secrets", "tenant-secrets", id="workload-namespace-is-the-secret-namespace"),
        pytest.param("operator", "tenant-operator", id="operator-policy-and-role"),
        pytest.param("cubbyhole", "reserved by OpenBao", id="openbao-cubbyhole"),
        pytest.param("sys", "reserved by OpenBao", id="openbao-sys"),
        pytest.param("identity", "reserved by OpenBao", id="openbao-identity"),
    ],
)
def test_a_slug_whose_derived_names_collide_is_refused(
    kube_api: KubeApi, crds: list[Path], name: str, collides: str
) -> None:
    try:
        code, stderr = create(kube_api, tenant(name))
    finally:
        kube_api.kubectl("delete", "tenant", name, "--ignore-not-found", "--wait=false")

    assert code != 0, f"Tenant {name} was admitted"
    assert f"tenant slug {name} is reserved" in stderr
    assert collides in stderr
    assert "choose another name" in stderr
    gone = kube_api.kubectl("get", "tenant", name, "--ignore-not-found", "-o", "name")
    assert gone.stdout.strip() == ""


# Hostile text: bidi overrides, zero-width and other format/control characters, and
# internationalised email domains that are not written as IDNA A-labels.
@pytest.mark.parametrize(
    ("field", "spec", "expected"),
    [
        pytest.param(
            "spec.organisation",
            {"organisation": "Acme \u202eLtd"},
            "spec.organisation: Invalid value",
            id="bidi-override-in-organisation",
        ),
        pytest.param(
            "spec.organisation",
            {"organisation": "Acme\u2028Ltd"},
            "spec.organisation: Invalid value",
            id="line-separator-in-organisation",
        ),
        pytest.param(
            "spec.owner.name",
            {"owner": {"name": "Jane\u200bRoe", "email": "jane@acme.example"}},
            "spec.owner.name: Invalid value",
            id="zero-width-space-in-owner-name",
        ),
        pytest.param(
            "spec.owner.name",
            {"owner": {"name": "Jane\u2066Roe\u2069", "email": "jane@acme.example"}},
            "spec.owner.name: Invalid value",
            id="bidi-isolate-in-owner-name",
        ),
        pytest.param(
            "spec.owner.name",
            {"owner": {"name": "Jane\u0085Roe", "email": "jane@acme.example"}},
            "spec.owner.name: Invalid value",
            id="c1-control-in-owner-name",
        ),
        pytest.param(
            "spec.connectors[0].config.url",
            {
                "connectors": [
                    {
                        "name": "github",
                        "type": "github",
                        "config": {"url": "https://github.com/\u202eacme"},
                        "secretRef": {"namespace": "tenant-secrets", "name": "acme-github"},
                    }
                ]
            },
            "spec.connectors[0].config[url]: Invalid value",
            id="bidi-override-in-connector-config",
        ),
    ],
)
def test_format_and_control_characters_are_refused(
    kube_api: KubeApi, slug: str, field: str, spec: dict[str, Any], expected: str
) -> None:
    code, stderr = create(kube_api, tenant(slug, **spec))

    assert code != 0, f"a Tenant with a format/control character in {field} was admitted"
    assert expected in stderr
    assert "format or control character" in stderr


def test_a_unicode_email_domain_is_refused_asking_for_its_a_label(
    kube_api: KubeApi, slug: str
) -> None:
    owner = {"name": "Jane Roe", "email": "jane@b\u00fccher.example"}

    code, stderr = create(kube_api, tenant(slug, owner=owner))

    assert code != 0, "a Tenant with a Unicode email domain was admitted"
    assert "spec.owner.email: Invalid value" in stderr
    assert "IDNA A-label" in stderr and "xn--" in stderr


def test_an_idna_a_label_email_and_plain_unicode_text_are_accepted(
    kube_api: KubeApi, slug: str
) -> None:
    owner = {
        "name": "Zo\u00eb \u5c71\u7530 O'Brien-M\u00fcller",
        "email": "jane@xn--bcher-kva.example",
    }
    organisation = "B\u00fccher & S\u00f6hne GmbH"

    code, stderr = create(kube_api, tenant(slug, organisation=organisation, owner=owner))

    assert code == 0, stderr
