"""User-chosen list order, done in SQL: a whitelist of sort keys per list and a
stable tie-break, so paging through a sorted list never repeats or skips a row.

A sort key arrives from a URL: anything outside the list's whitelist is
``InvalidInput`` (a 422 / exit code, never a 500 and never raw SQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from tessera.errors import InvalidInput

Column = ColumnElement[Any] | InstrumentedAttribute[Any] | SQLColumnExpression[Any]


class _Orderable(Protocol):
    def order_by(self, *clauses: Any) -> Self: ...


Q = TypeVar("Q", bound=_Orderable)


def ordered(
    q: Q,
    keys: Mapping[str, Column],
    sort: str,
    *,
    descending: bool,
    tie: Column,
    what: str,
) -> Q:
    """``q`` ordered by ``keys[sort]`` (descending if asked), then by ``tie`` in the
    same direction (a unique column: equal keys keep one order from page to page)."""
    key = keys.get(sort)
    if key is None:
        raise InvalidInput(f"{what}: sort {sort!r} is not one of {', '.join(keys)}")
    if key is tie:  # "ORDER BY seq, seq" makes SQLite sort in a temporary B-tree
        return q.order_by(key.desc() if descending else key.asc())
    if descending:
        return q.order_by(key.desc(), tie.desc())
    return q.order_by(key.asc(), tie.asc())


def check(sort: str, allowed: tuple[str, ...], what: str) -> None:
    """``InvalidInput`` unless ``sort`` is one of ``allowed`` (for lists sorted elsewhere)."""
    if sort not in allowed:
        raise InvalidInput(f"{what}: sort {sort!r} is not one of {', '.join(allowed)}")


__all__ = ["check", "ordered"]
