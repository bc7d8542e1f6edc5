"""The answer to a batch of radius searches, as parallel arrays.

One row per (query, stored hash) pair within the radius: ``query`` indexes the
queries as passed, ``id`` is the caller's id of the stored hash, ``distance`` the
Hamming distance. Rows are sorted by (query, distance, id), so the same search
always gives the same arrays, whichever index, thread count or strategy produced
them, and results compare with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Matches as parallel int64 arrays sorted by (query, distance, id)."""

    query: I64
    id: I64
    distance: I64

    @classmethod
    def from_unsorted(cls, query: I64, ids: I64, distance: I64) -> SearchResult:
        """Sort rows by (query, distance, id) and freeze them."""
        q = np.asarray(query, dtype=np.int64)
        i = np.asarray(ids, dtype=np.int64)
        d = np.asarray(distance, dtype=np.int64)
        order = np.lexsort((i, d, q))
        return cls(q[order], i[order], d[order])

    @classmethod
    def empty(cls) -> SearchResult:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), z.copy())

    def __len__(self) -> int:
        return int(self.query.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchResult):
            return NotImplemented
        return (
            np.array_equal(self.query, other.query)
            and np.array_equal(self.id, other.id)
            and np.array_equal(self.distance, other.distance)
        )

    __hash__ = None  # type: ignore[assignment]

    def for_query(self, q: int) -> list[tuple[int, int]]:
        """``(id, distance)`` pairs of query ``q``, nearest first."""
        lo, hi = np.searchsorted(self.query, [q, q + 1])
        return list(zip(self.id[lo:hi].tolist(), self.distance[lo:hi].tolist(), strict=True))

    def triples(self) -> set[tuple[int, int, int]]:
        """The rows as a set of ``(query, id, distance)``."""
        return set(zip(self.query.tolist(), self.id.tolist(), self.distance.tolist(), strict=True))


__all__ = ["SearchResult"]
