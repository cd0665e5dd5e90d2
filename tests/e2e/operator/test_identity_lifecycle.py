"""Attacks on the identity lifecycle: a retained slug and an owner change.

1. A Tenant deleted with deletionPolicy Retain keeps its rows, OpenBao namespace and
   owner account. Whoever creates a new Tenant under the same slug must not get them
   without an explicit adoption that names the retained tenant (and is audited).
2. Changing ``spec.owner`` to another email revokes the previous owner: no password
   hash, no invite left, the old invite's versions destroyed in OpenBao.
"""

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import hvac
import psycopg
import pytest
from psycopg import sql

from devenv.kube import KubeApi
from tenant_operator.domain.envelope import ACCOUNT_EMAIL, ACCOUNT_NAME, ORGANISATION
from tests.e2e.operator.conftest import DB, GROUP, VERSION, Stack, unique
from tests.support.chart import admission_policies

ADOPT = "integraci.io/adopt"
#: A bcrypt cost-12 hash as the application would store it (the CHECK wants this shape).
PASSWORD_HASH = "$2b$12$" + "C" * 53


def settled(stack: Stack, slug: str, timeout: float = 60) -> dict[str, Any]:
    """The Ready condition once the current generation was reconciled (True or False)."""

    def done() -> dict[str, Any] | None:
        tenant = stack.tenant(slug)
        ready = stack.condition(slug, "Ready")
        observed = (tenant.get("status") or {}).get("observedGeneration")
        if ready and ready["status"] != "Unknown" and observed == tenant["metadata"]["generation"]:
            return ready
        return None

    result: dict[str, Any] = stack.wait(f"tenant {slug} reconciled", done, timeout)
    return result


def registry(stack: Stack, slug: str) -> tuple[Any, ...]:
    """(id, organisation, plan, isolation, schema): the organisation opened (it is sealed)."""
    rows = stack.sql(
        "SELECT id, organisation, organisation_enc, plan, isolation, schema_name"
        " FROM integraci.tenants WHERE slug = %s",
        [slug],
    )
    assert len(rows) == 1
    tenant_id, plaintext, sealed, *rest = rows[0]
    assert plaintext is None
    return (tenant_id, opened(stack, tenant_id, sealed, ORGANISATION), *rest)


def opened(stack: Stack, tenant_id: uuid.UUID, blob: Any, column: str) -> str | None:
    return None if blob is None else stack.key_ring(tenant_id).open(bytes(blob), column)


