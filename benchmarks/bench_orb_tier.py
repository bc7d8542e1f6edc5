"""An ORB first tier for triage's copy check, against today's check, in one run (issue 16 item 1).

Today every still no hash matched gets RootSIFT of its picture at <= 320 px (~14 ms CPU)
and a verified retrieval shortlist. The tier measured here would leave a file ``new``
without that SIFT when ORB (:mod:`tessera.features.orb`, the file at <= 640 px, 500
keypoints) finds fewer than ``--threshold`` homography inliers with every picture of
a binary bag-of-words shortlist (ORB of the stored pictures at <= 1,024 px, 1,000
keypoints; both spread over an 8 x 8 grid, ``--cells``; a ``--words``-word vocabulary,
k-means on the bits of the descriptors of pictures that are not queried, faiss); the
other files would go on to today's check.
Printed: how many new files the tier decides, how many copies today's check finds
that the tier would lose (per edit), and the CPU of each step per file.

Two sets (each optional):

* ``--real``: bench_robust's queries (AugLy's 42 outputs of ``dfdc_1.jpg`` and 8 edits
  of 47 other shared photos) and negatives (95 unrelated real photos and generated
  ones), indexed: the originals, the real distractors and ``--generated`` busy
  pictures. Today's check stands in as the 320-px SIFT against every stored compact
  RootSIFT, the picture with the most homography inliers accepted at >= 15 (no
  retrieval, no copy rules: an upper bound of what the 320-px SIFT verifies).
* ``--seizure DIR`` (a ``bench_seizure.py`` folder ``db{N}-side{S}`` with ``db/``,
  ``home/`` and one ``seizure-{M}/``): the files no digest or dihedral PDQ match
  decides (as triage decodes them), today's copy check exactly as triage runs it
  (``copy_check`` in chunks), and the tier on the database pictures' ORB.

Usage: ``TESSERA_SHARED=/work/shared nice -n 10 python benchmarks/bench_orb_tier.py
--real --seizure /tmp/seiz1k/db300-side2048``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import cv2
import faiss

from tessera.features import orb
from tessera.features.local import LocalFeatures, extract, rescale
from tessera.features.verify import verify

cv2.setNumThreads(1)
faiss.omp_set_num_threads(1)  # its OpenMP threads spin on a busy machine (100x CPU)
clock = time.process_time


class BinaryWords:
    """A binary vocabulary (k-means on descriptor bits, centroids rounded to bits) and a
    tf-idf inverted file of the stored pictures, scored densely (a benchmark's size)."""

    def __init__(self, train: np.ndarray, k: int, stored: dict[str, orb.OrbFeatures]) -> None:
        km = faiss.Kmeans(256, k, niter=10, seed=0, verbose=False)
        km.cp.max_points_per_centroid = 200
        km.train(np.unpackbits(train, axis=1).astype(np.float32))
        self.vocab = faiss.IndexBinaryFlat(256)
        self.vocab.add(np.packbits((km.centroids > 0.5).astype(np.uint8), axis=1))
        self.k = k
        self.keys = list(stored)
        hist = [np.unique(self.words(stored[key].desc), return_counts=True) for key in self.keys]
        df = np.zeros(k)
        for u, _ in hist:
            df[u] += 1
        self.idf = np.log((len(self.keys) + 1) / (df + 1))
        self.matrix = np.zeros((len(self.keys), k), np.float32)
        for j, (u, c) in enumerate(hist):
            v = np.sqrt(c) * self.idf[u]
            self.matrix[j, u] = v / max(float(np.linalg.norm(v)), 1e-9)

    def words(self, desc: np.ndarray) -> np.ndarray:
        if len(desc) == 0:
            return np.zeros(0, np.int64)
        _, idx = self.vocab.search(np.ascontiguousarray(desc), 1)
        return np.asarray(idx[:, 0], np.int64)

    def shortlist(self, desc: np.ndarray, n: int) -> list[str]:
        u, c = np.unique(self.words(desc), return_counts=True)
        q = np.zeros(self.k, np.float32)
        q[u] = np.sqrt(c) * self.idf[u]
        return [self.keys[j] for j in np.argsort(-(self.matrix @ q), kind="stable")[:n]]


@dataclass
class Row:
    """One query: its edit (or ``new``), today's verdict and the tier's best inliers."""

    edit: str
    truth: str | None
    today_copy: bool
    orb_best: int
    orb_is_truth: bool
    truth_listed: bool


@dataclass
class Costs:
    ms: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, name: str, t0: float) -> float:
        now = clock()
        self.ms[name] += 1000.0 * (now - t0)
        return now


