"""One page of rows cut in SQL, then filtered by the sharing rules.

Listings and searches fetch one row more than a page (``limit + 1``) to know whether
another page follows, then drop the rows the caller may not see at the level the
page shows. :func:`visible_page` does both, once, and names what every such page
carries: the kept rows' series names and SHA-256 digests, and where the next page
starts (the last row scanned, for ``after``-id paging, or the number scanned, for
``offset`` paging). Routes keep their own parameters and JSON shapes; only the
arithmetic lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tessera.app.visibility import Level, Visibility
from tessera.storage import repo
from tessera.storage.db import Session

R = TypeVar("R")

OVERFETCH = 4
"""With ``overfetch``: rows scanned per page row for a caller who does not see
everything (sharing may drop some), so a page is rarely short."""


def split_page(rows: Sequence[R], limit: int) -> tuple[Sequence[R], bool]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``) and whether more follow."""
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True)
class VisiblePage(Generic[R]):
    """The rows of one page the caller may see, and where the next page starts."""

    rows: tuple[R, ...]
    series: dict[int, list[str]]
    """Media id -> names of the series the caller sees it in."""
    sha256: dict[int, str]
    """Media id -> SHA-256 (hex) of the kept rows."""
    scanned: int
    """Rows of the fetched page consumed (kept or dropped by the sharing filter)."""
    more: bool
    last_scanned: R | None
    """The last row consumed, for ``after``-id paging."""

    def next_offset(self, offset: int) -> int | None:
        return offset + self.scanned if self.more else None

    def next_after(self, key: Callable[[R], int]) -> int | None:
        return key(self.last_scanned) if self.more and self.last_scanned is not None else None


def visible_page(
    s: Session,
    vis: Visibility,
    fetch: Callable[[int], Sequence[R]],
    media_id: Callable[[R], int],
    *,
    limit: int,
    level: Level = Level.FULL,
    overfetch: bool = False,
) -> VisiblePage[R]:
    """``fetch(n)`` returns up to ``n`` rows in page order; keep at most ``limit`` the
    caller sees at ``level``. Without ``overfetch`` exactly ``limit`` rows are
    scanned (a page may come back short); with it, up to ``OVERFETCH * limit``."""
    window = limit if vis.everything or not overfetch else limit * OVERFETCH
    rows = list(fetch(window + 1))
    seen = vis.seen_media((media_id(r) for r in rows[:window]), level)
    kept = [i for i, r in enumerate(rows[:window]) if media_id(r) in seen][:limit]
    scanned = kept[-1] + 1 if len(kept) == limit else min(len(rows), window)
    shown = tuple(rows[i] for i in kept)
    ids = [media_id(r) for r in shown]
    return VisiblePage(
        rows=shown,
        series=vis.series_names_of_media(ids),
        sha256=repo.sha256_of_media(s, ids),
        scanned=scanned,
        more=len(rows) > scanned,
        last_scanned=rows[scanned - 1] if scanned else None,
    )


__all__ = ["OVERFETCH", "VisiblePage", "split_page", "visible_page"]
