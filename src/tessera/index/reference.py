"""Brute-force radius search: the plain reference every fast path is tested against.

Deliberately simple (one query at a time, XOR and ``np.bitwise_count`` over every
stored hash), so that it is easy to read and hard to get wrong; the tests check it
in turn against Python-int popcounts. It is linear in the number of stored hashes,
about 50-150 ms per query at 10 million, and is not what ``PdqIndex`` uses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tessera.index.codes import check_radius, ids_array, words_from_codes
from tessera.index.result import SearchResult

_ROWS_PER_STEP = 1 << 20


def brute_force_search(
    codes: NDArray[np.uint8] | NDArray[np.uint64],
    ids: NDArray[np.int64],
    queries: NDArray[np.uint8] | NDArray[np.uint64],
    radius: int,
) -> SearchResult:
    """Every ``(query, id, distance)`` with Hamming distance ``<= radius``, by exhaustion."""
    r = check_radius(radius)
    words = words_from_codes(codes)
    id_arr = ids_array(ids, words.shape[0])
    qwords = words_from_codes(queries, "queries")
    out_q: list[NDArray[np.int64]] = []
    out_row: list[NDArray[np.int64]] = []
    out_d: list[NDArray[np.int64]] = []
    for qi in range(qwords.shape[0]):
        q = qwords[qi]
        for lo in range(0, words.shape[0], _ROWS_PER_STEP):
            part = words[lo : lo + _ROWS_PER_STEP]
            dist = np.bitwise_count(part ^ q).sum(axis=1, dtype=np.int64)
            rows = np.flatnonzero(dist <= r)
            out_q.append(np.full(rows.shape[0], qi, dtype=np.int64))
            out_row.append(rows + lo)
            out_d.append(dist[rows])
    if not out_q:
        return SearchResult.empty()
    rows_all = np.concatenate(out_row)
    return SearchResult.from_unsorted(
        np.concatenate(out_q), id_arr[rows_all], np.concatenate(out_d)
    )


__all__ = ["brute_force_search"]
