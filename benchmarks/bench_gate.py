"""A gate before triage's copy check, measured before it is wired (issue 16 item 1).

Today every still that no digest or dihedral PDQ match decided gets RootSIFT at
<= 320 px (~14 ms CPU) and a verified retrieval shortlist. A gate would yield, from
what every file already has (its decoded pixels, its PDQ and 8 dihedral PDQs, its
colour layout), the known pictures it could be an edited copy of; a file with no
candidate would be ``new`` without SIFT. Measured here, per candidate source:

* ``pdq``: the file's 8 dihedral PDQs against each stored PDQ, relaxed distance;
* ``pdq-regions``: the same for PDQs of the file's regions (bars trimmed as the
  colour layout trims them, the central 80 %) against the stored PDQ and a stored
  central-80 % PDQ (a second fingerprint per known picture);
* ``layout``: the colour layout's comparison without search (``Query.quick``,
  robust CIELAB distance, best dihedral variant) against every stored layout;
* their union.

Printed per edit class: copies whose true original is a candidate, among all and
among those today's check finds (the gate must lose none of those), and the share of
new files (negatives) with any candidate, i.e. the SIFT work left, at each threshold;
with the per-pair rate of false candidates to judge a 100k database.

Two sets (each optional), as ``bench_orb_tier.py`` builds them:

* ``--real``: bench_robust's edits of the shared originals, AugLy's outputs of
  ``dfdc_1.jpg``, 95 unrelated real photos and 40 generated busy pictures as
  negatives; indexed: the originals, the real distractors, ``--generated`` busy
  pictures. Today's check stands in as the 320-px SIFT against every stored picture,
  >= 15 homography inliers with the truth (an upper bound of what it finds).
* ``--seizure DIR``: a ``bench_seizure.py`` folder; the files no digest or dihedral
  PDQ match decides, today's copy check exactly as triage runs it.

Measured in session 17 (README, "Similar features"): it does not hold; a crop of a
busy picture is far from its original by every source here, and at 100k pictures the
layout's distances of unrelated real photos reach those of edited copies.

Usage: ``TESSERA_SHARED=/work/shared nice -n 10 python benchmarks/bench_gate.py --real
--seizure /tmp/seiz1k/db300-side2048``.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import cv2

from tessera.features.local import LocalFeatures, extract, rescale
from tessera.features.verify import verify
from tessera.fingerprints.layout import Query, grid_of, layout_rgb, trim_bars
from tessera.fingerprints.pdq import pdq_dihedral_rgb, pdq_hash_rgb

cv2.setNumThreads(1)
clock = time.process_time

Q_REGIONS = ("full", "trim", "c80")
S_REGIONS = ("full", "c80")
PDQ_T = (40, 56, 64, 72, 80, 88)
LAY_T = (6.0, 8.0, 10.0, 12.0, 15.0, 20.0)
_POP = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _c80(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb[h // 10 : h - h // 10, w // 10 : w - w // 10]


def _trim(rgb: np.ndarray) -> np.ndarray | None:
    t, b, left, r = trim_bars(rgb)
    if t + b + left + r == 0:
        return None
    return rgb[t : rgb.shape[0] - b, left : rgb.shape[1] - r]


def _bits(payload: bytes) -> np.ndarray:
    return np.frombuffer(bytes(payload), np.uint8)


@dataclass
class Stored:
    """Per known picture: PDQ of each stored region (packed, 32 bytes), the layout grid."""

    keys: list[str] = field(default_factory=list)
    pdq: dict[str, list[np.ndarray]] = field(default_factory=lambda: {r: [] for r in S_REGIONS})
    grids: list[np.ndarray] = field(default_factory=list)

    def add(self, key: str, rgb: np.ndarray) -> None:
        self.keys.append(key)
        self.pdq["full"].append(_bits(pdq_hash_rgb(rgb, exact="never").fingerprint.payload))
        c = np.ascontiguousarray(_c80(rgb))
        self.pdq["c80"].append(_bits(pdq_hash_rgb(c, exact="never").fingerprint.payload))
        lay = layout_rgb(rgb)
        self.grids.append(grid_of(lay) if lay is not None else np.full((256, 3), 1e6, np.float32))

    def freeze(self) -> None:
        self.mat = {r: np.stack(v) for r, v in self.pdq.items()}
        self.grid = np.stack(self.grids)


@dataclass
class Signals:
    """One file's distance to every stored picture under each candidate source."""

    pdq: np.ndarray  # len(Q_REGIONS) x len(S_REGIONS) x n, min over dihedral variants
    layout: np.ndarray  # n, min over dihedral variants
    ms_pdq: float = 0.0
    ms_layout: float = 0.0


