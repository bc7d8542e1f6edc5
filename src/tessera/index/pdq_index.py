"""``PdqIndex``: exact PDQ radius search ("seen before?") over millions of hashes.

Given 256-bit PDQ hashes, ``search`` returns every stored hash within Hamming
distance ``r`` (default 31, PDQ's match threshold) of each query: exactly what
``brute_force_search`` returns, with no misses and no false positives, at any
radius 0..256. It is the lookup behind "has this image been seen before", where a
miss means a known victim is not recognised, so exactness is not negotiable and
approximate indexes (HNSW, FAISS multi-hash with ``nflip=0``) are ruled out.

How (each part has its own module):

* ``layout``: multi-index hashing. The bits are cut into ``m`` chunks; by the
  pigeonhole principle a hash within ``r`` differs from the query in at most
  ``floor(r/m)`` bits of some chunk, so probing every chunk value within that many
  flips finds every neighbour. At 10M hashes: 11 chunks of 23-24 bits, 2,866
  lookups and ~2,900 random candidates per query instead of 10M comparisons.
* ``tables``: per chunk, row numbers sorted by chunk value plus a direct-address
  offsets table; 0.9 GB for 10M hashes (1.3 GB with hashes and ids), built in
  6-13 s on 2 cores by sorting.
* ``probe``: the batched query, pure numpy, ~270 us of one core per query at 10M;
  blocks of queries run in threads (numpy releases the GIL in its array loops).
* ``scan``: blocked brute force, for the delta and wherever probing would cost
  more (small indexes, wide radii, queries landing in huge skewed buckets).
* ``store``: save/load as plain ``.npy`` files with checksums, atomically.

Updates: ``add`` appends to a small unsorted *delta* segment that every search
scans; ``remove`` marks rows dead (tombstones, filtered out of results).
``compact`` folds both into the main tables in one O(N) pass per table, without
re-sorting the old rows: 0.3-2.6 s at 10M for a full delta, 3.5 s when rows were
removed, against 6-13 s for a rebuild. It runs by itself once the delta holds more
than ``delta_limit`` hashes or a quarter of the main rows are dead. The default
limit, 8,192, is set by the scan cost (3.1 ns per query and stored hash): a full
delta adds ~25 us to a ~270 us query at 10M. A limit proportional to the index
(say 5 %) would make searches several times slower for long stretches, and a
merge is cheap enough to run often: at 10M it costs at most ~0.3 ms per added hash,
well below the cost of computing the PDQ hash in the first place.

Not thread-safe for mutation: searches may run concurrently with each other, not
with ``add``/``remove``/``compact``/``save``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from tessera.errors import IndexCorrupt, InvalidInput
from tessera.index import kernel, store
from tessera.index import tables as tbl
from tessera.index.codes import (
    HASH_BYTES,
    HASH_WORDS,
    Words,
    check_radius,
    codes_from_words,
    ids_array,
    word_from_code,
    words_from_codes,
)
from tessera.index.layout import (
    COST_SCAN_NS,
    MAX_PROBES,
    ChunkLayout,
    plan_layout,
    probe_plan,
)
from tessera.index.probe import as_v32, probe
from tessera.index.result import SearchResult
from tessera.index.scan import Triples, scan

Strategy = Literal["auto", "probe", "scan"]
"""``auto`` picks per search by expected cost; ``probe`` forces the tables where
feasible (tests, benchmarks); ``scan`` forces brute force. Results never differ."""

DEFAULT_RADIUS = 31
DEFAULT_DELTA_LIMIT = 8_192
PROBE_BLOCK = 1 << 16
"""Probe lookups per query block (~23 queries at 10M, 32 at 1.25M): big enough to
amortise numpy call overhead, small enough that the block's temporaries (~0.5 MB
each) stay in the CPU's cache. 1 << 18 (~2 MB each) cost 10-25 % more CPU per
query at 1.25M hashes (batches of 1,000, one and two threads, measured)."""
KERNEL_BLOCK = 1 << 12
"""Queries per block when the compiled probe runs (``tessera.index.kernel``): it works
one query at a time in buffers of its own, so small blocks only add calls (array set-up,
result merging). 1,000 queries at 10M on one thread cost 54.6 us of CPU a hash in one
block against 63.2 in ``PROBE_BLOCK``'s ~23-query blocks (alternated, load ~10)."""
SCAN_BLOCK = 256

I64 = NDArray[np.int64]


