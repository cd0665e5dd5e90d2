"""What a tenant's tables must be: the one list repair writes and the verifier compares.

Each :class:`TenantTable` says what one table the tenant's isolation rests on must be: RLS
enabled and forced, exactly the fail-closed policy, the application role's grants (and what
it must therefore be unable to do), and, in a ``schema``-tier schema, the CHECK binding its
rows to the tenant. :func:`tenant_tables` lists them for a tenant; ``repair_isolation``
writes each entry's :meth:`~TenantTable.statements`, ``verify_isolation`` reports each
table's differences from the same entry. The template (the versioned steps that build a
schema, :mod:`.statements.template`) renders its tables with the same builders
(``tenant_table``, ``app_grants``); its steps stay fixed once applied, so they are not
derived from this list.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from tenant_operator.adapters.postgres.statements.common import (
    ACCOUNT_PLAINTEXT_COLUMNS,
    OPERATOR_MANAGED_TABLES,
    PLATFORM_TENANT_TABLES,
    POLICY_EXPRESSION,
    POLICY_NAME,
    TEMPLATE_TABLES,
    Names,
    app_grants,
    repair_table,
)
from tenant_operator.adapters.postgres.statements.template import tenant_check_definition

#: The fail-closed policy as ``pg_policies`` shows it (name, permissive, roles, command,
#: USING, WITH CHECK): what :func:`~.statements.common.tenant_table` creates.
FAIL_CLOSED_POLICY = (
    POLICY_NAME,
    "PERMISSIVE",
    ["public"],
    "ALL",
    POLICY_EXPRESSION,
    POLICY_EXPRESSION,
)


@dataclass(frozen=True)
class Denied:
    """A privilege the application role must not have: on the table, or on ``column``."""

    privilege: str
    column: str | None
    what: str

    def problem(self, rel: str) -> str:
        where = rel if self.column is None else f"{rel}.{self.column}"
        return f"{where}: the application role can {self.privilege} {self.what}"


def app_denied(table: str, *, sealed: bool = True) -> tuple[Denied, ...]:
    """What :func:`~.statements.common.app_grants` leaves the application role unable to
    do that the verifier proves: write operator-managed rows, set the owner flag and (from
    template v5, ``sealed``) write personal data in plaintext."""
    if table in OPERATOR_MANAGED_TABLES:
        return tuple(
            Denied(privilege, None, "(operator-managed rows)")
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
        )
    if table == "accounts":
        plaintext = ACCOUNT_PLAINTEXT_COLUMNS if sealed else ()
        return tuple(
            Denied(privilege, "is_owner", "the owner flag") for privilege in ("INSERT", "UPDATE")
        ) + tuple(
            Denied(privilege, column, "personal data in plaintext")
            for column in plaintext
            for privilege in ("INSERT", "UPDATE")
        )
    return ()


@dataclass(frozen=True)
class TenantTable:
    """One tenant table as it must be.

    ``grants``: the application role's grants of template v3 (platform v4) apply (a staged
    ``schema``-tier schema may be older); ``sealed``: those of template v5 (no plaintext
    personal data). ``check``: the CHECK binding its rows to the
    tenant as ``pg_get_constraintdef`` shows it, None where there is none (the platform
    schema, shared by the ``shared`` tenants; a schema before v3; a table not in the
    template). A table the verifier finds that the list does not know: :func:`entry_of`.
    """

    schema: str
    name: str
    grants: bool = False
    check: str | None = None
    sealed: bool = True

    @property
    def where(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def denied(self) -> tuple[Denied, ...]:
        return app_denied(self.name, sealed=self.sealed) if self.grants else ()

    def statements(self, names: Names) -> tuple[sql.Composed, ...]:
        """Write it: ENABLE + FORCE, the fail-closed policy recreated, the grants."""
        grants = (
            app_grants(names, self.schema, self.name, sealed=self.sealed) if self.grants else ()
        )
        return repair_table(names, self.schema, self.name) + grants

    def rls_problems(
        self, enabled: bool, forced: bool, policies: Sequence[tuple[object, ...]]
    ) -> list[str]:
        """How its RLS, as the catalog shows it, differs from what it must be."""
        problems = []
        if not enabled:
            problems.append(f"{self.where}: row level security is not enabled")
        if not forced:
            problems.append(f"{self.where}: row level security is not forced")
        if [tuple(p) for p in policies] != [FAIL_CLOSED_POLICY]:
            found = ", ".join(str(p[0]) for p in policies) or "none"
            problems.append(
                f"{self.where}: expected exactly the fail-closed policy {POLICY_NAME} "
                f"(found: {found}, or it differs)"
            )
        return problems


def tenant_tables(
    platform: str, tenant_id: uuid.UUID, schema: str | None, version: int | None
) -> tuple[TenantTable, ...]:
    """The tables a tenant's isolation rests on: the platform schema's tenant tables (the
    ``shared`` tier's rows, the sub-processor records of both tiers; always at the newest
    template), then, for the ``schema`` tier, those of its schema at ``version``."""
    shared = tuple(
        TenantTable(platform, table, grants=True)
        for table in (*TEMPLATE_TABLES, *PLATFORM_TENANT_TABLES)
    )
    if schema is None:
        return shared
    grants = (version or 0) >= 3  # template v3 brought the grants and CHECKs
    check = tenant_check_definition(tenant_id, version or 3) if grants else None
    sealed = (version or 0) >= 5  # template v5 sealed personal data
    return shared + tuple(
        TenantTable(schema, table, grants=grants, check=check, sealed=sealed)
        for table in TEMPLATE_TABLES
    )


def entry_of(tables: Sequence[TenantTable], schema: str, name: str) -> TenantTable:
    """The entry of a table the verifier found in ``schema``. One the list does not know (not
    in the template) still needs RLS and, where the grants apply, the application role must
    still be unable to write it if its name is an operator-managed table's."""
    for table in tables:
        if (table.schema, table.name) == (schema, name):
            return table
    grants = any(table.grants for table in tables if table.schema == schema)
    sealed = all(table.sealed for table in tables if table.schema == schema)
    return TenantTable(schema, name, grants=grants, sealed=sealed)
