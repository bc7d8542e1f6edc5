"""Blocked brute-force scan: for the unsorted delta and for very wide radii.

A tile of queries against a tile of stored hashes, the stored tile transposed to
one contiguous array per 64-bit word so every numpy operation runs over a
``(queries, hashes)`` block. Two stages: the first two words' popcounts (at most
128, so uint8 holds their sum) are added and compared with the radius; only pairs
that can still match get the other two words. For radius 31 a random pair passes
the first stage with probability ~1e-9, so the scan costs about half of a full
four-word compare: ~3-5 ns per (query, hash) pair on the benchmark machine.

A tile holds about ``QUERY_TILE * ROW_TILE`` pairs whatever the number of queries:
a single lookup scans 262,144 rows per numpy call instead of 4,096, because at one
query a tile's dozen numpy calls cost more than its arithmetic (``scan``, which
transposes each tile, stops at 32,768 rows, where the copy leaves the cache). ``scan_columns``
takes the stored hashes already transposed (a server's delta keeps them so), which
saves the per-tile transposing copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from tessera.index.codes import Words

QUERY_TILE = 64
ROW_TILE = 4096
PAIRS_PER_TILE = QUERY_TILE * ROW_TILE
_COPIED_ROWS = 32_768
"""Rows transposed at a time by ``scan``: larger copies fall out of the cache."""
_HALF_BITS = 128

Triples = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def scan(queries: Words, words: Words, radius: int) -> Triples:
    """``(query, row, distance)`` of every pair within ``radius``, unsorted."""
    return _scan(
        queries,
        words.shape[0],
        lambda lo, hi: np.ascontiguousarray(words[lo:hi].T),
        radius,
        max_rows=_COPIED_ROWS,
    )


def scan_columns(queries: Words, columns: Words, radius: int) -> Triples:
    """``scan`` over stored hashes given as ``(4, N)``: one contiguous row per word."""
    return _scan(queries, columns.shape[1], lambda lo, hi: columns[:, lo:hi], radius, max_rows=None)


def _scan(
    queries: Words,
    n: int,
    tile_of: Callable[[int, int], Words],
    radius: int,
    *,
    max_rows: int | None,
) -> Triples:
    out_q: list[NDArray[np.int64]] = []
    out_r: list[NDArray[np.int64]] = []
    out_d: list[NDArray[np.int64]] = []
    nq = queries.shape[0]
    rows = max(ROW_TILE, PAIRS_PER_TILE // max(1, min(nq, QUERY_TILE)))
    if max_rows is not None:
        rows = min(rows, max_rows)
    for lo in range(0, n, rows):
        cols = tile_of(lo, lo + rows)
        for qlo in range(0, nq, QUERY_TILE):
            q = queries[qlo : qlo + QUERY_TILE]
            qi, ci, d = _tile(q, cols, radius)
            if qi.shape[0]:
                out_q.append(qi + qlo)
                out_r.append(ci + lo)
                out_d.append(d)
    if not out_q:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), z.copy()
    return np.concatenate(out_q), np.concatenate(out_r), np.concatenate(out_d)


def _tile(q: Words, cols: Words, radius: int) -> Triples:
    half = np.bitwise_count(q[:, 0, None] ^ cols[0])
    half += np.bitwise_count(q[:, 1, None] ^ cols[1])
    if radius < _HALF_BITS:
        qi, ci = np.nonzero(half <= radius)
    else:
        qi, ci = np.nonzero(np.ones(half.shape, dtype=np.bool_))
    dist = half[qi, ci].astype(np.int64)
    dist += np.bitwise_count(q[qi, 2] ^ cols[2, ci])
    dist += np.bitwise_count(q[qi, 3] ^ cols[3, ci])
    keep = np.flatnonzero(dist <= radius)
    return qi[keep].astype(np.int64), ci[keep].astype(np.int64), dist[keep]


__all__ = ["scan", "scan_columns"]
