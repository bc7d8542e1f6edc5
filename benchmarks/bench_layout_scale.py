"""Colour layout step against many stored layouts: prefiltered vs every layout (issue 16 item 1).

The layout step (``matching.triage.layouts``) used to give every decisive stored layout
the comparison without search, per file; the prefilter (``layout_prefilter``) gives it
only to the ``CANDIDATES`` nearest by colour quantiles. This stores N layouts -- the
originals (generated gradients and walls, as the tests make them) and N - originals
distractors: layouts blended from two generated low-texture pictures (30-70 %) with a
little noise, so their colour spread is like the originals' -- and times, per file and
in the same run, ``LayoutIndex.copy_of`` with the prefilter and without it (CPU time,
``time.process_time``), for edited copies of the originals (7 edits) and for other
generated pictures (negatives). It prints medians, the ratio, the load time of the
index and whether both found the same original for every file.

Usage: ``nice python benchmarks/bench_layout_scale.py [--sizes 1000 10000 100000]
[--originals 4] [--negatives 8] [--baseline-max 20]`` (``--baseline-max``: files timed
without the prefilter per size at most, it costs ~0.5 s per file at 100k).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fingerprints.test_layout import EDITS, gradient, wall

from tessera.fingerprints.layout import Layout, layout_rgb
from tessera.matching.triage.layouts import LayoutIndex

KINDS = {"gradient": gradient, "wall": wall}
BASES = 200
"""Generated pictures the distractors are blended from (seeds 1000...)."""


def _layout(rgb: np.ndarray) -> Layout:
    lay = layout_rgb(rgb)
    assert lay is not None
    return lay


def distractors(n: int, seed: int = 7) -> list[bytes]:
    rng = np.random.default_rng(seed)
    bases = [_layout(KINDS[k](1000 + i)) for i in range(BASES // 2) for k in KINDS]
    out = []
    for _ in range(n):
        a, b = rng.choice(len(bases), 2, replace=False)
        t = float(rng.uniform(0.3, 0.7))
        la, lb = bases[a], bases[b]
        light = (1 - t) * la.light + t * lb.light + rng.normal(0, 2, la.light.shape)
        colour = (1 - t) * la.colour + t * lb.colour + rng.normal(0, 2, la.colour.shape)
        lay = Layout(
            light.astype(np.float32), colour.astype(np.float32), la.aspect, min(la.detail, 0.02)
        )
        out.append(lay.to_bytes())
    return out


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:7.1f} ms" if xs else "      -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--originals", type=int, default=4, help="per kind")
    ap.add_argument("--negatives", type=int, default=8)
    ap.add_argument("--baseline-max", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    originals = [(k, s) for k in KINDS for s in range(1, args.originals // len(KINDS) + 2)][
        : args.originals
    ]
    known = [(900_000 + i, _layout(KINDS[k](s)).to_bytes()) for i, (k, s) in enumerate(originals)]
    copies = [
        (900_000 + i, _layout(fn(KINDS[k](s))).to_bytes())
        for i, (k, s) in enumerate(originals)
        for fn in EDITS.values()
    ]
    negs = [
        (None, _layout(KINDS[k](500 + i)).to_bytes()) for i in range(args.negatives) for k in KINDS
    ]
    pool = distractors(max(args.sizes))
    print(
        f"{len(copies)} edited copies of {len(known)} originals, {len(negs)} negatives; "
        f"set up in {time.perf_counter() - t0:.0f} s"
    )
    for n in args.sizes:
        rows = known + list(enumerate(pool[: n - len(known)]))
        t = time.process_time()
        index = LayoutIndex.of(rows)
        load = time.process_time() - t
        plain = dataclasses.replace(index, candidates=0)
        res: dict[str, dict[str, list[float]]] = {}
        same, found, wrong = 0, {"pre": 0, "all": 0}, {"pre": 0, "all": 0}
        for what, files in (("copies", copies), ("negatives", negs)):
            for j, (truth, value) in enumerate(files):
                hits = {}
                for mode, ix in (("pre", index), ("all", plain)):
                    if mode == "all" and j >= args.baseline_max:
                        continue
                    t = time.process_time()
                    hit = ix.copy_of(value)
                    res.setdefault(what, {}).setdefault(mode, []).append(time.process_time() - t)
                    hits[mode] = hit[0] if hit else None
                    found[mode] += hits[mode] is not None and hits[mode] == truth
                    wrong[mode] += hits[mode] is not None and hits[mode] != truth
                same += len(set(hits.values())) == 1
        print(f"N={n}: index load {load:.2f} s CPU ({len(index)} decisive)")
        for what, r in res.items():
            ratio = statistics.median(r["all"]) / statistics.median(r["pre"])
            print(
                f"  {what:9s} prefiltered {_ms(r['pre'])} ({len(r['pre'])} files)  "
                f"every layout {_ms(r['all'])} ({len(r['all'])} files)  "
                f"ratio {ratio:5.1f}x (median CPU per file)"
            )
        print(
            f"  copies found prefiltered {found['pre']}/{len(copies)}, "
            f"every layout {found['all']}/{min(len(copies), args.baseline_max)} (timed ones); "
            f"wrong matches {wrong['pre']} / {wrong['all']}; same answer on {same} files"
        )


if __name__ == "__main__":
    main()
