"""Robustness of the second triage stage (edited copies found by local features), one run.

Issue target: files with no exact or PDQ hit go through local-feature retrieval, so
crops, small rotations, mirror images, overlays, captions and letterboxed copies of
known media are reported as ``near``; recall >= 99 % at zero false positives against
>= 10,000 distractors, PDQ alone printed beside it as the baseline.

Known set (indexed):

* originals: ``augly-image-augmentations/inputs/dfdc_1.jpg`` and one picture of
  each distinct subject of the shared sets (scikit-image, UKBench objects, OCR
  signs and street scenes, one photo per landmark, first image of the scene sets);
* real distractors: other photos of *some* of those places (the remaining
  Photo Tourism and Sagrada Familia views, the second LightGlue facade, the
  second DVD cover photo), the TUM office frames and the Iguazu sequence;
* ``--n`` generated "busy" pictures (``bench_scenes``; features cached under
  ``benchmarks/_data/scenes``).

Queries, each run exactly as triage will:
``similar([extract(rgb), extract_mirrored(rgb)], index, store, k=5)``; a hit with
``relation == "copy"`` is reported ``near``:

* the 42 AugLy outputs ``dfdc_expected_output/test_*.png`` (copies of dfdc_1;
  the three the AugLy README calls destructive are reported apart);
* our edits of every other original: crop 8 %, rotate 4 deg, mirror, white
  caption box, letterbox bars, text + emoji-like overlay, JPEG q40, rescale 50 %;
* third-party copies: the imagededup UKBench transforms and the ICC-profile twin;
* negatives (no copy in the index): fresh busy pictures (other seeds), real photos
  of sets with nothing indexed (ICL-NUIM living room, Sacre-Coeur, Sceaux castle,
  the LightGlue Sacre-Coeur pair) and AugLy's other rooms dfdc_2 / dfdc_3;
* hard negatives, reported apart: other photos of an indexed place that are not
  indexed themselves (boat/graf/fountain/river/roofs views, the WxBS second views).
  A planar scene re-photographed with zoom or rotation (boat, graf) is
  geometrically the same as a crop + rotation of the indexed photo, so a
  ``copy`` there is not separable from a true copy by any image-only method.

The same queries are also run the way ``matching.scene_triage`` runs them now (the
picture with a shortlist of ``TRIAGE_SHORTLIST``, its mirror image only when that
found no copy) and reported in a second table. The index uses 2,048 words
(``scene_store.MAX_WORDS``), one word per query descriptor. A sweep shows recall
and wrong copies for other values of scene.py's copy constants, clause by clause.

PDQ baseline: Hamming distance <= 31 between the query and the original, plain and
with the 8 dihedral variants of the query (``pdq_dihedral_rgb``); a PDQ false
positive is a query within 31 bits of any indexed image that is not its original.

Low-texture class (``benchmarks/low_texture.py``, issue 16 item 2): generated
gradients, blurred photos and flat scenes with one object, their seven edits
decided as triage decides them (dihedral PDQ, then the colour layout, then local
features against stored features), with per-kind false positives among unindexed
low-texture and busy pictures and the colour layout step's CPU per file, printed
after the tables above (``--low-texture-only`` for just it).

Usage: ``python benchmarks/bench_robust.py [--n 10000] [--workers 2] [--words 2048]``.
Queries run in ``--workers`` forked processes, one thread each; the per-query
times are single-thread times.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scenes import (
    CACHE_SUFFIX,
    DATA,
    REPO,
    busy_picture,
    caption,
    crop8,
    generated_features,
    letterbox,
    load,
    mirror,
    pdq_bits,
    rotate4,
    stored,
    train_vocabulary,
)
from tessera.features import (
    LocalFeatures,
    SceneIndex,
    SceneMatch,
    extract,
    extract_mirrored,
    similar,
)
from tessera.features import scene as scene_module
from tessera.features.scene import (
    COPY_MIN_COVERAGE,
    COPY_MIN_FRACTION,
    SHORTLIST,
    match_pair,
)
from tessera.fingerprints.pdq import pdq_dihedral_rgb

try:  # the triage shortlist (matching.scene_triage); 15 when it was measured
    from tessera.matching.scene_triage import TRIAGE_SHORTLIST
except ImportError:  # pragma: no cover - module being edited
    TRIAGE_SHORTLIST = 15

CACHE = REPO / "benchmarks" / "_data" / "robust"
PDQ_MAX = 31
NEG_SEED0 = 50_000_000
"""Fresh busy pictures use seeds from here (the indexed ones use 0 .. n-1)."""

AUGLY = DATA / "augly-image-augmentations"
DFDC1 = "augly-image-augmentations/inputs/dfdc_1.jpg"
DESTRUCTIVE = ("test_split_and_shuffle", "test_crop", "test_overlay_onto_background_image")


def _rel(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(DATA)) for p in paths]


def _glob(folder: str, pattern: str) -> list[str]:
    return _rel(sorted((DATA / folder).glob(pattern)))


PT = "landmark-phototourism-samples"
ORIGINALS: list[str] = [
    DFDC1,
    *_glob("skimage-public-domain-originals", "*.*g"),
    *_glob("imagededup-ukbench-transforms/base_images", "*.jpg"),
    *_glob("ocr-easyocr-signs", "*.*g"),
    *_glob("ocr-opencv-contrib-scenetext", "scenetext0?.jpg"),
    f"{PT}/london_bridge_19481797_2295892421.jpg",
    f"{PT}/piazza_san_marco_06795901_3725050516.jpg",
    f"{PT}/st_pauls_cathedral_30776973_2635313996.jpg",
    f"{PT}/united_states_capitol_26757027_6717084061.jpg",
    "lightglue-pairs/DSC_0410.JPG",
    "opencv-contrib-sfm-sagrada/resized_IMG_2889.jpg",
    "imagehash-icc-profile-pair/bigbuckbunny.png",
    "artwork-dvd-cover-smvs-pair/Ace_0.png",
    "homography-boat-iguazu-kaze/boat/img1.pgm",
    "affnet-graffiti-and-wide-baseline-pairs/graf/img1.png",
    "strecha-mvs-fountain/fountain-P11/images/0000.jpg",
    "vlfeat-mosaic-pairs/river1.jpg",
    "vlfeat-mosaic-pairs/roofs1.jpg",
    "affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/fox1.png",
    "affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/kpi1.png",
]

REAL_DISTRACTORS: list[str] = [
    *(p for p in _glob(PT, "*.jpg") if p not in ORIGINALS),
    *_glob("opencv-contrib-sfm-sagrada", "resized_IMG_289[0-2].jpg"),
    "lightglue-pairs/DSC_0411.JPG",
    "artwork-dvd-cover-smvs-pair/Ace_1.png",
    *_glob("tum-rgbd-fr3-office-frames", "*.png"),
    *_glob("homography-boat-iguazu-kaze/iguazu", "img?.pgm"),
]
"""Indexed, never queried. Several show the same place as an original, so an edited
copy of the original that is reported as a copy of one of these is counted apart
("copy of another photo of the same place")."""

NEGATIVE_REAL: list[str] = [
    *_glob("icl-nuim-livingroom-frames", "*.png"),
    *_glob("landmark-sacre-coeur-hloc/mapping", "*.jpg"),
    "lightglue-pairs/sacre_coeur1.jpg",
    "lightglue-pairs/sacre_coeur2.jpg",
    *_glob("landmark-sceaux-castle-openmvg", "*.JPG"),
    "augly-image-augmentations/inputs/dfdc_2.jpg",
    "augly-image-augmentations/inputs/dfdc_3.jpg",
]

HARD_NEGATIVES: list[str] = [
    *_glob("homography-boat-iguazu-kaze/boat", "img[2-6].pgm"),
    *_glob("affnet-graffiti-and-wide-baseline-pairs/graf", "img[2-6].png"),
    *_glob("strecha-mvs-fountain/fountain-P11/images", "000[1-5].jpg"),
    "vlfeat-mosaic-pairs/river2.jpg",
    "vlfeat-mosaic-pairs/roofs2.jpg",
    "affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/fox2.png",
    "affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/kpi2.png",
]

UKT = "imagededup-ukbench-transforms"
THIRD_PARTY: dict[str, str] = {
    f"{UKT}/transformed/ukbench00120_gray.jpg": f"{UKT}/base_images/ukbench00120.jpg",
    f"{UKT}/transformed/ukbench00120_hflip.jpg": f"{UKT}/base_images/ukbench00120.jpg",
    f"{UKT}/transformed/ukbench00120_resize.jpg": f"{UKT}/base_images/ukbench00120.jpg",
    f"{UKT}/transformed/ukbench00120_rotation.jpg": f"{UKT}/base_images/ukbench00120.jpg",
    f"{UKT}/transformed/ukbench09380.webp": f"{UKT}/base_images/ukbench09380.jpg",
    "imagehash-icc-profile-pair/bigbuckbunny-with-diff-icc.png": (
        "imagehash-icc-profile-pair/bigbuckbunny.png"
    ),
}

# same place (not the same picture): a copy hit on one of these is "other photo, same place"
PLACE: dict[str, str] = {}
for _p in [*ORIGINALS, *REAL_DISTRACTORS, *HARD_NEGATIVES]:
    _name = Path(_p).name
    if _p.startswith(PT):
        PLACE[_p] = _name.rsplit("_", 2)[0]
    elif "wide-baseline" in _p or _p.startswith(("vlfeat-mosaic", "lightglue-pairs/DSC")):
        PLACE[_p] = _name[:-5]
    else:
        PLACE[_p] = str(Path(_p).parent)


# ---- our edits (in addition to bench_scenes' crop8, rotate4, mirror, caption, letterbox) ----


def _seed(rgb: np.ndarray) -> int:
    return zlib.crc32(rgb[::17, ::17].tobytes())


def overlay(rgb: np.ndarray) -> np.ndarray:
    """Two lines of large text and three emoji-like faces, ~10-15 % of the area."""
    im = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]))
    w, h = im.size
    rng = np.random.default_rng(_seed(rgb))
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=max(10, h // 12))
    for i, text in enumerate(("SHARED 1.2M TIMES", "#trending @someone")):
        y = int(h * (0.08 + 0.55 * i)) + int(rng.integers(0, max(1, h // 20)))
        d.text(
            (int(w * 0.05), y),
            text,
            fill=(255, 40, 40),
            font=font,
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
    r = max(6, min(w, h) // 14)
    for _ in range(3):
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 51), outline=(120, 80, 0))
        e = max(1, r // 5)
        for ex in (cx - r // 3, cx + r // 3):
            d.ellipse((ex - e, cy - r // 3 - e, ex + e, cy - r // 3 + e), fill=(60, 30, 0))
        d.arc(
            (cx - r // 2, cy - r // 3, cx + r // 2, cy + r // 2),
            20,
            160,
            fill=(60, 30, 0),
            width=max(1, r // 8),
        )
    return np.asarray(im)


def jpeg40(rgb: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[:, :, :3])).save(buf, "JPEG", quality=40)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def rescale50(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    im = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]))
    return np.asarray(im.resize((max(1, w // 2), max(1, h // 2)), Image.LANCZOS))


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "crop8": crop8,
    "rotate4": rotate4,
    "mirror": mirror,
    "caption": caption,
    "letterbox": letterbox,
    "overlay": overlay,
    "jpeg40": jpeg40,
    "rescale50": rescale50,
}


# ---- one query, as triage runs it ----

# scene.py's copy rule, clause by clause (absent clauses: None), for the sweep below
FULL_COVERAGE: float | None = getattr(scene_module, "COPY_FULL_COVERAGE", None)
CLEAN_MATCHES: float | None = getattr(scene_module, "COPY_CLEAN_MATCHES", None)
CLEAN_MIN_FRACTION: float = getattr(scene_module, "COPY_CLEAN_MIN_FRACTION", 0.1)


@dataclass(frozen=True)
class Hit:
    media_id: str
    relation: str | None
    inliers: int
    h_inliers: int
    f_inliers: int
    matches: int
    coverage_q: float
    coverage_c: float
    fraction: float
    mirrored: bool
    rank: int
    has_h: bool

    def copy_rule(
        self,
        coverage: float = COPY_MIN_COVERAGE,
        fraction: float = COPY_MIN_FRACTION,
        full: float | None = FULL_COVERAGE,
        clean: float | None = CLEAN_MATCHES,
    ) -> bool:
        """scene.py's copy decision with other constants (a clause is off when None)."""
        if self.relation is None or not self.has_h:
            return False
        if max(self.coverage_q, self.coverage_c) >= coverage and self.fraction >= fraction:
            return True
        if full is not None and min(self.coverage_q, self.coverage_c) >= full:
            return True
        return (
            clean is not None
            and self.matches > 0
            and self.inliers / self.matches >= clean
            and self.fraction >= CLEAN_MIN_FRACTION
        )