def accounts(stack: Stack, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(id, email, name, is_owner, password_hash, invite digest, updated_at) by email,
    email and name opened (stored sealed only)."""
    rows = stack.sql(
        "SELECT id, email, name, email_enc, name_enc, is_owner, password_hash,"
        " invite_token_sha256, updated_at FROM integraci.accounts WHERE tenant_id = %s",
        [tenant_id],
    )
    assert all(email is None and name is None for _, email, name, *_ in rows)
    keys = stack.key_ring(tenant_id) if rows else None
    out = [
        (
            account_id,
            keys.open(bytes(email_enc), ACCOUNT_EMAIL) if keys else None,
            keys.open(bytes(name_enc), ACCOUNT_NAME) if keys else None,
            *rest,
        )
        for account_id, _, _, email_enc, name_enc, *rest in rows
    ]
    return sorted(out, key=lambda row: str(row[1]))


def invite_metadata(stack: Stack, slug: str) -> dict[str, Any]:
    answer = stack.bao_root(f"tenants/{slug}").adapter.get("/v1/kv/metadata/invites/owner")
    data: dict[str, Any] = answer["data"]
    return data


def invite_token(stack: Stack, slug: str, version: int | None = None) -> str | None:
    path = "/v1/kv/data/invites/owner" + (f"?version={version}" if version else "")
    try:
        answer = stack.bao_root(f"tenants/{slug}").adapter.get(path)
    except hvac.exceptions.InvalidPath:  # destroyed / deleted versions answer 404
        return None
    data = ((answer or {}).get("data") or {}).get("data") or {}
    token = data.get("token")
    return str(token) if token else None


def audit_entries(stack: Stack, slug: str) -> list[tuple[str, Any]]:
    return [
        (r[0], r[1])
        for r in stack.sql(
            "SELECT action, detail FROM integraci.audit_log WHERE chain = %s ORDER BY seq",
            [slug],
        )
    ]


def owner_password(stack: Stack, tenant_id: uuid.UUID) -> None:
    """What the application does when the owner accepts the invite and sets a password."""
    stack.sql(
        "UPDATE integraci.accounts SET password_hash = %s WHERE tenant_id = %s AND is_owner",
        [PASSWORD_HASH, tenant_id],
    )


def test_recreating_a_retained_slug_is_refused_until_adopted_by_id(stack: Stack) -> None:
    slug = unique("acme")
    stack.apply_tenant(slug, deletionPolicy="Retain")
    first_uid = stack.wait_ready(slug)["metadata"]["uid"]
    tenant_id, *_ = before_registry = registry(stack, slug)
    owner_password(stack, tenant_id)
    stack.sql(
        "INSERT INTO integraci.pipeline_runs (tenant_id, pipeline, status) VALUES (%s, 'ci', 'ok')",
        [tenant_id],
    )
    before_accounts = accounts(stack, tenant_id)
    before_invite = invite_metadata(stack, slug)
    before_token = invite_token(stack, slug)
    assert before_token is not None and before_accounts[0][4] == PASSWORD_HASH
    stack.delete_tenant(slug)
    stack.wait_gone(slug)

    # Someone else creates a Tenant under the retained slug.
    stack.apply_tenant(
        slug,
        organisation="Mallory Corp",
        owner={"name": "Mallory", "email": "mallory@evil.example"},
    )
    ready = settled(stack, slug)
    assert (ready["status"], ready["reason"]) == ("False", "RetainedTenantExists"), ready
    assert str(tenant_id) not in ready["message"] and ADOPT in ready["message"]  # id: a key
    stalled = stack.condition(slug, "Stalled")
    assert stalled and stalled["status"] == "True"
    retained = stack.sql(
        "SELECT k8s_uid::text, retained_at FROM integraci.tenants WHERE id = %s", [tenant_id]
    )
    assert retained[0][0] == first_uid and retained[0][1] is not None

    def untouched() -> None:
        assert registry(stack, slug) == before_registry
        assert accounts(stack, tenant_id) == before_accounts
        assert invite_metadata(stack, slug)["versions"] == before_invite["versions"]
        assert invite_token(stack, slug) == before_token
        runs = stack.sql(
            "SELECT count(*) FROM integraci.pipeline_runs WHERE tenant_id = %s", [tenant_id]
        )
        assert runs == [(1,)]
        status = stack.tenant(slug).get("status") or {}
        assert "secrets" not in status and "database" not in status

    untouched()

    # An adoption that names another tenant is refused the same way.
    wrong = str(uuid.uuid4())
    stack.patch_tenant(slug, {"metadata": {"annotations": {ADOPT: wrong}}})

    def refused_wrong() -> dict[str, Any] | None:
        ready = stack.condition(slug, "Ready")
        return ready if ready and wrong in ready["message"] else None

    ready = stack.wait("the wrong adoption refused", refused_wrong)
    assert (ready["status"], ready["reason"]) == ("False", "RetainedTenantExists")
    untouched()

    # The adoption that names the retained tenant goes through, and is audited.
    stack.patch_tenant(slug, {"metadata": {"annotations": {ADOPT: str(tenant_id)}}})
    adopted = stack.wait_ready(slug)
    new_uid = adopted["metadata"]["uid"]
    row = stack.sql(
        "SELECT k8s_uid::text, retained_at, organisation_enc FROM integraci.tenants WHERE id = %s",
        [tenant_id],
    )
    assert [r[:2] for r in row] == [(new_uid, None)]
    assert opened(stack, tenant_id, row[0][2], ORGANISATION) == "Mallory Corp"
    entries = audit_entries(stack, slug)
    adoption = [detail for action, detail in entries if action == "tenant.adopted"]
    assert len(adoption) == 1
    assert adoption[0]["previousUid"] == first_uid and adoption[0]["uid"] == new_uid
    assert adoption[0]["annotation"] == f"{ADOPT}={tenant_id}"
    # The new owner is a new account: the retained owner's credentials did not pass on.
    owners = [a for a in accounts(stack, tenant_id) if a[3]]
    assert [(o[1], o[4]) for o in owners] == [("mallory@evil.example", None)]
    assert all(a[4] is None for a in accounts(stack, tenant_id))


def test_registry_identity_is_held_by_the_engine(stack: Stack) -> None:
    slug = unique("uid")
    stack.apply_tenant(slug)
    uid = stack.wait_ready(slug)["metadata"]["uid"]
    tenant_id = registry(stack, slug)[0]
    settings = stack.settings
    with psycopg.connect(stack.pg.dsn(DB)) as conn:
        # The application role cannot even read the registry, let alone re-point it.
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(settings.app_role)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "UPDATE integraci.tenants SET k8s_uid = gen_random_uuid() WHERE id = %s",
                [tenant_id],
            )
        conn.rollback()
        # The operator's own role cannot hand a live tenant to another object, nor forget it.
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(settings.owner_role)))
        for change in ("k8s_uid = gen_random_uuid()", "k8s_uid = NULL"):
            with pytest.raises(psycopg.errors.RaiseException, match="adopt"):
                conn.execute(
                    sql.SQL("UPDATE integraci.tenants SET {} WHERE id = %s").format(
                        sql.SQL(change)
                    ),
                    [tenant_id],
                )
            conn.rollback()
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(settings.owner_role)))
        # Nor adopt a retained tenant without naming it.
        conn.execute("UPDATE integraci.tenants SET retained_at = now() WHERE id = %s", [tenant_id])
        with pytest.raises(psycopg.errors.RaiseException, match="adopt"):
            conn.execute(
                "UPDATE integraci.tenants SET k8s_uid = gen_random_uuid(), retained_at = NULL"
                " WHERE id = %s",
                [tenant_id],
            )
        conn.rollback()
    assert stack.sql(
        "SELECT k8s_uid::text, retained_at FROM integraci.tenants WHERE id = %s", [tenant_id]
    ) == [(uid, None)]


def test_owner_change_revokes_the_previous_owner(stack: Stack) -> None:
    slug = unique("owner")
    stack.apply_tenant(slug)
    stack.wait_ready(slug)
    tenant_id = registry(stack, slug)[0]
    owner_password(stack, tenant_id)
    old_token = invite_token(stack, slug)
    assert old_token is not None
    seen = len(audit_entries(stack, slug))

    # A name-only change keeps the owner's credentials.
    stack.patch_tenant(slug, {"spec": {"owner": {"name": "Jane Q. Roe"}}})
    stack.wait_ready(slug)
    (kept,) = accounts(stack, tenant_id)
    assert (kept[1], kept[2], kept[3], kept[4]) == (
        f"jane@{slug}.example",
        "Jane Q. Roe",
        True,
        PASSWORD_HASH,
    )
    assert invite_token(stack, slug) == old_token

    # Another email is another person: the previous owner is revoked.
    new_email = f"john@{slug}.example"
    stack.patch_tenant(slug, {"spec": {"owner": {"name": "John Doe", "email": new_email}}})
    stack.wait_ready(slug)
    rows = accounts(stack, tenant_id)
    assert [(r[1], r[3], r[4]) for r in rows] == [(new_email, True, None)]
    new_token = invite_token(stack, slug)
    assert new_token is not None and new_token != old_token
    assert bytes(rows[0][5]) == hashlib.sha256(new_token.encode()).digest()
    versions = invite_metadata(stack, slug)["versions"]
    for version, meta in versions.items():
        token = invite_token(stack, slug, int(version))
        assert token != old_token and (token == new_token or meta["destroyed"]), versions
    changed = [d for a, d in audit_entries(stack, slug)[seen:] if a == "tenant.owner.changed"]
    assert len(changed) == 1
    assert "@" not in str(changed[0]), changed  # no email in the audit detail


def test_deleting_a_refused_tenant_erases_nothing_of_the_retained_one(stack: Stack) -> None:
    """A Tenant under a retained slug with deletionPolicy Delete, deleted: the erasure must
    not reach the retained tenant's rows, OpenBao namespace, transit key or chain."""
    slug = unique("kept")
    stack.apply_tenant(slug, deletionPolicy="Retain", plan="team")
    stack.wait_ready(slug)
    tenant_id, *_ = before = registry(stack, slug)
    owners = accounts(stack, tenant_id)
    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    chain = audit_entries(stack, slug)
    stack.apply_tenant(slug, deletionPolicy="Delete", plan="team")
    settled(stack, slug)
    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    assert registry(stack, slug) == before
    assert accounts(stack, tenant_id) == owners and invite_token(stack, slug) is not None
    keys = stack.bao_root().secrets.transit.list_keys(mount_point="transit")["data"]["keys"]
    assert f"tenant-{slug}" in keys
    assert audit_entries(stack, slug) == chain


ADMINS, AUTHORS = "platform-admins", "tenant-authors"


def kubectl_as(kube: KubeApi, user: str, groups: list[str], *args: str, stdin: str = "") -> str:
    """Run kubectl as ``user`` in ``groups`` (impersonated); the stderr of a refusal, or ''."""
    who = [f"--as={user}", *(f"--as-group={g}" for g in groups)]
    done = kube.kubectl(*who, *args, stdin=stdin or None)
    return "" if done.returncode == 0 else done.stderr


@pytest.fixture
def adoption_policy(kube_api: KubeApi) -> Iterator[None]:
    """The chart's adoption policy (allowedGroups: platform-admins) and RBAC for authors."""
    docs = admission_policies({"adoption": {"allowedGroups": [ADMINS]}}, "-adoption")
    assert len(docs) == 2, "the chart renders no adoption policy"
    rbac = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "e2e-tenant-authors"},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["tenants"],
                    "verbs": ["get", "list", "create", "update", "patch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "e2e-tenant-authors"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "e2e-tenant-authors",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": AUTHORS}
            ],
        },
    ]
    manifest = "\n".join(json.dumps(d) for d in [*docs, *rbac])
    done = kube_api.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        kube_api.kubectl("delete", "--ignore-not-found", "-f", "-", stdin=manifest)