def signals(rgb: np.ndarray, st: Stored) -> Signals:
    n = len(st.keys)
    t = clock()
    pdq = np.full((len(Q_REGIONS), len(S_REGIONS), n), 256, np.int32)
    for qi, region in enumerate(Q_REGIONS):
        img = rgb if region == "full" else (_trim(rgb) if region == "trim" else _c80(rgb))
        if img is None or min(img.shape[:2]) < 16:
            continue
        dih = pdq_dihedral_rgb(np.ascontiguousarray(img), exact="never")
        hs = np.stack([_bits(v.payload) for v in dih.variants.values()])  # 8 x 32
        for si, sr in enumerate(S_REGIONS):
            d = _POP[hs[:, None, :] ^ st.mat[sr][None]].sum(axis=2, dtype=np.int32)
            pdq[qi, si] = d.min(axis=0)
    ms_pdq = 1000 * (clock() - t)
    t = clock()
    lay = layout_rgb(rgb)
    layout = np.full(n, 1e6, np.float32)
    if lay is not None:
        keep = max(1, round(0.75 * 256))
        for _, g in Query(lay).variants:
            d = np.linalg.norm(st.grid - g[None], axis=2)
            layout = np.minimum(layout, np.partition(d, keep - 1, axis=1)[:, :keep].mean(axis=1))
    return Signals(pdq, layout, ms_pdq, 1000 * (clock() - t))


@dataclass
class Row:
    qid: str
    edit: str  # the edit, or "new"
    truth: int | None  # position of the original among the stored pictures
    today: bool  # today's check finds it (copies) / calls it a copy (new files)
    sig: Signals


@dataclass(frozen=True)
class Gate:
    """Candidates: PDQ distance (``regions``: the least over every region pair, else
    the file's full PDQ against the stored full PDQ) <= ``pdq``, or layout distance
    without search <= ``layout`` (None: that source not used)."""

    pdq: int | None = None
    regions: bool = False
    layout: float | None = None

    @property
    def name(self) -> str:
        parts = []
        if self.pdq is not None:
            parts.append(f"pdq {'regions' if self.regions else 'full'}<={self.pdq}")
        if self.layout is not None:
            parts.append(f"layout<={self.layout:g}")
        return " | ".join(parts)

    def __call__(self, s: Signals) -> np.ndarray:
        out = np.zeros(s.layout.shape, bool)
        if self.pdq is not None:
            d = s.pdq.min(axis=(0, 1)) if self.regions else s.pdq[0, 0]
            out |= d <= self.pdq
        if self.layout is not None:
            out |= s.layout <= self.layout
        return out


def rules() -> list[Gate]:
    out = [Gate(pdq=t) for t in PDQ_T] + [Gate(pdq=t, regions=True) for t in PDQ_T]
    out += [Gate(layout=t) for t in LAY_T]
    out += [Gate(tp, True, tl) for tp in (56, 64, 72) for tl in (8.0, 10.0, 12.0)]
    return out


