"""Copy or other shot for the colour layout step (issue 16 items 2 and 3), one run.

``low_texture.py`` has one set of other shots (the Sceaux castle among its blurred
photos). This takes every shared scene set of ``bench_same_picture.py`` (each picture
another photograph of one place; at most ``--cap`` per set), blurred as
``low_texture.blurred_photo`` blurs (640 px, Gaussian ``--sigma``) so their layouts are
decisive, and asks the layout step (``matching.triage.layouts``, as triage does):

* each picture against the stored layouts of the other pictures of its set: another
  shot, so any copy is a false positive (the KAZE Iguazu sequence is one photo with
  noise added, i.e. copies: reported apart);
* each decisive picture's edits (``low_texture.EDITS``) against the whole set stored:
  found as its own original (right), as a sibling (wrong) or not at all.

Sets in folders of the same name are counted together (the phototourism landmarks, the
two lightglue pairs).

Usage: ``python benchmarks/bench_layout_same_place.py [--sigma 6] [--cap 10]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import low_texture as lt
from bench_same_picture import scene_sets
from bench_scenes import load
from tessera.fingerprints.layout import Layout
from tessera.matching.triage.layouts import LayoutIndex
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import HashOptions

COPIES = {"iguazu"}
"""Sets whose pictures are one photo (noise added): copies, not other shots."""


def blurred(path: str, sigma: float) -> np.ndarray:
    rgb = load(Path(path))
    s = 640 / max(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (0, 0), sigma))


def layout(rgb: np.ndarray, options: HashOptions) -> bytes | None:
    return hash_bytes(lt._png(rgb), "x", options).layout


def run(sigma: float, cap: int) -> None:
    t0, cpu0 = time.perf_counter(), time.process_time()
    shots: Counter[str] = Counter()
    called: Counter[str] = Counter()
    edits: Counter[str] = Counter()
    for every in scene_sets():
        paths = every[:cap]
        name = Path(paths[0]).parent.name
        pics = [blurred(p, sigma) for p in paths]
        known = [layout(x, lt.INGEST) for x in pics]
        for i, x in enumerate(pics):
            q = layout(x, lt.TRIAGE)
            index = LayoutIndex.of([(j, k) for j, k in enumerate(known) if j != i and k])
            if q is None or not len(index):
                continue
            shots[name] += 1
            if index.copy_of(q) is not None:
                called[name] += 1
        index = LayoutIndex.of([(j, k) for j, k in enumerate(known) if k])
        for i, x in enumerate(pics):
            k = known[i]
            if k is None or not Layout.from_bytes(k).decisive:
                continue
            for fn in lt.EDITS.values():
                q = layout(fn(x), lt.TRIAGE)
                hit = index.copy_of(q) if q else None
                edits["missed" if hit is None else "right" if hit[0] == i else "wrong"] += 1
    print(f"\nColour layout step on blurred same-place sets (sigma {sigma}, <= {cap} a set)")
    for name in sorted(shots):
        tag = " (one photo with noise: copies)" if name in COPIES else ""
        print(f"  {name:40s} another shot called a copy {called[name]:3d} of {shots[name]}{tag}")
    fp = sum(v for k, v in called.items() if k not in COPIES)
    n = sum(v for k, v in shots.items() if k not in COPIES)
    print(f"  other shots called a copy: {fp} of {n}")
    total = sum(edits.values())
    print(
        f"  edits of decisive pictures, the set stored: right {edits['right']}, "
        f"wrong {edits['wrong']}, missed {edits['missed']} of {total}"
    )
    print(f"  ({time.perf_counter() - t0:.0f} s, {time.process_time() - cpu0:.0f} CPU s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigma", type=float, default=6.0)
    ap.add_argument("--cap", type=int, default=10, help="pictures per set at most")
    args = ap.parse_args()
    run(args.sigma, args.cap)


if __name__ == "__main__":
    main()
