"""The vocabulary is declared once: no reason, state, plan or condition-type literal elsewhere.

Every plan, deletion policy, sub-processor state, condition type and condition reason is a
member of a StrEnum in ``tenant_operator.domain.vocabulary``; the rest of the package uses
the members. These tests read the package's source and fail, naming file and line, on a
literal that restates one (``reason="InvalidSpec"``, ``"PendingNotice"``, ``"enterprise"``).
"""

import ast
import re
from enum import StrEnum
from pathlib import Path

import pytest

import tenant_operator
from tenant_operator.adapters.postgres.statements import common
from tenant_operator.api import tenant as api_tenant
from tenant_operator.domain import conditions as cond
from tenant_operator.domain import vocabulary as v

PACKAGE = Path(tenant_operator.__file__).parent
VOCABULARY = Path(v.__file__)
#: Isolation is left out of the literal scan: "schema" is also a field and identifier word.
SCANNED: tuple[type[StrEnum], ...] = (
    v.Plan,
    v.DeletionPolicy,
    v.SubProcessorState,
    v.ConditionType,
    v.Reason,
)
WORDS = {member.value: f"{enum.__name__}.{member.name}" for enum in SCANNED for member in enum}


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != VOCABULARY)


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', '?')}"


def test_the_scan_sees_the_package() -> None:
    assert len(sources()) > 50
    assert VOCABULARY not in sources()


def test_no_vocabulary_literal_outside_the_vocabulary_module() -> None:
    found = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in WORDS
            ):
                found.append(f"{where(path, node)}: {node.value!r} (use {WORDS[node.value]})")
    assert not found, "vocabulary literals outside domain/vocabulary.py:\n" + "\n".join(found)


def test_no_reason_keyword_takes_a_literal() -> None:
    """``reason=`` is given a member, never a string (not even a reason new to the enum)."""
    found = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            literal = isinstance(node, ast.keyword) and isinstance(
                node.value, ast.Constant | ast.JoinedStr
            )
            if literal and isinstance(node, ast.keyword) and node.arg == "reason":
                found.append(f"{where(path, node.value)}: reason={ast.unparse(node.value)}")
    assert not found, "reason= with a literal:\n" + "\n".join(found)


def test_grep_finds_no_reason_literal() -> None:
    """The issue's check, as text: ``grep 'reason="[A-Z]'`` outside the vocabulary module."""
    pattern = re.compile(r"""reason\s*=\s*["'][A-Z]""")
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("enum", [*SCANNED, v.Isolation], ids=lambda e: e.__name__)
def test_members_are_unique_and_reasons_camel_case(enum: type[StrEnum]) -> None:
    values = [m.value for m in enum.__members__.values()]  # aliases included
    assert len(values) == len(set(values))
    if enum in (v.ConditionType, v.Reason):
        assert all(re.fullmatch(r"[A-Z][A-Za-z]*", value) for value in values)


def test_api_uses_the_vocabulary_enums() -> None:
    assert api_tenant.Plan is v.Plan
    assert api_tenant.Isolation is v.Isolation
    assert api_tenant.DeletionPolicy is v.DeletionPolicy
    assert api_tenant.SubProcessorState is v.SubProcessorState


def test_aspects_are_condition_types_in_one_order() -> None:
    assert set(cond.ASPECTS) < set(v.ConditionType)
    summary = {v.ConditionType.READY, v.ConditionType.RECONCILING, v.ConditionType.STALLED}
    requests = {v.ConditionType.COMPLETED, v.ConditionType.OVERDUE}  # TenantDataRequest's
    assert set(cond.ASPECTS) | summary | requests == set(v.ConditionType)


def test_the_deparsed_policy_names_the_context_setting() -> None:
    """POLICY_EXPRESSION is PostgreSQL's deparsed text, so it spells the setting out."""
    assert common.CONTEXT_SETTING == v.TENANT_CONTEXT_SETTING
    assert f"current_setting('{v.TENANT_CONTEXT_SETTING}'::text, true)" in common.POLICY_EXPRESSION