def report(title: str, rows: list[Row], n_stored: int, extra: str, dump: Path | None) -> None:
    if dump is not None:
        with dump.open("wb") as fh:
            pickle.dump(rows, fh)
    new = [r for r in rows if r.truth is None]
    copies = [r for r in rows if r.truth is not None]
    today = [r for r in copies if r.today]
    n = max(1, len(rows))
    print(
        f"\n== {title}: {len(rows)} files ({len(copies)} copies, {len(new)} new); "
        f"{n_stored} stored; load {tuple(round(x, 1) for x in os.getloadavg())}"
    )
    print(extra)
    print(
        f"CPU ms a file: dihedral PDQ of {len(Q_REGIONS)} regions + distances "
        f"{sum(r.sig.ms_pdq for r in rows) / n:.2f}, layout + quick distances "
        f"{sum(r.sig.ms_layout for r in rows) / n:.2f}"
    )
    edits = sorted({r.edit for r in copies})
    by = {e: [r for r in copies if r.edit == e] for e in edits}
    print(
        f"copies today's check finds: {len(today)} of {len(copies)} "
        + str({e: f"{sum(r.today for r in by[e])}/{len(by[e])}" for e in edits})
    )
    # truth distances, to see where each class sits
    for e in edits:
        rs = by[e]
        full = sorted(int(r.sig.pdq[0, 0, r.truth]) for r in rs)
        reg = sorted(int(r.sig.pdq[:, :, r.truth].min()) for r in rs)
        lay = sorted(float(r.sig.layout[r.truth]) for r in rs)
        print(
            f"  {e:12} to the truth: pdq full {full[0]}..{full[-1]} (top 3 {full[-3:]}), "
            f"regions {reg[0]}..{reg[-1]} (top 3 {reg[-3:]}), layout {lay[0]:.1f}..{lay[-1]:.1f} "
            f"(top 3 {[round(x, 1) for x in lay[-3:]]})"
        )
    if new:
        nf = [int(r.sig.pdq[0, 0].min()) for r in new]
        nr = [int(r.sig.pdq.min()) for r in new]
        nl = [float(r.sig.layout.min()) for r in new]
        print(
            f"  new: nearest stored pdq full min {sorted(nf)[:5]}, regions min "
            f"{sorted(nr)[:5]}, layout min {[round(float(x), 1) for x in sorted(nl)[:5]]}"
        )
    print(
        f"{'gate':28} {'lost (today)':>13} {'lost (all)':>11} {'new gated':>10} "
        f"{'pair rate':>10} {'x 100k':>7}  lost per edit (today's)"
    )
    for rule in rules():
        name = rule.name
        lost_today = [r.edit for r in today if not rule(r.sig)[r.truth]]
        lost_all = sum(1 for r in copies if not rule(r.sig)[r.truth])
        gated = sum(1 for r in new if rule(r.sig).any())
        pairs = sum(int(rule(r.sig).sum()) for r in new)
        rate = pairs / max(1, len(new) * n_stored)
        print(
            f"{name:28} {len(lost_today):13d} {lost_all:11d} {gated:5d}/{len(new):<4d} "
            f"{rate:10.2e} {rate * 100_000:7.1f}  {dict(collections.Counter(lost_today))}"
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

    def rgb3(rgb: np.ndarray) -> np.ndarray:
        return np.stack([rgb] * 3, -1) if rgb.ndim == 2 else np.ascontiguousarray(rgb[:, :, :3])

    keys = ORIGINALS + REAL_DISTRACTORS + [f"gen/{i}" for i in range(args.generated)]
    st = Stored()
    sift: dict[str, LocalFeatures] = {}
    t0 = time.time()
    for key in keys:
        rgb = rgb3(busy_picture(int(key[4:])) if key.startswith("gen/") else load(DATA / key))
        st.add(key, rgb)
        if not key.startswith("gen/") and not args.no_sift:
            sift[key] = LocalFeatures.from_bytes(extract(rgb).to_bytes())
    st.freeze()
    print(f"indexed {len(keys)} in {time.time() - t0:.0f} s", flush=True)
    tasks: list[tuple[str, str, str | None]] = [
        (f"augly:{p.stem}", "augly", ORIGINALS[0])
        for p in sorted((AUGLY / "dfdc_expected_output").glob("test_*.png"))
    ]
    for e in EDITS:
        tasks += [(f"{e}:{o}", "edit", o) for o in ORIGINALS if o != ORIGINALS[0]]
    tasks += [(f"negative:{q}", "negative", None) for q in NEGATIVE_REAL]
    tasks += [(f"busy:{NEG_SEED0 + i}", "busy", None) for i in range(40)]
    pos = {k: i for i, k in enumerate(keys)}
    rows: list[Row] = []
    for qid, group, truth in tasks:
        rgb = rgb3(query_rgb(qid, group))
        h, w = rgb.shape[:2]
        today = False
        if not args.no_sift:
            s = rescale(extract(rgb, max_side=320, nfeatures=300), w, h)
            best = max((verify(s, f).homography_inliers, k) for k, f in sift.items())
            today = best[0] >= 15 and (truth is None or best[1] == truth)
        rows.append(
            Row(
                qid,
                qid.split(":")[0] if truth else "new",
                pos.get(truth or ""),
                today,
                signals(rgb, st),
            )
        )
    report(
        "real photos",
        rows,
        len(keys),
        f"{len(keys)} indexed ({args.generated} generated); 'today' = SIFT-320 against every "
        "stored real picture, >= 15 inliers with the truth",
        args.dump and args.dump.with_suffix(".real.pkl"),
    )


def run_seizure(args: argparse.Namespace) -> None:
    from bench_seizure import truth as seizure_truth
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
    st = Stored()
    for p in db_files:
        st.add(p.stem, decode_image(p.read_bytes(), fast=True).rgb)
    st.freeze()
    pos = {k: i for i, k in enumerate(st.keys)}
    db = Database(f"sqlite:///{(root / 'home' / 'tessera.sqlite').resolve()}")
    scene = SceneStore(db, root / "home" / "scene-index", read_only=True)
    checked: list[tuple[int, FileResult]] = []
    rows: list[Row] = []
    for p in sorted(folder.iterdir())[: args.limit or None]:
        if p.name.endswith("-exact.jpg"):
            continue  # digests decide it
        dec = decode_image(p.read_bytes(), fast=True)
        h, w = dec.full_shape
        dih = pdq_dihedral_rgb(dec.rgb, dec.grid, exact="never")
        codes = np.stack([_bits(v.payload) for v in dih.variants.values()])
        d = _POP[codes[:, None, :] ^ st.mat["full"][None]].sum(axis=2)
        if dih.quality >= 50 and (d <= 31).any():
            continue  # dihedral PDQ decides it
        s = rescale(extract(dec.rgb, max_side=320, nfeatures=300), w, h)
        checked.append((len(checked), FileResult(p.name, "ok", copy_features=s.to_bytes_full())))
        want = truth[p.name]
        rows.append(
            Row(p.name, p.stem.split("-")[1], pos.get(want or ""), False, signals(dec.rgb, st))
        )
    with blas_threads(1):
        for a in range(0, len(checked), VERDICT_CHUNK):
            found, _ = copy_check(scene, checked[a : a + VERDICT_CHUNK])
            for i in found:
                rows[i].today = True
    report(
        f"seizure {folder}",
        rows,
        n_db,
        "today = copy_check as triage runs it",
        args.dump and args.dump.with_suffix(".seizure.pkl"),
    )


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true")
    ap.add_argument("--generated", type=int, default=300)
    ap.add_argument("--no-sift", action="store_true", help="--real: skip today's check")
    ap.add_argument("--seizure", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--dump", type=Path, default=None, help="pickle the rows (PATH.real.pkl, ...)")
    args = ap.parse_args(list(argv) if argv is not None else None)
    if not (args.real or args.seizure):
        ap.error("give --real and/or --seizure DIR")
    if args.seizure:
        run_seizure(args)
    if args.real:
        run_real(args)


if __name__ == "__main__":
    main()
