"""One read-compare-write path for every set of rows the operator owns.

A :class:`RowSet` declares a set of rows (a tenant's connectors, its sub-processor records,
a register entry), keyed by name: the statements that read, upsert and delete them, the
compared columns and how a change reads. :func:`sync` makes the stored rows equal the wanted ones,
writing only rows that differ, and returns what it changed, one human-readable line each.

It runs inside the caller's transaction (with the tenant context set where the rows are a
tenant's: RLS is FORCEd, so a declaration cannot reach another tenant's rows).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from psycopg import sql

from tenant_operator.adapters.postgres.session import Conn


class Named(Protocol):
    """A wanted row: its name is its key within the set."""

    @property
    def name(self) -> str: ...


R = TypeVar("R", bound=Named)


class Verbs(NamedTuple):
    """How a change of a row reads: ``"<verb> <noun> <key>"``."""

    added: str = "added"
    updated: str = "updated"
    removed: str = "removed"


DEFAULT_VERBS = Verbs()


@dataclass(frozen=True)
class RowSet(Generic[R]):
    """A set of rows, declared: its statements, scope, compared columns and wording.

    A row's key is its item's ``name``. ``select`` (params ``select_params``, by default the
    scope) yields ``(key, *compared columns)`` per stored row; ``upsert`` takes ``(*scope,
    key, *written(item))``; ``delete`` ``(*scope, key)``, and None means the set is not
    exhaustive (stored rows not wanted are left alone).
    ``compared(item)`` is the columns as the select reads them back; ``written(item)`` the
    same columns as the upsert takes them (a mapping wrapped as ``Jsonb``), by default the
    compared ones. ``note(item)`` is appended to an added or updated row's line.
    """

    noun: str
    select: sql.Composed
    upsert: sql.Composed
    delete: sql.Composed | None
    scope: Sequence[object]
    compared: Callable[[R], tuple[object, ...]]
    written: Callable[[R], tuple[object, ...]] | None = None
    note: Callable[[R], str] | None = None
    verbs: Verbs = DEFAULT_VERBS
    select_params: Sequence[object] | None = None

    def line(self, verb: str, key: str, item: R | None = None) -> str:
        note = self.note(item) if self.note is not None and item is not None else ""
        return f"{verb} {self.noun} {key}{note}"


async def sync(conn: Conn, rows: RowSet[R], wanted: Sequence[R]) -> tuple[str, ...]:
    """Read the stored rows, upsert the wanted ones that differ, delete the unwanted."""
    params = rows.scope if rows.select_params is None else rows.select_params
    cur = await conn.execute(rows.select, params)
    have = {row[0]: tuple(row[1:]) for row in await cur.fetchall()}
    written = rows.written or rows.compared
    changed: list[str] = []
    for item in wanted:
        key = item.name
        if have.get(key) == rows.compared(item):
            continue
        await conn.execute(rows.upsert, [*rows.scope, key, *written(item)])
        verb = rows.verbs.updated if key in have else rows.verbs.added
        changed.append(rows.line(verb, key, item))
    if rows.delete is not None:
        for key in sorted(set(have) - {item.name for item in wanted}):
            await conn.execute(rows.delete, [*rows.scope, key])
            changed.append(rows.line(rows.verbs.removed, key))
    return tuple(changed)