def tier(
    words: BinaryWords, stored: dict[str, orb.OrbFeatures], q: orb.OrbFeatures, n: int
) -> tuple[int, str | None, list[str]]:
    listed = words.shortlist(q.desc, n)
    best = max(((orb.inliers(q, stored[key]), key) for key in listed), default=(0, None))
    return best[0], best[1], listed


def report(title: str, rows: Sequence[Row], costs: Costs, threshold: int, extra: str) -> None:
    n = max(1, len(rows))
    print(f"\n== {title}: {len(rows)} files the copy check sees; load {os.getloadavg()}")
    print(extra)
    print("CPU ms a file: " + ", ".join(f"{k} {v / n:.2f}" for k, v in costs.ms.items()))
    new = [r for r in rows if r.truth is None]
    copies = [r for r in rows if r.truth is not None]
    today = [r for r in copies if r.today_copy]
    print(
        f"copies {len(copies)}: today's check finds {len(today)}; the truth in the ORB "
        f"shortlist {sum(r.truth_listed for r in copies)}; the ORB tier's best is the truth "
        f"at >= 15 inliers {sum(r.orb_is_truth and r.orb_best >= 15 for r in copies)}"
    )
    top = sorted(r.orb_best for r in new)[-8:]
    print(
        f"new {len(new)}: today's check calls {sum(r.today_copy for r in new)} a copy; "
        f"ORB's best inliers, the highest 8: {top}"
    )
    print(f"{'edit':12} {'n':>4} {'today':>6} {'ORB tier (>=T, truth)':>22}")
    by: dict[str, list[Row]] = collections.defaultdict(list)
    for r in copies:
        by[r.edit].append(r)
    for edit, rs in sorted(by.items()):
        kept = sum(r.today_copy and r.orb_best >= threshold for r in rs)
        print(f"{edit:12} {len(rs):4d} {sum(r.today_copy for r in rs):6d} {kept:22d}")
    for t in sorted({6, 8, 10, 12, 15, threshold}):
        decided = sum(r.orb_best < t for r in new)
        lost = [r.edit for r in today if r.orb_best < t]
        print(
            f"threshold {t:2d}: new files decided without SIFT {decided}/{len(new)}; "
            f"copies today's check finds that the tier would lose {len(lost)} "
            f"{dict(collections.Counter(lost))}"
        )