@dataclass
class Outcome:
    qid: str
    group: str
    truth: str | None
    hits: list[Hit]
    """Accepted hits of the brief's procedure (both feature sets, k=5), best first."""
    tri_hits: list[Hit]
    """Accepted hits of scene_triage's procedure (see ``triage_similar``)."""
    best_rejected: Hit | None
    """Highest-inlier verification of the shortlists that was not accepted."""
    truth_check: Hit | None = None
    """For a missed positive: direct verification against the original."""
    t_extract: float = 0.0
    t_search: float = 0.0
    t_triage: float = 0.0
    cpu: float = 0.0
    cpu_triage: float = 0.0
    pdq_d: int | None = None
    pdq_d8: int | None = None
    pdq_fp: int = 0
    pdq_fp8: int = 0
    kp: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _hit(m: SceneMatch) -> Hit:
    v = m.verification
    return Hit(
        m.media_id,
        m.relation,
        v.inliers,
        v.homography_inliers,
        v.fundamental_inliers,
        v.matches,
        m.coverage_query,
        m.coverage_candidate,
        m.inlier_fraction,
        m.mirrored,
        m.retrieval_rank,
        v.homography is not None,
    )


_STATE: dict[str, object] = {}


def _numpy_blas_threads(n: int) -> None:
    """numpy's bundled OpenBLAS to ``n`` threads (Linux; no-op elsewhere)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:  # pragma: no cover - not Linux
        return
    for path in {line.split()[-1] for line in maps if "scipy_openblas" in line}:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(n)
                return


def _worker_init() -> None:
    """One thread per query process (OpenCV, faiss/OpenMP, numpy's OpenBLAS)."""
    cv2.setNumThreads(1)
    _numpy_blas_threads(1)
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def query_rgb(qid: str, group: str) -> np.ndarray:
    if group == "augly":
        return load(AUGLY / "dfdc_expected_output" / f"{qid.split(':', 1)[1]}.png")
    if group == "busy":
        return busy_picture(int(qid.split(":", 1)[1]))
    if group in ("negative", "hard", "third-party"):
        return load(DATA / qid.split(":", 1)[1])
    edit, src = qid.split(":", 1)
    return EDITS[edit](load(DATA / src))


def triage_similar(
    feats: list[LocalFeatures], index: SceneIndex, store: dict[str, LocalFeatures]
) -> list[SceneMatch]:
    """What ``matching.scene_triage`` does since 29bf23f: the picture with a shortlist
    of TRIAGE_SHORTLIST; its mirror image only when that found no copy."""
    hits = similar(feats[:1], index, store, k=10, shortlist=TRIAGE_SHORTLIST)
    if any(h.relation == "copy" for h in hits):
        return hits
    best = {h.media_id: h for h in hits}
    for h in similar(feats[1:], index, store, k=10, shortlist=TRIAGE_SHORTLIST):
        if h.media_id not in best or h.inliers > best[h.media_id].inliers:
            best[h.media_id] = h
    return sorted(best.values(), key=lambda h: (-h.inliers, h.media_id))[:10]


def run_query(task: tuple[str, str, str | None]) -> Outcome:
    qid, group, truth = task
    index: SceneIndex = _STATE["index"]  # type: ignore[assignment]
    store: dict[str, LocalFeatures] = _STATE["store"]  # type: ignore[assignment]
    pdq_ids: list[str] = _STATE["pdq_ids"]  # type: ignore[assignment]
    pdq_mat: np.ndarray = _STATE["pdq_mat"]  # type: ignore[assignment]
    rgb = query_rgb(qid, group)
    t0, c0 = time.perf_counter(), time.process_time()
    # as triage has them: FileResult carries the stored (compact) form
    feats = [stored(extract(rgb)), stored(extract_mirrored(rgb))]
    t1, c1 = time.perf_counter(), time.process_time()
    ranked = similar(feats, index, store, k=4 * SHORTLIST, accepted_only=False)
    t2, c2 = time.perf_counter(), time.process_time()
    tri = triage_similar(feats, index, store)
    t3, c3 = time.perf_counter(), time.process_time()
    accepted = [m for m in ranked if m.verification.accepted][:5]  # == similar(..., k=5)
    rejected = [m for m in ranked if not m.verification.accepted]
    best_rej = max(rejected, key=lambda m: m.verification.homography_inliers, default=None)
    out = Outcome(
        qid,
        group,
        truth,
        [_hit(m) for m in accepted],
        [_hit(m) for m in tri],
        _hit(best_rej) if best_rej else None,
        t_extract=t1 - t0,
        t_search=t2 - t1,
        t_triage=(t1 - t0) + (t3 - t2),
        cpu=c2 - c0,
        cpu_triage=(c1 - c0) + (c3 - c2),
        kp=len(feats[0]),
    )
    if truth is not None and not any(
        h.media_id == truth and h.relation == "copy" for h in out.hits
    ):
        ranks = [
            next((c.rank for c in index.search(f, 1000) if c.media_id == truth), 9999)
            for f in feats
        ]
        out.extra["truth_rank"] = float(min(ranks))
        out.truth_check = _hit(
            max((match_pair(f, store[truth], truth) for f in feats), key=lambda m: m.inliers)
        )
    # PDQ baseline
    bits = pdq_bits(rgb)
    d = (pdq_mat != bits).sum(axis=1)
    dih = pdq_dihedral_rgb(np.ascontiguousarray(rgb[:, :, :3]))
    d8 = d.copy()
    for fp in dih.variants.values():
        vb = np.unpackbits(np.frombuffer(bytes(fp.payload), np.uint8))
        d8 = np.minimum(d8, (pdq_mat != vb).sum(axis=1))
    t_idx = pdq_ids.index(truth) if truth is not None else -1
    if t_idx >= 0:
        out.pdq_d, out.pdq_d8 = int(d[t_idx]), int(d8[t_idx])
    others = np.ones(len(pdq_ids), bool)
    if t_idx >= 0:
        others[t_idx] = False
    out.pdq_fp = int((d[others] <= PDQ_MAX).sum())
    out.pdq_fp8 = int((d8[others] <= PDQ_MAX).sum())
    return out


# ---- set-up ----


def _extract_path(rel: str) -> bytes:
    return extract(load(DATA / rel)).to_bytes()


def real_features(paths: list[str], workers: int) -> dict[str, LocalFeatures]:
    """Features of shared photos, cached under benchmarks/_data/robust (keyed by path)."""
    CACHE.mkdir(parents=True, exist_ok=True)

    def cpath(rel: str) -> Path:
        return CACHE / (rel.replace("/", "__") + "." + CACHE_SUFFIX)

    todo = [p for p in paths if not cpath(p).exists()]
    if todo:
        with Pool(workers, _worker_init) as pool:
            for rel, blob in zip(todo, pool.imap(_extract_path, todo), strict=True):
                cpath(rel).write_bytes(blob)
    return {p: LocalFeatures.from_bytes(cpath(p).read_bytes()) for p in paths}


def _gen_pdq(seed: int) -> bytes:
    return np.packbits(pdq_bits(busy_picture(seed))).tobytes()


def generated_pdq(n: int, workers: int) -> np.ndarray:
    """PDQ bits of the generated distractors (n x 256, cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    p = CACHE / "pdq-generated.npy"
    have = np.load(p) if p.exists() else np.zeros((0, 32), np.uint8)
    if len(have) < n:
        t = time.perf_counter()
        with Pool(workers, _worker_init) as pool:
            new = pool.map(_gen_pdq, range(len(have), n), chunksize=64)
        have = np.concatenate([have, np.frombuffer(b"".join(new), np.uint8).reshape(-1, 32)])
        np.save(p, have)
        print(f"  PDQ of {len(new)} generated distractors: {time.perf_counter() - t:.0f} s")
    return np.unpackbits(have[:n], axis=1)


def _pct(a: int, n: int) -> str:
    return f"{a / n:6.3f}" if n else "     -"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="generated distractors indexed")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--words", type=int, default=2048, help="scene_store.MAX_WORDS is 2048")
    ap.add_argument("--negatives", type=int, default=250, help="fresh busy negatives")
    ap.add_argument(
        "--query-words", type=int, default=1, help="SceneIndex soft assignment (triage: 1)"
    )
    ap.add_argument("--every", type=int, default=1, help="run every k-th query (smoke tests)")
    ap.add_argument(
        "--low-texture", type=int, default=10, help="low-texture originals per kind (0: none)"
    )
    ap.add_argument("--low-texture-only", action="store_true", help="only the low-texture class")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"shared data not found at {DATA}")
    t_all = time.perf_counter()
    from low_texture import run as low_texture  # here: it imports this module

    if args.low_texture_only:
        low_texture(args.low_texture)
        return

    print(
        f"known set: {len(ORIGINALS)} originals, {len(REAL_DISTRACTORS)} real distractors, "
        f"{args.n} generated distractors"
    )
    real = real_features(ORIGINALS + REAL_DISTRACTORS, args.workers)
    gen = generated_features(args.n, args.workers)
    store: dict[str, LocalFeatures] = dict(real)
    for s, f in enumerate(gen):
        store[f"gen/{s}"] = f
    vocab = train_vocabulary([*gen, *(real[p] for p in REAL_DISTRACTORS)], args.words)
    index = SceneIndex(vocab, query_words=args.query_words)
    t = time.perf_counter()
    for m, f in store.items():
        index.add(m, f)
    index.search(next(iter(store.values())), 1)
    print(
        f"index: {len(index)} images ({args.words} words, query words {args.query_words}), "
        f"built in {time.perf_counter() - t:.0f} s, {index.nbytes() / 2**20:.1f} MiB"
    )

    # PDQ database over the same known set
    pdq_ids = list(real) + [f"gen/{s}" for s in range(args.n)]
    pdq_real = np.stack([pdq_bits(load(DATA / p)) for p in real])
    pdq_mat = np.concatenate([pdq_real, generated_pdq(args.n, args.workers)])
    _STATE.update(index=index, store=store, pdq_ids=pdq_ids, pdq_mat=pdq_mat)

    tasks: list[tuple[str, str, str | None]] = []
    augly = sorted((AUGLY / "dfdc_expected_output").glob("test_*.png"))
    tasks += [(f"augly:{p.stem}", "augly", DFDC1) for p in augly]
    for edit in EDITS:
        tasks += [(f"{edit}:{o}", "edit", o) for o in ORIGINALS if o != DFDC1]
    tasks += [(f"third-party:{q}", "third-party", o) for q, o in THIRD_PARTY.items()]
    tasks += [(f"negative:{q}", "negative", None) for q in NEGATIVE_REAL]
    tasks += [(f"busy:{NEG_SEED0 + i}", "busy", None) for i in range(args.negatives)]
    tasks += [(f"hard:{q}", "hard", None) for q in HARD_NEGATIVES]
    tasks = tasks[:: args.every]
    print(
        f"queries: {len(tasks)} ({args.workers} worker processes, one thread each); "
        f"load average before {os.getloadavg()[0]:.1f}"
    )
    t = time.perf_counter()
    with Pool(args.workers, _worker_init) as pool:
        results = pool.map(run_query, tasks, chunksize=4)
    print(
        f"  ran in {time.perf_counter() - t:.0f} s; load average after "
        f"{os.getloadavg()[0]:.1f} (1 min; > {args.workers} means other work shared the "
        "cores and the times below are inflated)"
    )
    report(results)
    if args.low_texture:  # issue 16 item 2: printed beside the classes above
        low_texture(args.low_texture)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


HitsOf = Callable[[Outcome], list[Hit]]
IsCopy = Callable[[Hit], bool]


def _relation(h: Hit) -> bool:
    return h.relation == "copy"


@dataclass
class Stats:
    n: int = 0
    copy: int = 0
    any: int = 0
    scene: int = 0
    fp: int = 0  # copy hits on an unrelated image (negatives: queries with a copy hit)
    fp_place: int = 0  # copy hits on another photo of the same place


def stats(group: list[Outcome], hits_of: HitsOf, is_copy: IsCopy = _relation) -> Stats:
    st = Stats(n=len(group))
    for o in group:
        hits = hits_of(o)
        if o.truth is None:  # a negative: any copy hit is a false positive
            st.fp += any(is_copy(h) for h in hits)
            st.scene += any(h.relation == "scene" for h in hits)
            continue
        st.copy += any(h.media_id == o.truth and is_copy(h) for h in hits)
        st.any += any(h.media_id == o.truth for h in hits)
        st.scene += any(h.media_id == o.truth and not is_copy(h) for h in hits)
        for h in hits:
            if h.media_id == o.truth or not is_copy(h):
                continue
            if PLACE.get(h.media_id, "x") == PLACE.get(o.truth, "y"):
                st.fp_place += 1
            else:
                st.fp += 1
    return st


def _destructive(o: Outcome) -> bool:
    return o.group == "augly" and o.qid.split(":")[1] in DESTRUCTIVE


def positive_groups(results: list[Outcome]) -> list[tuple[str, list[Outcome]]]:
    aug = [o for o in results if o.group == "augly"]
    out = [
        ("augly (all 42)", aug),
        ("augly w/o destructive", [o for o in aug if not _destructive(o)]),
        ("augly destructive", [o for o in aug if _destructive(o)]),
    ]
    for edit in EDITS:
        out.append(
            (edit, [o for o in results if o.group == "edit" and o.qid.startswith(edit + ":")])
        )
    out.append(("third-party copies", [o for o in results if o.group == "third-party"]))
    pos = [o for o in results if o.truth is not None]
    out.append(("ALL positives", pos))
    out.append(("ALL w/o destructive", [o for o in pos if not _destructive(o)]))
    return out


def negative_groups(results: list[Outcome]) -> list[tuple[str, list[Outcome]]]:
    busy = [o for o in results if o.group == "busy"]
    real = [o for o in results if o.group == "negative"]
    return [
        ("fresh busy pictures", busy),
        ("real, not indexed", real),
        ("ALL negatives", busy + real),
        ("hard: same place", [o for o in results if o.group == "hard"]),
    ]


def _fmt_hit(h: Hit | None) -> str:
    if h is None:
        return "-"
    return (
        f"{h.media_id.rsplit('/', 1)[-1][:28]} {h.relation or 'rejected'} "
        f"inl={h.inliers}/{h.matches} (H {h.h_inliers}, F {h.f_inliers}) "
        f"cov q/c={h.coverage_q:.2f}/{h.coverage_c:.2f} frac={h.fraction:.2f}"
        f"{' mirrored' if h.mirrored else ''}"
    )


def _brief(o: Outcome) -> list[Hit]:
    return o.hits


def _triage(o: Outcome) -> list[Hit]:
    return o.tri_hits


def print_table(results: list[Outcome], hits_of: HitsOf, pdq: bool) -> None:
    head = f"{'edit':22} {'n':>4} {'copy':>6} {'any':>6} {'FP':>3} {'FP(place)':>9} {'scene':>5}"
    if pdq:
        head += f" {'PDQ':>6} {'PDQ8':>6} {'PDQ FP':>6} {'PDQ8 FP':>7}"
    print(head)
    for name, group in positive_groups(results):
        st = stats(group, hits_of)
        line = (
            f"{name:22} {st.n:4d} {_pct(st.copy, st.n)} {_pct(st.any, st.n)} {st.fp:3d} "
            f"{st.fp_place:9d} {st.scene:5d}"
        )
        if pdq:
            p = sum(o.pdq_d is not None and o.pdq_d <= PDQ_MAX for o in group)
            p8 = sum(o.pdq_d8 is not None and o.pdq_d8 <= PDQ_MAX for o in group)
            line += (
                f" {_pct(p, st.n)} {_pct(p8, st.n)} {sum(o.pdq_fp for o in group):6d} "
                f"{sum(o.pdq_fp8 for o in group):7d}"
            )
        print(line)
    head = f"\n{'negatives':22} {'n':>4} {'copy FP':>7} {'scene':>5}"
    print(head + (f" {'PDQ FP':>6} {'PDQ8 FP':>7}" if pdq else ""))
    for name, group in negative_groups(results):
        st = stats(group, hits_of)
        line = f"{name:22} {st.n:4d} {st.fp:7d} {st.scene:5d}"
        if pdq:
            line += f" {sum(o.pdq_fp > 0 for o in group):6d} {sum(o.pdq_fp8 > 0 for o in group):7d}"
        print(line)


def _med(xs: list[float]) -> float:
    return statistics.median(xs) * 1e3


def report(results: list[Outcome]) -> None:
    print(
        f"\ncopy = relation 'copy' (COPY_MIN_COVERAGE {COPY_MIN_COVERAGE}, "
        f"COPY_MIN_FRACTION {COPY_MIN_FRACTION}); any = any accepted hit on the original;"
    )
    print(
        "FP = copy hits on an unrelated image (negatives: queries with a copy hit); "
        "FP(place) = copy hits on another photo of the same place; scene = accepted as "
        "'scene' only; PDQ = Hamming <= 31 to the original (PDQ8: best of the 8 dihedral "
        "variants); PDQ FP = within 31 bits of another indexed image"
    )

    print("\nAugLy outputs (ground truth: copy of inputs/dfdc_1.jpg)")
    print(
        f"{'file':44} {'kp':>5} {'result':8} {'inl':>4} {'match':>5} {'covq':>5} {'covc':>5} "
        f"{'frac':>5} {'PDQ d':>5} {'PDQ d8':>6}"
    )
    for o in results:
        if o.group != "augly":
            continue
        hit = next((h for h in o.hits if h.media_id == o.truth), None)
        shown = hit or o.truth_check
        res = hit.relation or "-" if hit else "MISS"
        name = o.qid.split(":", 1)[1] + (" (destructive)" if _destructive(o) else "")
        if shown is None:
            print(f"{name:44} {o.kp:5d} {res:8}")
            continue
        print(
            f"{name:44} {o.kp:5d} {res:8} {shown.inliers:4d} {shown.matches:5d} "
            f"{shown.coverage_q:5.2f} {shown.coverage_c:5.2f} {shown.fraction:5.2f} "
            f"{o.pdq_d:5d} {o.pdq_d8:6d}"
        )

    print(
        "\nTessera as in the brief: similar([extract(rgb), extract_mirrored(rgb)], index, "
        f"store, k=5), shortlist {SHORTLIST}; PDQ beside it"
    )
    print_table(results, _brief, pdq=True)
    print(
        f"\nTessera as matching.scene_triage runs it now: the picture with shortlist "
        f"{TRIAGE_SHORTLIST}, its mirror image only when no copy was found, k=10"
    )
    print_table(results, _triage, pdq=False)

    print("\nquery time, median over all queries (one thread per query):")
    te = [o.t_extract for o in results]
    ts = [o.t_search for o in results]
    print(
        f"  brief:  extract x2 {_med(te):.0f} ms + similar {_med(ts):.0f} ms = "
        f"{_med([a + b for a, b in zip(te, ts, strict=True)]):.0f} ms wall, "
        f"{_med([o.cpu for o in results]):.0f} ms CPU"
    )
    print(
        f"  triage: extract x2 {_med(te):.0f} ms + similar "
        f"{_med([o.t_triage - o.t_extract for o in results]):.0f} ms = "
        f"{_med([o.t_triage for o in results]):.0f} ms wall, "
        f"{_med([o.cpu_triage for o in results]):.0f} ms CPU"
    )

    threshold_sweep(results)

    misses = [
        o
        for o in results
        if o.truth is not None
        and not any(h.media_id == o.truth and h.relation == "copy" for h in o.hits)
    ]
    print(
        f"\nmissed positives ({len(misses)}): best verification against the original "
        "(rank = retrieval rank of the original, best of the two feature sets)"
    )
    for o in misses:
        acc = next((h for h in o.hits if h.media_id == o.truth), None)
        rank = int(o.extra.get("truth_rank", -1))
        print(f"  {o.qid[:56]:56} kp={o.kp:4d} rank={rank:4d} {_fmt_hit(acc or o.truth_check)}")
    wrong = [
        (o, h) for o in results for h in o.hits if h.relation == "copy" and h.media_id != o.truth
    ]
    print(f"\ncopy hits on another image ({len(wrong)}):")
    for o, h in wrong:
        print(f"  {o.qid[:60]:60} -> {_fmt_hit(h)}")
    print("\nhard negatives (other photos of an indexed place; best hit):")
    for o in results:
        if o.group == "hard":
            print(
                f"  {o.qid.split(':', 1)[1][-44:]:44} -> {_fmt_hit(o.hits[0] if o.hits else None)}"
            )
    negs = [
        (o, h)
        for o in results
        if o.group in ("busy", "negative")
        for h in [*o.hits, *([o.best_rejected] if o.best_rejected else [])]
    ]
    negs.sort(key=lambda x: -x[1].h_inliers)
    print("\nworst negatives (highest homography inliers over all shortlisted candidates):")
    for o, h in negs[:10]:
        print(f"  {o.qid[:50]:50} -> {_fmt_hit(h)}")


def threshold_sweep(results: list[Outcome]) -> None:
    """Recall and wrong copies for other values of scene.py's copy constants."""
    pos = [o for o in results if o.truth is not None and not _destructive(o)]
    others = [o for o in results if o.group in ("busy", "negative", "hard")]
    agree = sum(
        (h.relation == "copy") == h.copy_rule() for o in results for h in o.hits if h.relation
    )
    total = sum(1 for o in results for h in o.hits if h.relation)
    print(
        f"\ncopy rule sweep (brief's procedure; the simulated rule agrees with scene.py on "
        f"{agree}/{total} accepted hits): recall over {len(pos)} positives (AugLy destructive "
        "excluded); wrong = copy hits on unrelated images + negatives with a copy; place = "
        "copy hits on another photo of the same place + hard negatives with a copy"
    )

    def cell(is_copy: IsCopy) -> tuple[float, int, int]:
        p = stats(pos, _brief, is_copy)
        neg = stats([o for o in others if o.group != "hard"], _brief, is_copy)
        hard = stats([o for o in others if o.group == "hard"], _brief, is_copy)
        return p.copy / len(pos), p.fp + neg.fp, p.fp_place + hard.fp

    variants: list[tuple[str, IsCopy]] = [
        ("scene.py as is", Hit.copy_rule),
        ("coverage+fraction clause only", lambda h: h.copy_rule(full=None, clean=None)),
    ]
    if FULL_COVERAGE is not None:
        variants.append(("without full-coverage clause", lambda h: h.copy_rule(full=None)))
    if CLEAN_MATCHES is not None:
        variants.append(("without clean-matches clause", lambda h: h.copy_rule(clean=None)))
        for c in (0.90, 0.95):
            variants.append((f"clean-matches at {c}", lambda h, c=c: h.copy_rule(clean=c)))
    print(
        f"  rule: (max coverage >= {COPY_MIN_COVERAGE} and fraction >= {COPY_MIN_FRACTION})"
        f" or min coverage >= {FULL_COVERAGE} or (inliers/matches >= {CLEAN_MATCHES} and "
        f"fraction >= {CLEAN_MIN_FRACTION})"
    )
    for label, fn in variants:
        rec, wrong, place = cell(fn)
        print(f"  {label:34} recall {rec:.3f}  wrong {wrong:2d}  place {place:3d}")
    fracs = (0.05, 0.10, 0.15, 0.20, 0.25, 0.28, 0.30, 0.35)
    print("  varying COPY_MIN_COVERAGE (rows) and COPY_MIN_FRACTION (columns), other clauses as is")
    print(f"  {'coverage':>8} " + " ".join(f"{'frac ' + str(f):>15}" for f in fracs))
    for cov in (0.0, 0.2, 0.3, 0.4, 0.5):
        cells = []
        for fr in fracs:
            rec, wrong, place = cell(lambda h, c=cov, f=fr: h.copy_rule(c, f))
            cells.append(f"{rec:.3f} {wrong:2d} {place:3d}")
        print(f"  {cov:8.2f} " + " ".join(f"{c:>15}" for c in cells))
    print("  (cell = recall, wrong, place)")
    low = sorted(
        (h.fraction, o.qid, h.inliers / max(1, h.matches))
        for o in pos
        for h in o.hits
        if h.media_id == o.truth and h.has_h and h.fraction < 0.35
    )
    print("positives' inlier fraction below 0.35 (fraction, inliers/matches, edit):")
    print("  " + ", ".join(f"{f:.2f}/{u:.2f} {q.split(':')[0]}" for f, q, u in low))
    place_hits = sorted(
        (h.fraction, o.qid, h.media_id, h.inliers / max(1, h.matches))
        for o in [*pos, *others]
        for h in o.hits
        if h.media_id != o.truth and h.has_h and h.fraction >= 0.1
    )
    print("accepted hits on another image, inlier fraction >= 0.10 (fraction, inliers/matches):")
    for f, q, m, u in place_hits:
        print(f"  {f:.2f} {u:.2f} {q[:60]} -> {m.rsplit('/', 1)[-1]}")


if __name__ == "__main__":
    main()
