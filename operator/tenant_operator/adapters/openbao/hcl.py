"""ACL policies as data: a table of :class:`Rule` rows rendered to HCL by :func:`render_rules`.

A rule's ``path`` and ``comment`` are ``str.format`` templates over the fields the policy
passes in (mount names, prefixes), so the table holds no name the settings decide, and
``layouts`` says which secrets layouts a rule belongs to. Pure.
"""

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from tenant_operator.adapters.openbao.paths import Layout

BOTH: tuple[Layout, ...] = ("namespace", "mount")
NAMESPACE: tuple[Layout, ...] = ("namespace",)
MOUNT: tuple[Layout, ...] = ("mount",)

READ = ("read",)
UPDATE = ("update",)
DENY = ("deny",)
WRITE = ("create", "update")
CRU = ("create", "read", "update")
CRUD = ("create", "read", "update", "delete")


@dataclass(frozen=True)
class Rule:
    """One ``path`` block, with its ``comment`` line above it when one is set."""

    path: str
    capabilities: tuple[str, ...]
    comment: str = ""
    layouts: tuple[Layout, ...] = BOTH


@dataclass(frozen=True)
class EachName:
    """Rules repeated, in order, for each of the names the renderer is given (field ``name``)."""

    rules: tuple[Rule, ...]


def _bound(
    table: Iterable[Rule | EachName], names: Sequence[str]
) -> Iterator[tuple[Rule, dict[str, str]]]:
    for entry in table:
        if isinstance(entry, Rule):
            yield entry, {}
            continue
        for name in names:
            for rule in entry.rules:
                yield rule, {"name": name}


@cache
def _capabilities(capabilities: tuple[str, ...]) -> str:
    return json.dumps(list(capabilities))


def render_rules(
    table: Iterable[Rule | EachName],
    fields: Mapping[str, str],
    layout: Layout,
    *,
    names: Sequence[str] = (),
    separator: str = "",
) -> str:
    """The HCL blocks of the rules in ``table`` for ``layout``, ``separator`` between them."""
    blocks = []
    for rule, extra in _bound(table, names):
        if layout not in rule.layouts:
            continue
        values = {**fields, **extra} if extra else fields
        comment = f"# {rule.comment.format_map(values)}\n" if rule.comment else ""
        blocks.append(
            f'{comment}path "{rule.path.format_map(values)}" {{\n'
            f"  capabilities = {_capabilities(rule.capabilities)}\n}}\n"
        )
    return separator.join(blocks)