def run_real(args: argparse.Namespace) -> None:
    from bench_robust import (
        AUGLY,
        EDITS,
        NEG_SEED0,
        NEGATIVE_REAL,
        ORIGINALS,
        REAL_DISTRACTORS,
        query_rgb,
    )
    from bench_scenes import DATA, busy_picture, load

    def rgb_of(key: str) -> np.ndarray:
        rgb = busy_picture(int(key[4:])) if key.startswith("gen/") else load(DATA / key)
        return np.stack([rgb] * 3, -1) if rgb.ndim == 2 else rgb

    keys = ORIGINALS + REAL_DISTRACTORS + [f"gen/{i}" for i in range(args.generated)]
    sift: dict[str, LocalFeatures] = {}
    stored: dict[str, orb.OrbFeatures] = {}
    for key in keys:
        rgb = rgb_of(key)
        if not key.startswith("gen/"):  # a generated picture never matches a real photo
            sift[key] = LocalFeatures.from_bytes(extract(rgb).to_bytes())
        stored[key] = orb.extract(
            rgb, max_side=orb.STORED_SIDE, nfeatures=args.stored_kp, cells=args.cells
        )
    pool = [k for k in keys if k not in ORIGINALS]  # never the queried pictures
    if args.train == "generated":  # as a shipped vocabulary would be: generated pictures only
        pool = [k for k in pool if k.startswith("gen/")]
    train = np.concatenate([stored[k].desc for k in pool])
    words = BinaryWords(train, args.words, stored)
    tasks: list[tuple[str, str, str | None]] = [
        (f"augly:{p.stem}", "augly", ORIGINALS[0])
        for p in sorted((AUGLY / "dfdc_expected_output").glob("test_*.png"))
    ]
    for e in EDITS:
        tasks += [(f"{e}:{o}", "edit", o) for o in ORIGINALS if o != ORIGINALS[0]]
    tasks += [(f"negative:{q}", "negative", None) for q in NEGATIVE_REAL]
    tasks += [(f"busy:{NEG_SEED0 + i}", "busy", None) for i in range(40)]
    costs, rows = Costs(), []
    for qid, group, truth in tasks:
        rgb = query_rgb(qid, group)
        rgb = np.stack([rgb] * 3, -1) if rgb.ndim == 2 else rgb
        h, w = rgb.shape[:2]
        t = clock()
        s = rescale(extract(rgb, max_side=320, nfeatures=300), w, h)
        t = costs.add("SIFT-320 (today)", t)
        q = orb.extract(
            rgb, max_side=orb.QUERY_SIDE, nfeatures=orb.QUERY_NFEATURES, cells=args.cells
        )
        t = costs.add("ORB", t)
        best, key, listed = tier(words, stored, q, args.shortlist)
        costs.add(f"ORB words + {args.shortlist} verifications", t)
        today = max(((verify(s, f).homography_inliers, k) for k, f in sift.items()))
        rows.append(
            Row(
                qid.split(":")[0] if truth else "new",
                truth,
                today[0] >= 15 and (truth is None or today[1] == truth),
                best,
                key == truth,
                truth in listed,
            )
        )
    report(
        "real photos",
        rows,
        costs,
        args.threshold,
        f"{len(keys)} indexed ({args.generated} generated), {args.words} binary words "
        f"trained on {len(pool)} pictures ({args.train}); shortlist "
        f"{args.shortlist}; stored ORB {args.stored_kp} keypoints, grid {args.cells}; "
        "'today' = SIFT-320 against every stored picture, >= 15 inliers",
    )