def test_only_the_allowed_groups_may_adopt(
    stack: Stack, kube_api: KubeApi, adoption_policy: None
) -> None:
    """With adoption.allowedGroups set, a Tenant author outside them cannot set or change
    integraci.io/adopt (at create or update), and no one can set a value that is no id."""
    slug = unique("vap")
    tenant_id = str(uuid.uuid4())

    def manifest(annotations: dict[str, str]) -> str:
        return json.dumps(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Tenant",
                "metadata": {"name": slug, "annotations": annotations},
                "spec": {
                    "organisation": "Vap Ltd",
                    "plan": "team",
                    "owner": {"name": "Jane Roe", "email": f"jane@{slug}.example"},
                },
            }
        )

    def refused_create() -> str:
        adopting = manifest({ADOPT: tenant_id})
        refusal = kubectl_as(
            kube_api, "bob", [AUTHORS], "create", "--dry-run=server", "-f", "-", stdin=adopting
        )
        return refusal if ADMINS in refusal else ""  # not the chart default's (system:masters)

    # The policy takes a moment to be enforced after it is created or changed.
    refusal = stack.wait("the adoption policy enforced", refused_create, timeout=30)
    assert "integraci.io/adopt" in refusal and ADMINS in refusal, refusal
    assert kubectl_as(kube_api, "bob", [AUTHORS], "create", "-f", "-", stdin=manifest({})) == ""
    patch = json.dumps({"metadata": {"annotations": {ADOPT: tenant_id}}})
    args = ("patch", "tenant", slug, "--type=merge", "-p", patch)
    refusal = kubectl_as(kube_api, "bob", [AUTHORS], *args)
    assert "integraci.io/adopt" in refusal, refusal
    assert ADOPT not in (stack.tenant(slug)["metadata"].get("annotations") or {})
    bad = json.dumps({"metadata": {"annotations": {ADOPT: "acme; DROP TABLE tenants"}}})
    refusal = kubectl_as(
        kube_api, "alice", [AUTHORS, ADMINS], "patch", "tenant", slug, "--type=merge", "-p", bad
    )
    assert "UUID" in refusal, refusal
    assert kubectl_as(kube_api, "alice", [AUTHORS, ADMINS], *args) == ""
    assert stack.tenant(slug)["metadata"]["annotations"][ADOPT] == tenant_id
    # Removing it (after the adoption) is anyone's; an unrelated change is not refused either.
    label = json.dumps({"metadata": {"labels": {"team": "x"}}})
    assert (
        kubectl_as(kube_api, "bob", [AUTHORS], "patch", "tenant", slug, "--type=merge", "-p", label)
        == ""
    )
    drop = json.dumps({"metadata": {"annotations": {ADOPT: None}}})
    assert (
        kubectl_as(kube_api, "bob", [AUTHORS], "patch", "tenant", slug, "--type=merge", "-p", drop)
        == ""
    )
