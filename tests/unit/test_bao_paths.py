"""Pure path builders and renderers of the OpenBao adapter."""

import pytest

from tenant_operator.adapters.openbao.hcl import MOUNT, EachName, Rule, render_rules
from tenant_operator.adapters.openbao.paths import (
    build_platform_paths,
    build_tenant_paths,
    parse_ref,
)
from tenant_operator.adapters.openbao.policies import (
    POLICY_FILES,
    render_operator_policy,
    render_tenant_policy,
)
from tenant_operator.adapters.openbao.routing import connector_problem, content_digest, kv_payload
from tenant_operator.domain.errors import PermanentError
from tenant_operator.settings import Settings


@pytest.mark.parametrize(
    ("layout", "namespace", "expected"),
    [
        ("namespace", None, ("tenants/acme", "kv", "tenant", "tenant")),
        ("namespace", "platform/eu", ("platform/eu/tenants/acme", "kv", "tenant", "tenant")),
        ("mount", None, (None, "tenants/acme", "tenant-acme", "tenant-acme")),
        ("mount", "eu", ("eu", "tenants/acme", "tenant-acme", "tenant-acme")),
    ],
)
def test_tenant_paths_per_layout(
    layout: str, namespace: str | None, expected: tuple[str | None, str, str, str]
) -> None:
    paths = build_tenant_paths(Settings(secrets_layout=layout, bao_namespace=namespace), "acme")
    assert (paths.namespace, paths.mount, paths.policy, paths.auth_role) == expected
    assert (paths.transit_key, paths.transit_namespace) == ("tenant-acme", namespace)


@pytest.mark.parametrize(
    "bad", ["..", "a/b", "a%2fb", "ácme", "\u0430cme", "", "A", "-a", "a" * 41, "a\n"]
)
def test_hostile_slugs_are_refused(bad: str) -> None:
    for layout in ("namespace", "mount"):
        with pytest.raises(PermanentError):
            build_tenant_paths(Settings(secrets_layout=layout), bad)
    if len(bad) <= 63 and bad.islower() and bad.isascii() and bad.isalpha():
        return  # a long slug is still a valid connector name
    with pytest.raises(PermanentError):
        build_tenant_paths(Settings(), "acme").connector_key(bad)


def test_reserved_namespace_names_are_refused_only_where_they_name_a_namespace() -> None:
    with pytest.raises(PermanentError, match="reserved") as refused:
        build_tenant_paths(Settings(secrets_layout="namespace"), "sys")
    assert refused.value.reason == "SlugReserved"
    assert build_tenant_paths(Settings(secrets_layout="mount"), "sys").mount == "tenants/sys"


def test_slugs_deriving_the_operators_own_names_are_refused_in_the_mount_layout() -> None:
    mount = Settings(secrets_layout="mount", bao_auth_role="tenant-login")
    for slug in ("operator", "login"):
        with pytest.raises(PermanentError, match="operator's own") as refused:
            build_tenant_paths(mount, slug)
        assert refused.value.reason == "SlugReserved"
    assert build_tenant_paths(Settings(secrets_layout="namespace"), "operator").policy == "tenant"


@pytest.mark.parametrize(
    ("layout", "namespace", "ref"),
    [
        ("namespace", None, "openbao://tenants/acme/kv/connectors/github"),
        ("namespace", "eu", "openbao://eu/tenants/acme/kv/connectors/github"),
        ("mount", None, "openbao:///tenants%2Facme/connectors/github"),
        ("mount", "eu", "openbao://eu/tenants%2Facme/connectors/github"),
    ],
)
def test_refs_are_unambiguous_and_parse_back(layout: str, namespace: str | None, ref: str) -> None:
    paths = build_tenant_paths(Settings(secrets_layout=layout, bao_namespace=namespace), "acme")
    assert paths.ref(paths.connector_key("github")) == ref
    assert parse_ref(ref) == (paths.namespace, paths.mount, "connectors/github")