def run_seizure(args: argparse.Namespace) -> None:
    from bench_seizure import truth as seizure_truth
    from tessera.fingerprints.pdq import pdq_dihedral_rgb, pdq_hash_rgb
    from tessera.matching.scene_store import SceneStore
    from tessera.matching.triage.copies import copy_check
    from tessera.matching.triage.run import VERDICT_CHUNK
    from tessera.media.decode import decode_image
    from tessera.media.vpdq_file import blas_threads
    from tessera.pipeline.result import FileResult
    from tessera.storage.db import Database

    root: Path = args.seizure
    folder = next(p for p in sorted(root.glob("seizure-*")) if p.is_dir())
    db_files = sorted((root / "db").glob("known-*.jpg"))
    n_db, n = len(db_files), int(folder.name.split("-")[1])
    truth = seizure_truth(n, n_db)  # bench_seizure's plan: file -> database picture
    stored: dict[str, orb.OrbFeatures] = {}
    pdq: list[int] = []
    t = clock()
    for p in db_files:
        dec = decode_image(p.read_bytes(), fast=True)
        h, w = dec.full_shape
        stored[p.stem] = orb.extract(
            dec.rgb,
            max_side=orb.STORED_SIDE,
            nfeatures=args.stored_kp,
            cells=args.cells,
            width=w,
            height=h,
        )
        pdq.append(int.from_bytes(bytes(pdq_hash_rgb(dec.rgb, dec.grid).fingerprint.payload)))
    ingest_ms = 1000.0 * (clock() - t) / max(1, n_db)
    train = np.concatenate([f.desc for f in stored.values()])
    words = BinaryWords(train, args.words, stored)
    db = Database(f"sqlite:///{(root / 'home' / 'tessera.sqlite').resolve()}")
    scene = SceneStore(db, root / "home" / "scene-index", read_only=True)
    costs, checked, rows = Costs(), [], []
    files = sorted(folder.iterdir())[: args.limit or None]
    for p in files:
        if p.name.endswith("-exact.jpg"):
            continue  # digests decide it
        dec = decode_image(p.read_bytes(), fast=True)
        h, w = dec.full_shape
        dih = pdq_dihedral_rgb(dec.rgb, dec.grid, exact="never")
        codes = [int.from_bytes(bytes(v.payload)) for v in dih.variants.values()]
        if dih.quality >= 50 and any(bin(a ^ b).count("1") <= 31 for a in codes for b in pdq):
            continue  # dihedral PDQ decides it
        t = clock()
        s = rescale(extract(dec.rgb, max_side=320, nfeatures=300), w, h)
        t = costs.add("SIFT-320 (today)", t)
        q = orb.extract(
            dec.rgb,
            max_side=orb.QUERY_SIDE,
            nfeatures=orb.QUERY_NFEATURES,
            width=w,
            height=h,
            cells=args.cells,
        )
        t = costs.add("ORB", t)
        best, key, listed = tier(words, stored, q, args.shortlist)
        costs.add(f"ORB words + {args.shortlist} verifications", t)
        checked.append((len(checked), FileResult(p.name, "ok", copy_features=s.to_bytes_full())))
        want = truth[p.name]
        rows.append(Row(p.stem.split("-")[1], want, False, best, key == want, want in listed))
    t = clock()
    with blas_threads(1):
        for a in range(0, len(checked), VERDICT_CHUNK):
            found, _ = copy_check(scene, checked[a : a + VERDICT_CHUNK])
            for i in found:
                rows[i].today_copy = True
    costs.add("copy check (today, chunked)", t)
    report(
        f"seizure {folder}",
        rows,
        costs,
        args.threshold,
        f"{n_db} stored pictures (ORB of each {ingest_ms:.1f} ms with its decode and PDQ), "
        f"{args.words} binary words trained on them; shortlist {args.shortlist}; "
        f"stored ORB {args.stored_kp} keypoints, grid {args.cells}",
    )


Runner = Callable[[argparse.Namespace], None]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true", help="bench_robust's real-photo queries")
    ap.add_argument("--generated", type=int, default=300, help="busy pictures indexed (--real)")
    ap.add_argument("--seizure", type=Path, default=None, help="a bench_seizure db*-side* folder")
    ap.add_argument("--limit", type=int, default=0, help="first N seizure files (0: all)")
    ap.add_argument("--stored-kp", type=int, default=orb.STORED_NFEATURES, help="stored ORB")
    ap.add_argument(
        "--train",
        choices=("others", "generated"),
        default="others",
        help="--real: words from the pictures not queried, or from the generated only",
    )
    ap.add_argument(
        "--cells", type=int, default=orb.SPREAD_CELLS, help="keypoint grid (0: strongest)"
    )
    ap.add_argument("--words", type=int, default=1024, help="binary vocabulary size")
    ap.add_argument("--shortlist", type=int, default=3, help="ORB candidates verified a file")
    ap.add_argument("--threshold", type=int, default=10, help="inliers below: decided new")
    args = ap.parse_args()
    runs: list[Runner] = [r for on, r in ((args.real, run_real), (args.seizure, run_seizure)) if on]
    if not runs:
        ap.error("give --real and/or --seizure DIR")
    for run in runs:
        run(args)


if __name__ == "__main__":
    main()
