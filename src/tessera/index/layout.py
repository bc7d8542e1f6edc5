"""How the 256 bits are cut into chunks, and which chunk values a search probes.

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast exact search in Hamming
space with multi-index hashing", 2014) rests on the pigeonhole principle. Cut the
bits into ``m`` disjoint chunks; the chunk distances add up to at most the full
distance, so if ``d(q, x) <= r`` then some chunk differs in at most ``floor(r/m)``
bits. The refined form is tighter: write ``r = a*m + b`` with ``0 <= b < m``; if
the first ``b + 1`` chunks all differed in ``a + 1`` bits or more and the others
in ``a`` bits or more, the distance would be at least ``a*m + b + 1 > r``. So it
is enough to look up, in ``b + 1`` chunk tables, every value within ``a`` bit
flips of the query's chunk, and in the other ``m - b - 1`` tables every value
within ``a - 1`` flips (none if ``a = 0``). Every true neighbour is then a
candidate; verifying the candidates' full 256-bit distance removes the rest. This
is exact for any radius; only the cost changes.

The chunks need not cover all 256 bits (a subset's distance is also at most the
full distance), which lets a small index use narrow chunks and small tables.

The order of a query's probes does not change what is found, only how fast: a
plan probes each table's flip masks in ascending order. XOR with the query's chunk
maps every aligned block of keys onto another aligned block, so masks that share
their high bits read keys in the same 64-byte line and 4 KiB page one after another
(a 24-bit table probed with 2 flips touches ~106 distinct pages, not 301). With the
compiled probe at 10M, 1,000 queries cost 53-58 instead of 60-65 us of CPU a hash in
this order (three runs alternated, load ~10; the offsets' random reads are most of a
query's cost).

Cost per query, for a table of width ``w`` probed with up to ``a`` flips:
``P(w, a) = sum(C(w, k), k <= a)`` lookups and about ``P * N / 2**w`` random
candidates to verify. Measured on the 2-core benchmark machine at N = 10M (numpy,
one thread, ``probe``): 34 ns per lookup (two reads of a 450 MB offsets array)
and 60 ns per candidate (a random read of ``perm`` and of the 32-byte hash, then
XOR/popcount), against 3.1 ns per (query, stored hash) pair for the blocked
brute-force ``scan``. For the default radius 31 the planner then picks, at 10M
hashes, 11 chunks of 24/23 bits (``a = 2``; one table with ``a = 1``): 2,866
lookups and ~2,880 candidates per query, ~270 us, instead of 10 million
comparisons (~31 ms). 16 chunks of 16 bits (``a = 1``, FAISS's multi-hash layout)
would need only 272 lookups but ~41,000 candidates (~2.5 ms); 12 chunks of 21 bits
~1,900 lookups and ~9,000 candidates (~600 us); 8 chunks of 32 bits (``a = 3``)
44,000 lookups into tables too large to address directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil, comb, log2

import numpy as np
from numpy.typing import NDArray

from tessera.index.codes import MAX_RADIUS, Words

MAX_CHUNK_BITS = 24
"""Widest chunk: a direct-address table of 2**24 + 1 uint32 offsets is 64 MiB."""

MIN_CHUNK_BITS = 8

PLAN_RADIUS = 31
"""The radius a layout is optimised for (PDQ's match threshold)."""

COST_PROBE_NS = 34.0
COST_CANDIDATE_NS = 60.0
COST_SCAN_NS = 3.1
"""Measured per-lookup, per-candidate and per-scanned-hash costs (see module doc)."""

MAX_PROBES = 1 << 21
"""Beyond this many lookups per query, probing is never worth it: scan instead."""


@dataclass(frozen=True)
class ChunkLayout:
    """Disjoint bit ranges ``(start, width)`` over the internal 256-bit word view."""

    chunks: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        end = 0
        for start, width in self.chunks:
            if start < end or not MIN_CHUNK_BITS <= width <= MAX_CHUNK_BITS:
                raise ValueError(f"bad chunk layout {self.chunks}")
            end = start + width
        if end > MAX_RADIUS:
            raise ValueError(f"chunk layout exceeds 256 bits: {self.chunks}")

    @property
    def m(self) -> int:
        return len(self.chunks)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(w for _, w in self.chunks)

    def table_sizes(self) -> tuple[int, ...]:
        """Length of each table's offsets array, ``2**w + 1``."""
        return tuple((1 << w) + 1 for w in self.widths)

    def table_bases(self) -> tuple[int, ...]:
        """Start of each table's slice of the flat offsets array."""
        sizes = self.table_sizes()
        return tuple(sum(sizes[:t]) for t in range(self.m))


def even_layout(m: int, max_width: int) -> ChunkLayout:
    """``m`` contiguous chunks of (nearly) equal width, at most ``max_width`` bits each."""
    bits = min(MAX_RADIUS, m * max_width)
    base, extra = divmod(bits, m)
    chunks: list[tuple[int, int]] = []
    start = 0
    for t in range(m):
        w = base + (1 if t < extra else 0)
        chunks.append((start, w))
        start += w
    return ChunkLayout(tuple(chunks))


def probe_count(width: int, flips: int) -> int:
    """Chunk values within ``flips`` bits of a given value: ``sum(C(w, k), k <= flips)``."""
    if flips < 0:
        return 0
    return sum(comb(width, k) for k in range(min(flips, width) + 1))


def _table_cost(width: int, flips: int, n: int) -> float:
    p = probe_count(width, flips)
    return p * (COST_PROBE_NS + COST_CANDIDATE_NS * n / (1 << width))


def flip_budgets(layout: ChunkLayout, radius: int, n: int) -> tuple[int, ...]:
    """Per-table flip budget for an exact search at ``radius`` (-1: table not probed).

    Refined pigeonhole (module doc): ``b + 1`` tables get ``a`` flips, the rest
    ``a - 1``; the reduced budget goes to the tables where it saves the most.
    """
    m = layout.m
    a, b = divmod(radius, m)
    widths = layout.widths
    saving = [_table_cost(w, a, n) - _table_cost(w, a - 1, n) for w in widths]
    reduced = sorted(range(m), key=lambda t: (-saving[t], t))[: m - (b + 1)]
    return tuple(a - 1 if t in reduced else a for t in range(m))


def probe_cost_ns(layout: ChunkLayout, budgets: tuple[int, ...], n: int) -> float:
    """Expected per-query cost of probing, for uniformly random stored hashes."""
    return sum(_table_cost(w, a, n) for w, a in zip(layout.widths, budgets, strict=True))


def total_probes(layout: ChunkLayout, budgets: tuple[int, ...]) -> int:
    return sum(probe_count(w, a) for w, a in zip(layout.widths, budgets, strict=True))


def plan_layout(n: int) -> ChunkLayout:
    """The layout with the lowest expected cost at radius 31 for ``n`` stored hashes.

    Chunk width is capped near ``log2(n) + 1`` so the offsets tables stay about
    the size of the data (a 24-bit table for 10M hashes, 12-bit for 2,000).
    """
    max_width = max(MIN_CHUNK_BITS, min(MAX_CHUNK_BITS, ceil(log2(max(n, 2))) + 1))
    best: tuple[float, int] | None = None
    for m in range(4, MAX_RADIUS // MIN_CHUNK_BITS + 1):
        if m * MIN_CHUNK_BITS > MAX_RADIUS:
            break
        layout = even_layout(m, max_width)
        cost = probe_cost_ns(layout, flip_budgets(layout, PLAN_RADIUS, n), n)
        if best is None or cost < best[0]:
            best = (cost, m)
    assert best is not None
    return even_layout(best[1], max_width)


@dataclass(frozen=True, eq=False)
class ProbePlan:
    """Everything a search at one radius needs, computed once per (layout, radius, N).

    Column ``c`` of a query block's probe keys is ``chunk[tables[c]] ^ masks[c]``
    plus ``bases[c]``, the position of that table in the flat offsets array.
    """

    radius: int
    budgets: tuple[int, ...]
    masks: NDArray[np.int64]
    tables: NDArray[np.intp]
    bases: NDArray[np.int64]
    cost_ns: float

    @property
    def probes(self) -> int:
        return int(self.masks.shape[0])


@lru_cache(maxsize=256)
def probe_plan(layout: ChunkLayout, radius: int, n: int) -> ProbePlan:
    """Budgets, flip masks and cost of an exact search at ``radius`` over ``n`` hashes."""
    budgets = flip_budgets(layout, radius, n)
    probes = total_probes(layout, budgets)
    cost = probe_cost_ns(layout, budgets, n)
    if probes > MAX_PROBES:
        empty = np.zeros(0, dtype=np.int64)
        return ProbePlan(radius, budgets, empty, empty.astype(np.intp), empty, cost)
    # each table's masks in ascending order: the keys ``chunk ^ mask`` of masks sharing
    # their high bits then come one after another, and so do the offsets (and ``perm``)
    # lines and pages they read (module doc)
    parts = [
        (t, np.sort(flip_masks(w, a)))
        for t, (w, a) in enumerate(zip(layout.widths, budgets, strict=True))
    ]
    parts = [(t, m) for t, m in parts if m.shape[0] and budgets[t] >= 0]
    bases = layout.table_bases()
    masks = np.concatenate([m for _, m in parts]) if parts else np.zeros(0, dtype=np.int64)
    tables = np.concatenate(
        [np.full(m.shape[0], t, dtype=np.intp) for t, m in parts] or [np.zeros(0, np.intp)]
    )
    col_bases = np.asarray(bases, dtype=np.int64)[tables]
    for arr in (masks, tables, col_bases):
        arr.flags.writeable = False
    return ProbePlan(radius, budgets, masks, tables, col_bases, cost)


_U64 = NDArray[np.uint64]
_ChunkReads = tuple[NDArray[np.intp], NDArray[np.intp], _U64, _U64, _U64]


@lru_cache(maxsize=64)
def _chunk_reads(layout: ChunkLayout) -> _ChunkReads:
    """Per chunk, the constants ``query_chunks`` reads with: the low and high word's
    column, the right shift, the left shift less one, and the width's mask (built once
    per layout: 32 -> 14 us a call, measured; a single query's search at 10M is ~190)."""
    starts = np.array([s for s, _ in layout.chunks], dtype=np.int64)
    widths = np.array(layout.widths, dtype=np.uint64)
    j = starts // 64
    sh = (starts % 64).astype(np.uint64)
    out: _ChunkReads = (
        j.astype(np.intp),
        np.minimum(j + 1, 3).astype(np.intp),
        sh,
        (np.uint64(63) - sh).astype(np.uint64),
        ((np.uint64(1) << widths) - np.uint64(1)).astype(np.uint64),
    )
    for arr in out:
        arr.flags.writeable = False
    return out


def query_chunks(words: Words, layout: ChunkLayout) -> NDArray[np.int64]:
    """``(N, m)`` chunk values of every row, all chunks at once (for query blocks).

    ``(lo >> sh) | (hi << (63 - sh) << 1)`` is ``lo >> sh | hi << (64 - sh)``
    without the undefined 64-bit shift when ``sh == 0``; bits from ``hi`` that do
    not belong to the chunk are masked off.
    """
    lo_col, hi_col, sh, left, mask = _chunk_reads(layout)
    v = (words[:, lo_col] >> sh) | ((words[:, hi_col] << left) << np.uint64(1))
    v &= mask
    return v.astype(np.int64)


def chunk_keys(words: Words, start: int, width: int) -> NDArray[np.uint64]:
    """The ``width``-bit value of bits ``[start, start + width)`` of each row."""
    j, shift = divmod(start, 64)
    v = words[:, j] >> np.uint64(shift)
    if shift + width > 64:
        v = v | (words[:, j + 1] << np.uint64(64 - shift))
    return v & np.uint64((1 << width) - 1)


@lru_cache(maxsize=64)
def flip_masks(width: int, flips: int) -> NDArray[np.int64]:
    """Every ``width``-bit value with at most ``flips`` bits set, fewest bits first.

    Built level by level: each ``k``-bit mask is extended by every bit above its
    highest set bit, so each mask appears exactly once.
    """
    levels = [np.zeros(1, dtype=np.int64)]
    high = np.full(1, -1, dtype=np.int64)
    for _ in range(min(flips, width)):
        prev = levels[-1]
        room = width - 1 - high
        owner = np.repeat(np.arange(prev.shape[0]), room)
        first = np.cumsum(room) - room
        bit = high[owner] + 1 + (np.arange(owner.shape[0]) - first[owner])
        levels.append(prev[owner] | (np.int64(1) << bit))
        high = bit
    out = np.concatenate(levels)
    out.flags.writeable = False
    return out


__all__ = [
    "ChunkLayout",
    "ProbePlan",
    "chunk_keys",
    "even_layout",
    "flip_budgets",
    "flip_masks",
    "plan_layout",
    "probe_cost_ns",
    "probe_plan",
    "query_chunks",
    "total_probes",
]
