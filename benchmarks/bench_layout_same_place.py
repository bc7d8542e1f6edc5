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

Each is counted with the layout step as triage runs it and without its ambiguity rule
(``LayoutIndex.ambiguous``: a file verified about as closely in two known pictures
that are not one picture is no layout copy), from the same searches. Files the rule
leaves undecided go on to local features as in triage (``extract`` and
``extract_mirrored`` against each stored picture's features, a ``copy`` relation, as
``low_texture.py`` models triage's copy check); what they call is printed apart.

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
from tessera.features import LocalFeatures, extract, extract_mirrored
from tessera.features.scene import match_pair
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


def decide(index: LayoutIndex, q: bytes) -> tuple[int | None, int | None]:
    """(known id the layout step calls ``q`` a copy of without the ambiguity rule, with
    it): one search serves both."""
    found = index.verified(q)
    if not found:
        return None, None
    plain = index.media_ids[found[0][0]]
    return plain, None if index.ambiguous(found) else plain


def by_features(rgb: np.ndarray, feats: list[LocalFeatures | None], skip: int) -> int | None:
    """The stored picture local features call ``rgb`` a copy of (most inliers), as
    triage's copy check after the layout step."""
    found: tuple[int, int] | None = None
    for q in (extract(rgb), extract_mirrored(rgb)):
        for k, f in enumerate(feats):
            if f is None or k == skip:
                continue
            m = match_pair(q, f, str(k))
            if m.relation == "copy" and (found is None or m.inliers > found[0]):
                found = (m.inliers, k)
    return None if found is None else found[1]


def stored(feats: list[LocalFeatures | None], pics: list[np.ndarray], k: int) -> LocalFeatures:
    """Picture ``k``'s features as stored (compact), computed once."""
    f = feats[k]
    if f is None:
        f = feats[k] = LocalFeatures.from_bytes(extract(pics[k]).to_bytes())
    return f


def run(sigma: float, cap: int) -> None:
    t0, cpu0 = time.perf_counter(), time.process_time()
    shots: Counter[str] = Counter()
    called: Counter[str] = Counter()
    called_plain: Counter[str] = Counter()
    left_shots: Counter[str] = Counter()
    edits: Counter[str] = Counter()
    edits_plain: Counter[str] = Counter()
    left_edits: Counter[str] = Counter()

    def verdict(hit: int | None, own: int) -> str:
        return "missed" if hit is None else "right" if hit == own else "wrong"

    for every in scene_sets():
        paths = every[:cap]
        name = Path(paths[0]).parent.name
        pics = [blurred(p, sigma) for p in paths]
        known = [layout(x, lt.INGEST) for x in pics]
        feats: list[LocalFeatures | None] = [None] * len(pics)
        for i, x in enumerate(pics):
            q = layout(x, lt.TRIAGE)
            index = LayoutIndex.of([(j, k) for j, k in enumerate(known) if j != i and k])
            if q is None or not len(index):
                continue
            shots[name] += 1
            plain, hit = decide(index, q)
            called_plain[name] += plain is not None
            called[name] += hit is not None
            if plain is not None and hit is None:  # left to local features
                every_f = [stored(feats, pics, k) if k != i else None for k in range(len(pics))]
                left_shots["copy" if by_features(x, every_f, i) is not None else "none"] += 1
        index = LayoutIndex.of([(j, k) for j, k in enumerate(known) if k])
        for i, x in enumerate(pics):
            k = known[i]
            if k is None or not Layout.from_bytes(k).decisive:
                continue
            for fn in lt.EDITS.values():
                e = fn(x)
                q = layout(e, lt.TRIAGE)
                plain, hit = decide(index, q) if q else (None, None)
                edits_plain[verdict(plain, i)] += 1
                edits[verdict(hit, i)] += 1
                if plain is not None and hit is None:
                    every_f = [stored(feats, pics, j) for j in range(len(pics))]
                    left_edits[verdict(by_features(e, every_f, -1), i)] += 1
    print(f"\nColour layout step on blurred same-place sets (sigma {sigma}, <= {cap} a set)")
    print(f"  {'set':40s} another shot called a copy: without the ambiguity rule, with it")
    for name in sorted(shots):
        tag = " (one photo with noise: copies)" if name in COPIES else ""
        print(f"  {name:40s} {called_plain[name]:3d} {called[name]:3d} of {shots[name]}{tag}")
    n = sum(v for k, v in shots.items() if k not in COPIES)
    for label, c in (("without the ambiguity rule", called_plain), ("with it", called)):
        fp = sum(v for k, v in c.items() if k not in COPIES)
        print(f"  other shots called a copy {label}: {fp} of {n}")
    print(
        f"  left by the rule to local features: {sum(left_shots.values())} "
        f"(iguazu included), which call {left_shots['copy']} a copy"
    )
    total = sum(edits.values())
    for label, c in (("without the ambiguity rule", edits_plain), ("with it", edits)):
        print(
            f"  edits of decisive pictures, the set stored, {label}: right {c['right']}, "
            f"wrong {c['wrong']}, missed {c['missed']} of {total}"
        )
    print(
        f"  edits left by the rule to local features: {sum(left_edits.values())}: right "
        f"{left_edits['right']}, wrong {left_edits['wrong']}, missed {left_edits['missed']}"
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
