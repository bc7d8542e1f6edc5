"""The multi-index tables: per chunk, row numbers sorted by chunk value.

For each chunk ``t`` of the layout, ``perm`` holds the row numbers of all stored
hashes sorted by their chunk value (ties by row), and ``offsets`` is a
direct-address table of ``2**w + 1`` entries: the rows whose chunk equals ``v``
are ``perm[offsets[v]:offsets[v + 1]]``. A lookup is two reads of adjacent
entries, with no hashing and no pointers. All tables live in two flat arrays
(``perm`` of length ``m * N`` and the concatenated ``offsets``, whose values are
positions in the flat ``perm``), so one batched probe covers every table with one
``np.take``.

Memory at N = 10M with 11 chunks: ``perm`` 11 x 40 MB = 440 MB (uint32 rows),
offsets 3 x 64 MB + 8 x 32 MB = 448 MB, next to 320 MB of hashes and 80 MB of
ids: 1.29 GB in all (FAISS's 16x16 multi-hash takes 2.6 GB for the same data).

Building sorts one packed uint64 ``chunk << 32 | row`` array per table (numpy's
vectorised sort, ~0.7 s per 10M; twice as fast as a stable ``argsort``), two
tables at a time on 2 cores: 6-13 s for 10M hashes, peak memory ~1.8 GB. Merging
(``merge``) inserts new rows at the end of their buckets and drops removed rows in
one pass per table, without sorting the old rows again; the result is
bit-for-bit what a fresh build over the same rows gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from tessera.index.codes import Words
from tessera.index.layout import ChunkLayout, chunk_keys

T = TypeVar("T")
R = TypeVar("R")

_ROW_BITS = 32
_ROW_MASK = np.uint64((1 << _ROW_BITS) - 1)


@dataclass(frozen=True)
class Tables:
    """``perm`` and ``offsets`` for every chunk of ``layout`` over ``n`` rows."""

    layout: ChunkLayout
    n: int
    perm: NDArray[np.unsignedinteger]
    offsets: NDArray[np.integer]

    @property
    def nbytes(self) -> int:
        return int(self.perm.nbytes + self.offsets.nbytes)

    def table_perm(self, t: int) -> NDArray[np.unsignedinteger]:
        return self.perm[t * self.n : (t + 1) * self.n]

    def table_offsets(self, t: int) -> NDArray[np.int64]:
        """Offsets of table ``t`` relative to its own slice of ``perm``."""
        base = self.layout.table_bases()[t]
        size = self.layout.table_sizes()[t]
        return self.offsets[base : base + size].astype(np.int64) - t * self.n


MAX_ROWS = (1 << _ROW_BITS) - 1
"""Row numbers are uint32 (4 bytes per row per table); 4 billion hashes is 128 GB of codes."""


def row_dtype(n: int) -> np.dtype[np.unsignedinteger]:
    if n > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} rows per index")
    return np.dtype(np.uint32)


def offset_dtype(total: int) -> np.dtype[np.integer]:
    """uint32 while every position in the flat ``perm`` fits, else int64."""
    return np.dtype(np.uint32) if total < (1 << 32) else np.dtype(np.int64)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], threads: int) -> list[R]:
    """``map`` over ``items`` in up to ``threads`` threads (numpy releases the GIL)."""
    work = list(items)
    if threads <= 1 or len(work) <= 1:
        return [fn(x) for x in work]
    with ThreadPoolExecutor(max_workers=min(threads, len(work))) as pool:
        return list(pool.map(fn, work))


def _sorted_rows(keys: NDArray[np.uint64], first_row: int) -> NDArray[np.uint64]:
    """Rows ``first_row + i`` sorted by ``(keys[i], i)``.

    Packing ``key << 32 | row`` into one uint64 and sorting values is about twice
    as fast as ``argsort(kind="stable")`` (numpy's vectorised sort) and gives the
    same order. Returns the packed array; ``& _ROW_MASK`` gives the rows and
    ``>> 32`` the keys.
    """
    n = keys.shape[0]
    packed = keys << np.uint64(_ROW_BITS)
    packed |= np.arange(first_row, first_row + n, dtype=np.uint64)
    packed.sort()
    return packed


def _empty_tables(layout: ChunkLayout, n: int) -> Tables:
    perm = np.empty(layout.m * n, dtype=row_dtype(n))
    offsets = np.empty(sum(layout.table_sizes()), dtype=offset_dtype(layout.m * n + 1))
    return Tables(layout, n, perm, offsets)


def _offsets_slice(tables: Tables, t: int) -> NDArray[np.integer]:
    base = tables.layout.table_bases()[t]
    return tables.offsets[base : base + tables.layout.table_sizes()[t]]


def build(words: Words, layout: ChunkLayout, threads: int = 1) -> Tables:
    """Tables over all rows of ``words``; one thread per table at a time."""
    n = words.shape[0]
    out = _empty_tables(layout, n)

    def one(t: int) -> None:
        start, width = layout.chunks[t]
        keys = chunk_keys(words, start, width)
        packed = _sorted_rows(keys, 0)
        packed &= _ROW_MASK
        out.perm[t * n : (t + 1) * n] = packed
        del packed
        counts = np.bincount(keys.astype(np.int64), minlength=1 << width)
        del keys
        np.cumsum(counts, out=counts)
        sl = _offsets_slice(out, t)
        sl[0] = 0
        sl[1:] = counts
        sl += t * n

    parallel_map(one, range(layout.m), threads)
    return out


def _shift(arr: NDArray[np.integer], positions: NDArray[np.int64], sign: int) -> None:
    """``arr[v] += sign * #(positions <= v)``, with one temporary of ``arr``'s dtype.

    For offsets, ``positions = key + 1`` of inserted (or removed) rows: every bucket
    after a key moves by the number of rows gained (or lost) before it.
    """
    if positions.shape[0] == 0:
        return
    uniq, counts = np.unique(positions, return_counts=True)
    runs = np.diff(np.append(uniq, arr.shape[0]))
    steps = np.repeat(np.cumsum(counts).astype(arr.dtype), runs)
    tail = arr[int(uniq[0]) :]
    if sign > 0:
        tail += steps
    else:
        tail -= steps


def merge(
    tables: Tables,
    words_old: Words,
    alive: NDArray[np.bool_] | None,
    words_new: Words,
    threads: int = 1,
) -> Tables:
    """Tables over the live old rows (renumbered in order) followed by ``words_new``.

    Equal to ``build(concat(words_old[alive], words_new))``, in O(N) per table
    without re-sorting: old rows keep their order, dead rows are dropped, new rows
    go to the end of their buckets, and each offset moves by the number of rows
    gained or lost in the buckets before it. The old tables are left untouched, so
    a failure half-way (say, out of memory) loses nothing.
    """
    layout = tables.layout
    n_old = tables.n
    d = words_new.shape[0]
    remap: NDArray[np.unsignedinteger] | None = None
    dead_words = words_old[:0]
    n_alive = n_old
    if alive is not None:
        n_alive = int(np.count_nonzero(alive))
        remap = (np.cumsum(alive, dtype=np.int64) - 1).astype(row_dtype(n_alive + d))
        dead_words = words_old[~alive]
    n_new = n_alive + d
    out = _empty_tables(layout, n_new)

    def one(t: int) -> None:
        start, width = layout.chunks[t]
        perm_t = tables.table_perm(t)
        new = _offsets_slice(out, t)
        new[:] = _offsets_slice(tables, t)
        new -= t * n_old
        new += t * n_new
        if remap is not None and alive is not None:
            rows_old = remap[perm_t[alive[perm_t]]]
            dead_keys = chunk_keys(dead_words, start, width).astype(np.int64)
            _shift(new, dead_keys + 1, -1)
        else:
            rows_old = perm_t
        dest = out.perm[t * n_new : (t + 1) * n_new]
        if d == 0:
            dest[:] = rows_old
            return
        packed = _sorted_rows(chunk_keys(words_new, start, width), n_alive)
        rows_new = packed & _ROW_MASK
        ends = (packed >> np.uint64(_ROW_BITS)).astype(np.int64) + 1
        pos = new[ends].astype(np.int64) - t * n_new + np.arange(d)
        old_slots = np.ones(n_new, dtype=np.bool_)
        old_slots[pos] = False
        dest[old_slots] = rows_old
        dest[pos] = rows_new
        _shift(new, ends, +1)

    parallel_map(one, range(layout.m), threads)
    return out


__all__ = ["Tables", "build", "merge", "parallel_map"]