def default_threads() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class PdqIndex:
    """Exact radius search over PDQ hashes; see the module docstring for the design."""

    def __init__(
        self,
        words: Words,
        ids: I64,
        tables: tbl.Tables,
        *,
        state: str = "",
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> None:
        """Internal: use ``PdqIndex.build`` or ``PdqIndex.load``."""
        self._words = words
        self._ids = ids
        self._tables = tables
        self._v32 = as_v32(words)
        self._state = state
        self._delta_limit = max(0, int(delta_limit))
        self._alive: NDArray[np.bool_] | None = None
        self._dead = 0
        self._delta: list[tuple[Words, I64]] = []
        self._delta_len = 0
        self._ids_sorted: tuple[I64, I64] | None = None

    # --- construction -------------------------------------------------------------

    @classmethod
    def build(
        cls,
        codes: NDArray[np.uint8] | NDArray[np.uint64],
        ids: NDArray[np.int64],
        *,
        threads: int | None = None,
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> PdqIndex:
        """Index ``codes`` (``(N, 32) uint8`` or ``(N, 4) uint64``) under ``ids``.

        Ids need not be unique: every stored row is reported on its own, and
        ``remove`` drops every row with a given id.
        """
        words = np.array(words_from_codes(codes), dtype=np.uint64, copy=True)
        id_arr = np.array(ids_array(ids, words.shape[0]), copy=True)
        if words.shape[0] > tbl.MAX_ROWS:
            raise InvalidInput(f"an index holds at most {tbl.MAX_ROWS} hashes")
        layout = plan_layout(words.shape[0])
        tables = tbl.build(words, layout, threads or default_threads())
        return cls(words, id_arr, tables, delta_limit=delta_limit)

    # --- size and metadata ---------------------------------------------------------

    def __len__(self) -> int:
        return int(self._words.shape[0]) - self._dead + self._delta_len

    @property
    def state(self) -> str:
        """The caller's ``state`` string given to the last ``save`` (or found by ``load``)."""
        return self._state

    @property
    def layout(self) -> ChunkLayout:
        return self._tables.layout

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (hashes, ids, tables, delta, tombstones)."""
        total = self._words.nbytes + self._ids.nbytes + self._tables.nbytes
        total += sum(w.nbytes + i.nbytes for w, i in self._delta)
        if self._alive is not None:
            total += self._alive.nbytes
        return int(total)

    # --- updates ------------------------------------------------------------------

    def add(self, codes: NDArray[np.uint8] | NDArray[np.uint64], ids: NDArray[np.int64]) -> None:
        """Add hashes; searchable at once, merged into the tables by ``compact``."""
        words = np.array(words_from_codes(codes), dtype=np.uint64, copy=True)
        id_arr = np.array(ids_array(ids, words.shape[0]), copy=True)
        if words.shape[0] == 0:
            return
        if self._words.shape[0] + self._delta_len + words.shape[0] > tbl.MAX_ROWS:
            raise InvalidInput(f"an index holds at most {tbl.MAX_ROWS} hashes")
        self._delta.append((words, id_arr))
        self._delta_len += words.shape[0]
        if self._delta_len > self._delta_limit:
            self.compact()

    def remove(self, ids: NDArray[np.int64]) -> int:
        """Remove every stored hash with one of ``ids``; returns how many were removed."""
        if not isinstance(ids, np.ndarray) or ids.ndim != 1:
            raise InvalidInput("ids must be a 1-D numpy array")
        targets = np.unique(ids_array(ids, ids.shape[0]))
        removed = 0
        if targets.shape[0] and self._words.shape[0]:
            order, sorted_ids = self._sorted_ids()
            lo = np.searchsorted(sorted_ids, targets, side="left")
            hi = np.searchsorted(sorted_ids, targets, side="right")
            count = hi - lo
            ranks = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
            rows = order[np.repeat(lo, count) + ranks]
            if rows.shape[0]:
                if self._alive is None:
                    self._alive = np.ones(self._words.shape[0], dtype=np.bool_)
                newly = rows[self._alive[rows]]
                self._alive[newly] = False
                self._dead += int(newly.shape[0])
                removed += int(newly.shape[0])
        if targets.shape[0] and self._delta_len:
            kept: list[tuple[Words, I64]] = []
            for words, id_arr in self._delta:
                keep = ~np.isin(id_arr, targets)
                removed += int(id_arr.shape[0] - keep.sum())
                if keep.any():
                    kept.append((words[keep], id_arr[keep]))
            self._delta = kept
            self._delta_len = sum(i.shape[0] for _, i in kept)
        if self._dead and self._dead * 4 > self._words.shape[0]:
            self.compact()
        return removed

    def compact(self, *, threads: int | None = None) -> None:
        """Merge the delta into the tables and drop removed rows."""
        if not self._delta_len and not self._dead:
            return
        threads = threads or default_threads()
        delta_words, delta_ids = self._delta_arrays()
        alive = self._alive if self._dead else None
        old_words = self._words if alive is None else self._words[alive]
        old_ids = self._ids if alive is None else self._ids[alive]
        words = np.concatenate([old_words, delta_words])
        id_arr = np.concatenate([old_ids, delta_ids])
        layout = plan_layout(words.shape[0])
        if layout == self._tables.layout:
            tables = tbl.merge(self._tables, self._words, alive, delta_words, threads)
        else:
            tables = tbl.build(words, layout, threads)
        self._words, self._ids, self._tables = words, id_arr, tables
        self._v32 = as_v32(words)
        self._alive, self._dead = None, 0
        self._delta, self._delta_len = [], 0
        self._ids_sorted = None

    # --- search -------------------------------------------------------------------

    def search(
        self,
        queries: NDArray[np.uint8] | NDArray[np.uint64],
        radius: int = DEFAULT_RADIUS,
        *,
        threads: int | None = None,
        strategy: Strategy = "auto",
    ) -> SearchResult:
        """Every stored hash within ``radius`` of each query, sorted by (query, distance, id)."""
        r = check_radius(radius)
        if strategy not in ("auto", "probe", "scan"):
            raise InvalidInput(f"strategy must be auto, probe or scan, got {strategy!r}")
        return self._search(words_from_codes(queries, "queries"), r, threads, strategy)

    def search_one(
        self, code: bytes | NDArray[np.uint8] | NDArray[np.uint64], radius: int = DEFAULT_RADIUS
    ) -> list[tuple[int, int]]:
        """``(id, distance)`` of every stored hash within ``radius`` of one hash, nearest first."""
        r = check_radius(radius)
        return self._search(word_from_code(code), r, 1, "auto").for_query(0)

    def _search(self, qw: Words, r: int, threads: int | None, strategy: Strategy) -> SearchResult:
        nq = qw.shape[0]
        if nq == 0:
            return SearchResult.empty()
        n = self._tables.n
        plan = probe_plan(self._tables.layout, r, n)
        feasible = n > 0 and 0 < plan.probes <= MAX_PROBES
        use_probe = feasible and (
            strategy == "probe" or (strategy == "auto" and plan.cost_ns < n * COST_SCAN_NS)
        )
        if not use_probe:
            block = SCAN_BLOCK
        elif kernel.usable(self._tables, self._words):
            block = KERNEL_BLOCK
        else:
            block = max(1, PROBE_BLOCK // plan.probes)
        threads = threads or default_threads()
        nblocks = max(-(-nq // block), min(threads, nq))
        bounds = [nq * i // nblocks for i in range(nblocks + 1)]  # not linspace: ~10 us a call
        delta_words, delta_ids = self._delta_arrays()

        def run(span: tuple[int, int]) -> Triples:
            lo, hi = span
            q = qw[lo:hi]
            parts: list[Triples] = []
            if n:
                if use_probe:
                    qi, rows, d = probe(self._tables, self._words, self._v32, q, plan)
                else:
                    qi, rows, d = scan(q, self._words, r)
                if self._alive is not None:
                    live = self._alive[rows]
                    qi, rows, d = qi[live], rows[live], d[live]
                parts.append((qi + lo, self._ids[rows], d))
            if delta_words.shape[0]:
                qi, rows, d = scan(q, delta_words, r)
                parts.append((qi + lo, delta_ids[rows], d))
            if not parts:
                z = np.zeros(0, dtype=np.int64)
                return z, z.copy(), z.copy()
            return (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )

        spans = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
        found = tbl.parallel_map(run, spans, threads)
        return SearchResult.from_unsorted(
            np.concatenate([f[0] for f in found]),
            np.concatenate([f[1] for f in found]),
            np.concatenate([f[2] for f in found]),
        )

    # --- persistence --------------------------------------------------------------

    def save(self, path: Path, state: str = "") -> None:
        """Write the index to directory ``path`` (compacting first), atomically.

        ``state`` is any caller string, e.g. the last fingerprint row id indexed,
        so the caller can tell whether a loaded index is stale.
        """
        if not isinstance(state, str):
            raise InvalidInput("state must be a str")
        self.compact()
        layout = self._tables.layout
        meta: dict[str, Any] = {
            "count": int(self._words.shape[0]),
            "chunks": [list(c) for c in layout.chunks],
            "state": state,
        }
        store.write(
            Path(path),
            meta,
            {
                "codes": codes_from_words(self._words),
                "ids": self._ids,
                "perm": self._tables.perm,
                "offsets": self._tables.offsets,
            },
        )
        self._state = state

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        mmap: bool = True,
        verify: bool = True,
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> PdqIndex:
        """Open a saved index; ``IndexCorrupt`` if anything is missing or inconsistent.

        ``mmap`` maps the arrays instead of reading them (fast open, shared page
        cache); ``verify`` checks every file's sha256 and the tables' structure.
        """
        stored = store.read(Path(path), mmap=mmap, verify=verify)
        meta, arrays = stored.meta, stored.arrays
        n = meta.get("count")
        chunks = meta.get("chunks")
        state = meta.get("state", "")
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= tbl.MAX_ROWS:
            raise IndexCorrupt(f"{path}: bad count {n!r}")
        if not isinstance(state, str):
            raise IndexCorrupt(f"{path}: bad state")
        try:
            if not isinstance(chunks, list):
                raise TypeError("chunks")
            layout = ChunkLayout(tuple((int(s), int(w)) for s, w in chunks))
        except (TypeError, ValueError) as exc:
            raise IndexCorrupt(f"{path}: bad chunk layout {chunks!r}") from exc
        if layout.m == 0:
            raise IndexCorrupt(f"{path}: empty chunk layout")
        expect = {
            "codes": (np.dtype(np.uint8), (n, HASH_BYTES)),
            "ids": (np.dtype("<i8"), (n,)),
            "perm": (tbl.row_dtype(n).newbyteorder("<"), (layout.m * n,)),
            "offsets": (
                tbl.offset_dtype(layout.m * n + 1).newbyteorder("<"),
                (sum(layout.table_sizes()),),
            ),
        }
        if set(arrays) != set(expect):
            raise IndexCorrupt(f"{path}: expected arrays {sorted(expect)}, found {sorted(arrays)}")
        for name, (dtype, shape) in expect.items():
            arr = arrays[name]
            if arr.dtype != dtype or arr.shape != shape:
                raise IndexCorrupt(
                    f"{path}: {name} is {arr.dtype} {arr.shape}, expected {dtype} {shape}"
                )
        plain = {k: v.view(np.ndarray) for k, v in arrays.items()}
        words = plain["codes"].view("<u8").astype(np.uint64, copy=False).reshape(n, HASH_WORDS)
        tables = tbl.Tables(layout, n, plain["perm"], plain["offsets"])
        if verify:
            _check_tables(tables, Path(path))
        index = cls(words, plain["ids"], tables, state=state, delta_limit=delta_limit)
        return index

    def resident(self) -> PdqIndex:
        """The same index with every array copied into this process's own memory.

        A loaded index is memory-mapped: shared by every process through the page
        cache, but in 4 KiB pages, so each of a query's ~9,000 random reads at 10M
        (offsets, ``perm``, hashes) also walks the page table. NumPy asks the kernel
        for transparent huge pages (2 MiB) for large arrays it allocates itself, and
        then those walks mostly vanish. How much that saves depends on how the page
        cache holds the files: at 13.5M hashes, files saved hours before, a batch of
        1,000 cost 367 instead of 637 us of CPU a hash; a generation saved minutes
        before, 308 instead of 370; ``benchmarks/bench_index.py`` (a fresh save,
        two threads) 1.03x the mapped rate. The price is the index's size in private
        memory per process (~130 bytes a hash).
        """
        words = np.array(self._words, dtype=np.uint64, copy=True)
        tables = tbl.Tables(
            self._tables.layout,
            self._tables.n,
            np.array(self._tables.perm, copy=True),
            np.array(self._tables.offsets, copy=True),
        )
        index = PdqIndex(
            words,
            np.array(self._ids, copy=True),
            tables,
            state=self._state,
            delta_limit=self._delta_limit,
        )
        index._alive = None if self._alive is None else self._alive.copy()
        index._dead = self._dead
        index._delta = [(w.copy(), i.copy()) for w, i in self._delta]
        index._delta_len = self._delta_len
        return index

    # --- internals ----------------------------------------------------------------

    def _delta_arrays(self) -> tuple[Words, I64]:
        if len(self._delta) > 1:
            words = np.concatenate([w for w, _ in self._delta])
            id_arr = np.concatenate([i for _, i in self._delta])
            self._delta = [(words, id_arr)]
        if self._delta:
            return self._delta[0]
        return np.zeros((0, HASH_WORDS), dtype=np.uint64), np.zeros(0, dtype=np.int64)

    def _sorted_ids(self) -> tuple[I64, I64]:
        if self._ids_sorted is None:
            order = np.argsort(self._ids, kind="stable")
            self._ids_sorted = (order, self._ids[order])
        return self._ids_sorted


def _check_tables(tables: tbl.Tables, path: Path) -> None:
    """Offsets start and end where they must and never decrease; rows are in range."""
    n = tables.n
    for t in range(tables.layout.m):
        local = tables.table_offsets(t)
        if local[0] != 0 or local[-1] != n or bool((np.diff(local) < 0).any()):
            raise IndexCorrupt(f"{path}: offsets of table {t} are inconsistent")
    if n and int(tables.perm.max()) >= n:
        raise IndexCorrupt(f"{path}: row numbers out of range")


__all__ = ["DEFAULT_DELTA_LIMIT", "DEFAULT_RADIUS", "PdqIndex", "Strategy"]
