"""PDQ radius search at scale: Tessera's index against FAISS and brute force, one run.

Data as in ``../shared/reference/performance-anchors.md`` section 2: N uniform random
256-bit codes (seeded); 1,000 random queries, of which queries 0-499 each get 1-3
planted copies in the database at Hamming distance uniform 0..31 (random bit
positions) and queries 500-999 have none. Radius 31 (``<= 31``; FAISS
``range_search`` is strict, so it is given 32).

Methods, each in a fresh subprocess so its resident-memory delta is its own:

* ``tessera``        ``PdqIndex`` (multi-index hashing over sorted arrays, numpy);
* ``faiss-flat``     ``IndexBinaryFlat`` range search (exact brute force, C++);
* ``faiss-mih``      ``IndexBinaryMultiHash(256, 16, 16)`` with ``nflip=1``, the
                     exact-for-31 configuration of Meta's PDQ multi-index hashing
                     and HMA;
* ``numpy-brute``    ``tessera.index.brute_force_search`` on a subset of queries:
                     the recall oracle.

Per method: build time, resident memory added by the build (VmRSS delta; peak in
brackets), batched throughput (all queries in one call, median of 3), single-query
latency (median / p99 over 200 queries, one at a time; both after an untimed
warm-up search of 50 queries), recall of the planted
pairs, and recall / false positives against the brute-force oracle on its subset.
The "other load" column is CPU time used by *other* processes during the method's
run, in cores: the machine has 2, so anything well above 0 means noisy numbers.

Usage: ``python benchmarks/bench_index.py [--n N] [--queries Q] [--threads T]
[--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

RADIUS = 31
PLANTED_QUERIES = 500
SINGLE_QUERIES = 200
BATCH_RUNS = 3
METHODS = ("tessera", "faiss-flat", "faiss-mih", "numpy-brute")

Pairs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


# --- data -----------------------------------------------------------------------------


def generate(n: int, n_queries: int, seed: int) -> dict[str, NDArray[Any]]:
    """Random codes, queries, and planted near-copies (rows) of queries 0..499."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(n_queries, 32), dtype=np.uint8)
    n_planted = min(PLANTED_QUERIES, n_queries)
    copies = rng.integers(1, 4, size=n_planted)
    rows = rng.choice(n, size=int(copies.sum()), replace=False)
    owners = np.repeat(np.arange(n_planted), copies)
    for row, q in zip(rows.tolist(), owners.tolist(), strict=True):
        code = queries[q].copy()
        distance = int(rng.integers(0, RADIUS + 1))
        for bit in rng.choice(256, size=distance, replace=False).tolist():
            code[bit // 8] ^= np.uint8(1 << (bit % 8))
        codes[row] = code
    return {
        "codes": codes,
        "queries": queries,
        "planted": np.stack([owners, rows]).T.astype(np.int64),
    }


def oracle_queries(n_queries: int, k: int) -> NDArray[np.int64]:
    """Half planted, half not: the brute-force subset."""
    half = k // 2
    planted = np.arange(min(half, PLANTED_QUERIES, n_queries))
    rest = np.arange(PLANTED_QUERIES, min(PLANTED_QUERIES + k - planted.shape[0], n_queries))
    return np.concatenate([planted, rest]).astype(np.int64)


# --- process measurements ---------------------------------------------------------------


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_ticks() -> tuple[int, int]:
    """(busy ticks of the whole machine, ticks of this process)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) for x in fields]
    busy = sum(values) - values[3] - values[4]  # minus idle and iowait
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return busy, int(own[11]) + int(own[12])  # utime + stime


class LoadMeter:
    """CPU used by other processes, in cores, between start() and stop()."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0, self.own0 = cpu_ticks()

    def stop(self) -> float:
        busy, own = cpu_ticks()
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = time.perf_counter() - self.t0
        return max(0.0, ((busy - self.busy0) - (own - self.own0)) / hz / max(elapsed, 1e-9))


# --- one method, in its own process ----------------------------------------------------


class Engine:
    """Build + batched search + single search for one method."""

    name = ""

    def build(self, codes: NDArray[np.uint8], threads: int) -> None:
        raise NotImplementedError

    def search(self, queries: NDArray[np.uint8]) -> Pairs:
        raise NotImplementedError

    def search_single(self, query: NDArray[np.uint8]) -> int:
        raise NotImplementedError

    def extra(self, queries: NDArray[np.uint8], workdir: Path) -> dict[str, float]:
        """Method-specific figures, measured after everything else."""
        return {}


class TesseraEngine(Engine):
    name = "tessera"

    def build(self, codes: NDArray[np.uint8], threads: int) -> None:
        from tessera.index import PdqIndex

        self.threads = threads
        self.index = PdqIndex.build(
            codes, np.arange(codes.shape[0], dtype=np.int64), threads=threads
        )

    def search(self, queries: NDArray[np.uint8]) -> Pairs:
        res = self.index.search(queries, RADIUS, threads=self.threads)
        return res.query, res.id, res.distance

    def search_single(self, query: NDArray[np.uint8]) -> int:
        return len(self.index.search_one(query, RADIUS))

    def extra(self, queries: NDArray[np.uint8], workdir: Path) -> dict[str, float]:
        """Save, open (verified, and not), and search the memory-mapped index."""
        from tessera.index import PdqIndex

        path = workdir / "tessera-index"
        out: dict[str, float] = {}
        t = time.perf_counter()
        self.index.save(path, state="bench")
        out["save_s"] = time.perf_counter() - t
        t = time.perf_counter()
        PdqIndex.load(path)
        out["load_verified_s"] = time.perf_counter() - t
        t = time.perf_counter()
        loaded = PdqIndex.load(path, verify=False)
        out["load_mmap_s"] = time.perf_counter() - t
        out["loaded_qps"] = self._batched_qps(loaded, queries)
        t = time.perf_counter()
        resident = loaded.resident()  # what a server worker searches (live_index)
        out["resident_s"] = time.perf_counter() - t
        out["resident_qps"] = self._batched_qps(resident, queries)
        del resident
        extra = queries[:64]
        t = time.perf_counter()
        self.index.add(extra, np.arange(extra.shape[0], dtype=np.int64) + 10**12)
        self.index.compact()
        out["compact_s"] = time.perf_counter() - t
        return out

    def _batched_qps(self, index: Any, queries: NDArray[np.uint8]) -> float:
        """Queries a second, all in one call, median of ``BATCH_RUNS``."""
        runs = []
        for _ in range(BATCH_RUNS):
            t = time.perf_counter()
            index.search(queries, RADIUS, threads=self.threads)
            runs.append(time.perf_counter() - t)
        return float(queries.shape[0] / statistics.median(runs))


class FaissEngine(Engine):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"faiss-{kind}"

    def build(self, codes: NDArray[np.uint8], threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        self.index: Any
        if self.kind == "flat":
            self.index = faiss.IndexBinaryFlat(256)
        else:
            self.index = faiss.IndexBinaryMultiHash(256, 16, 16)
            self.index.nflip = 1
        self.index.add(codes)

    def search(self, queries: NDArray[np.uint8]) -> Pairs:
        lims, dist, ids = self.index.range_search(queries, RADIUS + 1)  # strict "<"
        q = np.repeat(np.arange(queries.shape[0]), np.diff(lims.astype(np.int64)))
        return q.astype(np.int64), ids.astype(np.int64), dist.astype(np.int64)

    def search_single(self, query: NDArray[np.uint8]) -> int:
        lims, _, _ = self.index.range_search(query.reshape(1, 32), RADIUS + 1)
        return int(lims[1])


class BruteEngine(Engine):
    name = "numpy-brute"

    def build(self, codes: NDArray[np.uint8], threads: int) -> None:
        self.codes = codes
        self.ids = np.arange(codes.shape[0], dtype=np.int64)

    def search(self, queries: NDArray[np.uint8]) -> Pairs:
        from tessera.index import brute_force_search

        res = brute_force_search(self.codes, self.ids, queries, RADIUS)
        return res.query, res.id, res.distance

    def search_single(self, query: NDArray[np.uint8]) -> int:
        return len(self.search(query.reshape(1, 32))[0])


def engine(name: str) -> Engine:
    makers: dict[str, Callable[[], Engine]] = {
        "tessera": TesseraEngine,
        "faiss-flat": lambda: FaissEngine("flat"),
        "faiss-mih": lambda: FaissEngine("mih"),
        "numpy-brute": BruteEngine,
    }
    return makers[name]()


def worker(name: str, data_dir: Path, out: Path, threads: int, oracle_k: int) -> None:
    codes = np.load(data_dir / "codes.npy")
    queries = np.load(data_dir / "queries.npy")
    eng = engine(name)
    meter = LoadMeter()
    rss0, hwm0 = status_kb("VmRSS"), status_kb("VmHWM")
    t = time.perf_counter()
    eng.build(codes, threads)
    build_s = time.perf_counter() - t
    rss1, hwm1 = status_kb("VmRSS"), status_kb("VmHWM")

    subset = oracle_queries(queries.shape[0], oracle_k) if name == "numpy-brute" else None
    batch = queries if subset is None else queries[subset]
    eng.search(batch[: min(50, batch.shape[0])])  # warm-up, not timed
    runs: list[float] = []
    result: Pairs | None = None
    for _ in range(BATCH_RUNS if subset is None else 1):
        t = time.perf_counter()
        result = eng.search(batch)
        runs.append(time.perf_counter() - t)
    assert result is not None
    q, ids, dist = result
    if subset is not None:
        q = subset[q]

    single_idx = np.concatenate(
        [np.arange(SINGLE_QUERIES // 2), PLANTED_QUERIES + np.arange(SINGLE_QUERIES // 2)]
    )
    single_idx = single_idx[single_idx < queries.shape[0]]
    if subset is not None:
        single_idx = single_idx[:10]
    lat: list[float] = []
    for i in single_idx.tolist():
        t = time.perf_counter()
        eng.search_single(queries[i])
        lat.append(time.perf_counter() - t)
    other = meter.stop()
    extra = eng.extra(queries, data_dir)

    np.savez(out.with_suffix(".npz"), q=q, id=ids, d=dist)
    out.write_text(
        json.dumps(
            {
                "method": name,
                "build_s": build_s,
                "rss_mb": (rss1 - rss0) / 1024,
                "peak_mb": (hwm1 - hwm0) / 1024 if hwm1 > hwm0 else 0.0,
                "batch_runs_s": runs,
                "batch_queries": int(batch.shape[0]),
                "single_ms": [x * 1e3 for x in lat],
                "other_load": other,
                "extra": extra,
                "index_bytes": getattr(getattr(eng, "index", None), "nbytes", None)
                if name == "tessera"
                else None,
            }
        )
    )


# --- the parent: run everything, compare, print --------------------------------------


def run_method(name: str, data_dir: Path, threads: int, oracle_k: int) -> dict[str, Any]:
    out = data_dir / f"{name}.json"
    cmd = [sys.executable, __file__, "--worker", name, "--data", str(data_dir)]
    cmd += ["--threads", str(threads), "--oracle-queries", str(oracle_k)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    print(f"  running {name} ...", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, env=env)
    info: dict[str, Any] = json.loads(out.read_text())
    with np.load(out.with_suffix(".npz")) as z:
        info["pairs"] = (z["q"], z["id"], z["d"])
    return info


def pair_set(q: NDArray[np.int64], ids: NDArray[np.int64]) -> set[tuple[int, int]]:
    return set(zip(q.tolist(), ids.tolist(), strict=True))


def evaluate(
    results: dict[str, dict[str, Any]], planted: NDArray[np.int64], subset: NDArray[np.int64]
) -> None:
    truth_q, truth_i, truth_d = results["numpy-brute"]["pairs"]
    truth = set(zip(truth_q.tolist(), truth_i.tolist(), truth_d.tolist(), strict=True))
    in_subset = set(subset.tolist())
    planted_pairs = pair_set(planted[:, 0], planted[:, 1])
    flat = results.get("faiss-flat")
    flat_triples = (
        set(zip(*(a.tolist() for a in flat["pairs"]), strict=True)) if flat is not None else None
    )
    for info in results.values():
        q, ids, d = info["pairs"]
        triples = set(zip(q.tolist(), ids.tolist(), d.tolist(), strict=True))
        found = {(a, b) for a, b, _ in triples}
        info["planted_recall"] = len(found & planted_pairs) / max(1, len(planted_pairs))
        mine = {t for t in triples if t[0] in in_subset}
        info["oracle_recall"] = len(mine & truth) / max(1, len(truth))
        info["false_pos"] = len(mine - truth)
        info["same_as_flat"] = None if flat_triples is None else triples == flat_triples
        info["n_pairs"] = len(triples)


def fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, n: int) -> str:
    lines = []
    header = [
        "method",
        "build s",
        "mem MB (peak)",
        "batch q/s",
        "single ms med/p99",
        "planted recall",
        "oracle recall",
        "false pos",
        "= faiss-flat",
        "other load",
    ]
    rows = []
    for name in METHODS:
        info = results.get(name)
        if info is None:
            continue
        qps = info["batch_queries"] / statistics.median(info["batch_runs_s"])
        info["qps"] = qps
        lat = np.array(info["single_ms"])
        note = f" ({info['batch_queries']} q)" if name == "numpy-brute" else ""
        rows.append(
            [
                name,
                f"{info['build_s']:.1f}",
                f"{info['rss_mb']:.0f} ({info['peak_mb']:.0f})",
                f"{qps:,.0f}{note}",
                f"{np.median(lat):.2f} / {np.percentile(lat, 99):.2f}",
                f"{info['planted_recall']:.4f}" if name != "numpy-brute" else "-",
                f"{info['oracle_recall']:.4f}",
                str(info["false_pos"]),
                {None: "-", True: "yes", False: "NO"}[
                    None if name == "numpy-brute" else info["same_as_flat"]
                ],
                f"{info['other_load']:.2f}",
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines.append(
        f"PDQ radius search, N={n:,}, {args.queries} queries ({PLANTED_QUERIES} with 1-3 planted"
        f" copies at 0..31), radius <= {RADIUS}, threads={args.threads}"
    )
    lines.append(fmt_row(header, widths))
    lines.append(fmt_row(["-" * w for w in widths], widths))
    lines.extend(fmt_row(r, widths) for r in rows)
    t = results.get("tessera")
    if t is not None:
        if t.get("index_bytes"):
            lines.append(f"tessera index arrays: {t['index_bytes'] / 1e6:,.0f} MB")
        x = t.get("extra") or {}
        if x:
            lines.append(
                f"tessera on disk: save {x['save_s']:.1f} s, open {x['load_mmap_s']:.2f} s"
                f" (memory-mapped; {x['load_verified_s']:.1f} s with sha256 verification),"
                f" {x['loaded_qps']:,.0f} q/s batched when opened; copied into the process"
                f" ({x['resident_s']:.1f} s; huge pages) {x['resident_qps']:,.0f} q/s"
                f" ({x['resident_qps'] / x['loaded_qps']:.2f}x mapped); add 64 + compact"
                f" {x['compact_s']:.1f} s"
            )
        for peer in ("faiss-flat", "faiss-mih"):
            if peer in results:
                lines.append(
                    f"tessera / {peer}: {t['qps'] / results[peer]['qps']:.1f}x batched q/s,"
                    f" {np.median(results[peer]['single_ms']) / np.median(t['single_ms']):.1f}x"
                    " single-query median latency"
                )
    import faiss

    lines.append(
        f"python {platform.python_version()}, numpy {np.__version__}, faiss {faiss.__version__},"
        f" {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="n=200,000 for a smoke run")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--oracle-queries", type=int, default=200, help="brute-force subset size")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json", type=Path, help="also write raw figures here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(
            args.worker,
            args.data,
            args.data / f"{args.worker}.json",
            args.threads,
            args.oracle_queries,
        )
        return
    n = 200_000 if args.quick else args.n
    methods = [m for m in args.methods.split(",") if m]
    if "numpy-brute" not in methods:
        methods.append("numpy-brute")
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        data_dir = Path(tmp)
        t = time.perf_counter()
        data = generate(n, args.queries, args.seed)
        for key, arr in data.items():
            np.save(data_dir / f"{key}.npy", arr)
        print(f"  data: {n:,} codes in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        results = {m: run_method(m, data_dir, args.threads, args.oracle_queries) for m in methods}
        subset = oracle_queries(args.queries, args.oracle_queries)
        evaluate(results, data["planted"], subset)
    text = report(results, args, n)
    print(text)
    if args.json:
        raw = {m: {k: v for k, v in info.items() if k != "pairs"} for m, info in results.items()}
        args.json.write_text(json.dumps({"n": n, "results": raw, "report": text}, indent=1))


if __name__ == "__main__":
    main()
