"""The desired-object list of a tenant's tables: which tables, and what each must be."""

import uuid

import pytest

from tenant_operator.adapters.postgres.objects import (
    FAIL_CLOSED_POLICY,
    TenantTable,
    entry_of,
    tenant_tables,
)
from tenant_operator.adapters.postgres.statements.common import (
    POLICY_NAME,
    TEMPLATE_TABLES,
    Names,
    app_grants,
    repair_table,
)
from tenant_operator.adapters.postgres.statements.template import tenant_check_definition

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
PLATFORM_TABLES = [*TEMPLATE_TABLES, "subprocessor_records", "tenant_keys"]


def test_a_shared_tenant_rests_on_the_platform_tables_with_their_grants() -> None:
    tables = tenant_tables("p", TENANT, None, None)
    assert [(t.schema, t.name) for t in tables] == [("p", name) for name in PLATFORM_TABLES]
    assert all(t.grants and t.check is None for t in tables)


@pytest.mark.parametrize(("version", "grants"), [(1, False), (2, False), (3, True), (4, True)])
def test_a_schema_tenant_adds_its_schema_bound_to_it_from_v3(version: int, grants: bool) -> None:
    tables = tenant_tables("p", TENANT, "t_x", version)
    own = [t for t in tables if t.schema == "t_x"]
    assert [t.name for t in own] == list(TEMPLATE_TABLES)
    check = tenant_check_definition(TENANT, version) if grants else None
    assert all(t.grants is grants and t.check == check for t in own)
    assert [t for t in tables if t.schema == "p"] == list(tenant_tables("p", TENANT, None, None))


def test_an_unknown_table_needs_rls_and_keeps_the_schemas_grant_rules() -> None:
    tables = tenant_tables("p", TENANT, "t_x", 2)
    assert entry_of(tables, "t_x", "connectors") in tables
    assert entry_of(tables, "t_x", "extra") == TenantTable(
        "t_x", "extra", grants=False, sealed=False
    )
    assert entry_of(tables, "p", "extra") == TenantTable("p", "extra", grants=True)
    stray = entry_of(tables, "p", "subprocessor_records")
    assert stray.denied and entry_of(tables, "t_x", "subprocessor_records").denied == ()


def test_what_the_application_role_must_not_do() -> None:
    rel = "p.connectors"
    assert [d.problem(rel) for d in TenantTable("p", "connectors", grants=True).denied] == [
        f"{rel}: the application role can {p} (operator-managed rows)"
        for p in ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
    ]
    assert [d.problem("p.accounts") for d in TenantTable("p", "accounts", True).denied] == [
        "p.accounts.is_owner: the application role can INSERT the owner flag",
        "p.accounts.is_owner: the application role can UPDATE the owner flag",
        "p.accounts.email: the application role can INSERT personal data in plaintext",
        "p.accounts.email: the application role can UPDATE personal data in plaintext",
        "p.accounts.name: the application role can INSERT personal data in plaintext",
        "p.accounts.name: the application role can UPDATE personal data in plaintext",
    ]
    before_v5 = TenantTable("p", "accounts", True, sealed=False).denied
    assert [d.column for d in before_v5] == ["is_owner", "is_owner"]
    assert TenantTable("p", "pipeline_runs", grants=True).denied == ()
    assert TenantTable("p", "connectors", grants=False).denied == ()


def test_the_statements_recreate_rls_and_the_grants_where_they_apply() -> None:
    names = Names("p", "o", "a")
    with_grants = TenantTable("s", "accounts", grants=True).statements(names)
    assert with_grants == repair_table(names, "s", "accounts") + app_grants(names, "s", "accounts")
    assert TenantTable("s", "accounts").statements(names) == repair_table(names, "s", "accounts")


def test_rls_differences_are_reported_per_table() -> None:
    table = TenantTable("s", "accounts")
    assert table.rls_problems(True, True, [FAIL_CLOSED_POLICY]) == []
    leak = ("leak", *FAIL_CLOSED_POLICY[1:])
    assert table.rls_problems(False, False, [FAIL_CLOSED_POLICY, leak]) == [
        "s.accounts: row level security is not enabled",
        "s.accounts: row level security is not forced",
        f"s.accounts: expected exactly the fail-closed policy {POLICY_NAME} "
        f"(found: {POLICY_NAME}, leak, or it differs)",
    ]
    assert table.rls_problems(True, True, [])[0].endswith("(found: none, or it differs)")
