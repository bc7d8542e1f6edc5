"""A server worker's delta: scanned as before, scanned transposed, or indexed; one run.

While the index writer saves a new 10M generation during a bulk import (tens of CPU
seconds), the rows committed since the saved base (the delta) are searched beside it
by every lookup. This prints, for delta sizes ``--sizes``, the CPU of one single-hash
search of the delta (median of ``--queries`` over half planted near copies, half
misses) for

* ``scan``: ``tessera.index.scan.scan`` over ``(rows, 4)`` words, transposing each
  tile (what a worker did before the delta was kept transposed and indexed);
* ``columns``: ``scan_columns`` over the delta kept as ``(4, rows)`` (the unindexed
  tail now);
* ``indexed``: a ``PdqIndex`` built over the delta (``LivePdqIndex`` builds one in a
  background thread once the tail reaches 32,768 rows), with its build CPU;

each against ``scan``, and checks all three return the same (query, row, distance)
set.

    python benchmarks/bench_live_delta.py --sizes 50000,200000,600000
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tessera.index import PdqIndex
from tessera.index.codes import codes_from_words, words_from_codes
from tessera.index.scan import scan, scan_columns


def _cpu_us(fn: object, queries: np.ndarray) -> tuple[float, list[set[tuple[int, int]]]]:
    times, found = [], []
    for q in queries:
        t = time.process_time()
        got = fn(q[None, :])  # type: ignore[operator]
        times.append((time.process_time() - t) * 1e6)
        found.append(got)
    return statistics.median(times), found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="50000,200000,600000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"{'delta rows':>10} {'scan us':>9} {'columns us':>11} {'indexed us':>11} "
        f"{'build s':>8} {'columns x':>9} {'indexed x':>9}"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        a, b, c, build = _one_size(rng, n, args.queries)
        print(f"{n:>10,} {a:>9.0f} {b:>11.0f} {c:>11.0f} {build:>8.2f} {a / b:>9.2f} {a / c:>9.2f}")


def _one_size(rng: np.random.Generator, n: int, nq: int) -> tuple[float, float, float, float]:
    codes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(nq, 32), dtype=np.uint8)
    for i in range(0, nq, 2):  # half near copies (<= 12 bits), half misses
        q = codes[rng.integers(n)].copy()
        for b in rng.choice(256, size=int(rng.integers(0, 13)), replace=False):
            q[b // 8] ^= np.uint8(1 << (b % 8))
        queries[i] = q
    words = words_from_codes(codes)
    cols = np.ascontiguousarray(words.T)
    t = time.process_time()
    index = PdqIndex.build(codes_from_words(words), np.arange(n, dtype=np.int64), threads=1)
    build = time.process_time() - t

    def as_set(tr: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
        return {(int(r), int(d)) for r, d in zip(tr[1], tr[2], strict=True)}

    def indexed(q: np.ndarray) -> set[tuple[int, int]]:
        res = index.search(q, 31, threads=1)
        return {(int(i), int(d)) for i, d in zip(res.id, res.distance, strict=True)}

    a, fa = _cpu_us(lambda q: as_set(scan(words_from_codes(q), words, 31)), queries)
    b, fb = _cpu_us(lambda q: as_set(scan_columns(words_from_codes(q), cols, 31)), queries)
    c, fc = _cpu_us(indexed, queries)
    if not fa == fb == fc:
        raise SystemExit(f"answers differ at {n} rows")
    return a, b, c, build


if __name__ == "__main__":
    main()