def test_tenant_policy_reaches_only_its_mount() -> None:
    for layout, mount in (("namespace", "kv"), ("mount", "tenants/acme")):
        text = render_tenant_policy(build_tenant_paths(Settings(secrets_layout=layout), "acme"))
        paths = [line.split('"')[1] for line in text.splitlines() if line.startswith("path ")]
        token_self = {"auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self"}
        assert [p for p in paths if p not in token_self] == [
            p for p in paths if p.startswith(f"{mount}/") and p != f"{mount}/config"
        ]
        assert f"{mount}/*" not in paths  # no config of the mount, no unknown endpoint
        assert f'path "{mount}/data/invites/*" {{\n  capabilities = ["deny"]' in text
        assert f'path "{mount}/data/connectors/*" {{\n  capabilities = ["read"]' in text


@pytest.mark.parametrize("layout", ["namespace", "mount"])
def test_shipped_operator_policy_matches_the_renderer(layout: str) -> None:
    settings = Settings(secrets_layout=layout)
    rendered = render_operator_policy(build_platform_paths(settings), settings.kv_mount)
    assert POLICY_FILES[layout].read_text() == rendered
    assert "CANNOT" in rendered
    # Values are write-only: no path under data/ grants read, except the audit heads.
    blocks = rendered.split("path ")[1:]
    for block in blocks:
        if "/data/" in block.splitlines()[0] and "audit" not in block.splitlines()[0]:
            assert '"read"' not in block


def test_policy_rules_render_per_layout_and_per_name() -> None:
    table = (
        Rule("{m}/data/*", ("read",), "Reads of {m}."),
        Rule("sys/{m}", ("deny",), layouts=MOUNT),
        EachName((Rule("a/{name}", ("deny",), "{name!r}"), Rule("b/{name}", ("update",)))),
    )
    assert render_rules(table, {"m": "kv"}, "namespace", names=("x", "y")) == (
        '# Reads of kv.\npath "kv/data/*" {\n  capabilities = ["read"]\n}\n'
        + '# \'x\'\npath "a/x" {\n  capabilities = ["deny"]\n}\n'
        + 'path "b/x" {\n  capabilities = ["update"]\n}\n'
        + '# \'y\'\npath "a/y" {\n  capabilities = ["deny"]\n}\n'
        + 'path "b/y" {\n  capabilities = ["update"]\n}\n'
    )
    spaced = render_rules(table[:2], {"m": "kv"}, "mount", separator="\n")
    assert spaced.count("path ") == 2 and '}\n\npath "sys/kv"' in spaced


def test_content_digest_is_canonical_and_payload_keeps_text() -> None:
    assert content_digest({"a": b"1", "b": "2"}) == content_digest({"b": b"2", "a": "1"})
    assert content_digest({"a": b"1"}) != content_digest({"a": b"2"})
    assert kv_payload({"t": b"x", "bin": b"\xff"}) == ({"t": "x", "bin": "/w=="}, ["bin"])
    with pytest.raises(PermanentError):
        kv_payload({"../x": "v"})


def _meta(current: int, custom: dict[str, str], **live: object) -> dict[str, object]:
    return {
        "data": {
            "current_version": current,
            "versions": {str(current): {"deletion_time": "", "destroyed": False, **live}},
            "custom_metadata": custom,
        }
    }


def test_a_connector_counts_as_ours_only_at_the_version_its_hash_was_written_for() -> None:
    ours = {"content-sha256": "h", "content-version": "2"}
    key = "connectors/github"
    assert connector_problem(_meta(2, ours), key) is None
    assert connector_problem(_meta(2, {"content-sha256": "h"}), key) is None  # adopted later
    changed = f"connector secret {key} was changed outside the operator"
    assert connector_problem(_meta(3, ours), key) == changed
    assert connector_problem(_meta(2, ours, destroyed=True), key) == changed
    assert connector_problem(_meta(2, ours, deletion_time="2026-01-01T00:00:00Z"), key) == changed
    assert connector_problem(_meta(2, {"content-version": "2"}), key) == changed
    assert connector_problem(None, key) == f"connector secret {key} is missing"


def test_tenant_token_ttl_must_fit_its_maximum() -> None:
    with pytest.raises(ValueError, match="tenant_token_max_ttl_seconds"):
        Settings(tenant_token_ttl_seconds=7200, tenant_token_max_ttl_seconds=3600)
