"""Same-scene retrieval at scale: RootSIFT + visual words + verification, one run.

Queries: every image of the scene sets in ``../shared/data`` (boat, graf, fountain,
vlfeat mosaics, the DVD cover pair, TUM office frames, the two WxBS extreme pairs);
positives of a query are the other images of its scene.

Distractors (never related to a query scene):

* ``--n`` generated "busy" pictures (seeded): Tessera's synthetic picture plus
  random polygons, ellipses, lines and text, 480x360, so each yields hundreds
  of SIFT keypoints (plain smooth synthetics give ~30 and are too easy);
* ~100 real photos of *other* shared sets (ICL-NUIM living room, landmarks,
  OCR signs, UKBench, scikit-image, AugLy inputs/outputs).

Crops/tiles of the query photos are deliberately not used as distractors (not
independent). Generated-distractor features are cached under
``benchmarks/_data/scenes`` (git-ignored); shared images are read in place.

Reports: retrieval mAP and recall@10 (tf-idf shortlist alone, and after
verification re-ranking), median query time (retrieval + verification of the
shortlist), index size, the hardest negatives' inlier counts, and a robustness
table (edited copies: crop 8 %, rotate 4 deg, mirror, caption box, letterbox)
with PDQ (Hamming <= 31) beside it.

Usage: ``python benchmarks/bench_scenes.py [--n 10000] [--words 4096] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tessera.demo.samples import synthetic_picture
from tessera.features import (
    LocalFeatures,
    SceneIndex,
    Vocabulary,
    extract,
    extract_mirrored,
    similar,
    verify,
)
from tessera.features.verify import MIN_INLIERS_F, MIN_INLIERS_H
from tessera.fingerprints.pdq import pdq_hash_rgb

DATA = Path(os.environ.get("TESSERA_SHARED", REPO.parent / "shared")) / "data"
CACHE = REPO / "benchmarks" / "_data" / "scenes"

TUM = sorted((DATA / "tum-rgbd-fr3-office-frames").glob("*.png"))
SCENES: dict[str, list[Path]] = {
    "boat": [DATA / f"homography-boat-iguazu-kaze/boat/img{i}.pgm" for i in range(1, 7)],
    "graf": [
        DATA / f"affnet-graffiti-and-wide-baseline-pairs/graf/img{i}.png" for i in range(1, 7)
    ],
    "fountain": [DATA / f"strecha-mvs-fountain/fountain-P11/images/000{i}.jpg" for i in range(6)],
    "river": [DATA / "vlfeat-mosaic-pairs/river1.jpg", DATA / "vlfeat-mosaic-pairs/river2.jpg"],
    "roofs": [DATA / "vlfeat-mosaic-pairs/roofs1.jpg", DATA / "vlfeat-mosaic-pairs/roofs2.jpg"],
    "dvd": [
        DATA / "artwork-dvd-cover-smvs-pair/Ace_0.png",
        DATA / "artwork-dvd-cover-smvs-pair/Ace_1.png",
    ],
    "office": TUM[::2],
    "fox(WxBS)": [
        DATA / f"affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/fox{i}.png"
        for i in (1, 2)
    ],
    "kpi(WxBS)": [
        DATA / f"affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/kpi{i}.png"
        for i in (1, 2)
    ],
}


def real_distractors() -> list[Path]:
    out: list[Path] = []
    out += sorted((DATA / "icl-nuim-livingroom-frames").glob("*.png"))
    out += sorted((DATA / "landmark-phototourism-samples").glob("*.jpg"))
    out += sorted((DATA / "landmark-sceaux-castle-openmvg").glob("*.JPG"))
    out += sorted((DATA / "landmark-sacre-coeur-hloc").rglob("*.jpg"))
    out += sorted((DATA / "ocr-opencv-contrib-scenetext").glob("scenetext0*.jpg"))
    out += sorted((DATA / "ocr-easyocr-signs").glob("*.*g"))
    out += sorted((DATA / "imagededup-ukbench-transforms/base_images").glob("*.jpg"))
    out += sorted((DATA / "skimage-public-domain-originals").glob("*.*g"))
    out += sorted((DATA / "augly-image-augmentations/inputs").glob("*.jpg"))
    out += sorted((DATA / "lightglue-pairs").glob("*.*"))[:0]  # sacre_coeur overlaps hloc
    out += sorted((DATA / "opencv-contrib-sfm-sagrada").glob("*.*g"))
    return [p for p in out if p.suffix.lower() in {".jpg", ".png", ".jpeg", ".pgm"}]


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def busy_picture(seed: int, w: int = 480, h: int = 360) -> np.ndarray:
    rng = np.random.default_rng(seed)
    im = synthetic_picture(w, h, seed).convert("RGB")
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(30, 80))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 4))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(5, 120)), y0 + int(rng.integers(5, 120))
        if kind == 0:
            d.rectangle((x0, y0, x1, y1), fill=col)
        elif kind == 1:
            d.ellipse((x0, y0, x1, y1), fill=col)
        elif kind == 2:
            d.line((x0, y0, x1, y1), fill=col, width=int(rng.integers(1, 6)))
        else:
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(3)]
            d.polygon(pts, fill=col)
    for _ in range(int(rng.integers(2, 10))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        word = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(3, 12))))
        d.text((int(rng.integers(0, w - 60)), int(rng.integers(0, h - 10))), word, fill=col)
    arr = np.asarray(im, np.int16) + rng.normal(0, 3, (h, w, 3)).astype(np.int16)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _gen_features(seed: int) -> bytes:
    return extract(busy_picture(seed)).to_bytes()


def generated_features(n: int, workers: int) -> list[LocalFeatures]:
    CACHE.mkdir(parents=True, exist_ok=True)
    out: list[LocalFeatures] = []
    todo = []
    for s in range(n):
        p = CACHE / f"busy-{s}.tslf"
        if not p.exists():
            todo.append(s)
    if todo:
        t = time.perf_counter()
        with Pool(workers) as pool:
            for s, blob in zip(todo, pool.imap(_gen_features, todo, chunksize=16), strict=True):
                (CACHE / f"busy-{s}.tslf").write_bytes(blob)
        print(f"  generated {len(todo)} distractors in {time.perf_counter() - t:.0f} s")
    for s in range(n):
        out.append(LocalFeatures.from_bytes((CACHE / f"busy-{s}.tslf").read_bytes()))
    return out


def train_vocabulary(pool: list[LocalFeatures], words: int, seed: int = 0) -> Vocabulary:
    """k-means words on a sample of distractor descriptors (never the query scenes)."""
    rng = np.random.default_rng(seed)
    sample = np.concatenate([pool[i].float_desc()[::4] for i in rng.permutation(len(pool))[:3000]])
    sample = sample[rng.permutation(len(sample))[: 200 * words]]
    t = time.perf_counter()
    vocab = Vocabulary.train(sample, words, iterations=10)
    print(
        f"vocabulary: {words} words on {len(sample)} descriptors, {time.perf_counter() - t:.0f} s"
    )
    return vocab


def average_precision(ranked: list[str], positives: set[str]) -> float:
    hits, total = 0, 0.0
    for i, m in enumerate(ranked, 1):
        if m in positives:
            hits += 1
            total += hits / i
    return total / len(positives) if positives else 0.0


# ---- edits for the robustness table ----


def crop8(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb[int(0.08 * h) :, int(0.08 * w) : w - int(0.04 * w)]


def rotate4(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).rotate(4, resample=Image.BILINEAR, expand=True))


def mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def caption(rgb: np.ndarray) -> np.ndarray:
    im = Image.fromarray(rgb.copy())
    w, h = im.size
    d = ImageDraw.Draw(im)
    d.rectangle((0, int(0.78 * h), w, h), fill=(255, 255, 255))
    d.text((10, int(0.82 * h)), "CAPTION TEXT " * 8, fill=(0, 0, 0))
    return np.asarray(im)


def letterbox(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    bar = np.zeros((h // 6, w, 3), np.uint8)
    return np.concatenate([bar, rgb, bar])


EDITS = {
    "crop8": crop8,
    "rotate4": rotate4,
    "mirror": mirror,
    "caption": caption,
    "letterbox": letterbox,
}


def pdq_bits(rgb: np.ndarray) -> np.ndarray:
    payload = pdq_hash_rgb(rgb).fingerprint.payload
    return np.unpackbits(np.frombuffer(bytes(payload), np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="generated distractors")
    ap.add_argument("--words", type=int, default=4096)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shortlist", type=int, default=30)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"shared data not found at {DATA}")

    t0 = time.perf_counter()
    print(f"extracting features (scene sets, real distractors, {args.n} generated)...")
    feats: dict[str, LocalFeatures] = {}
    scene_of: dict[str, str] = {}
    images: dict[str, np.ndarray] = {}
    group_of: dict[str, str] = {}  # real distractors: same folder/landmark = same place
    for scene, paths in SCENES.items():
        for p in paths:
            m = str(p.relative_to(DATA))
            images[m] = load(p)
            feats[m] = extract(images[m])
            scene_of[m] = scene
    real = real_distractors()
    for p in real:
        m = str(p.relative_to(DATA))
        images[m] = load(p)
        feats[m] = extract(images[m])
        group = p.parent.name
        if group == "landmark-phototourism-samples":
            group = p.name.rsplit("_", 2)[0]
        scene_of[m] = "-"
        group_of[m] = group
    gen = generated_features(args.n, args.workers)
    for s, f in enumerate(gen):
        feats[f"gen/{s}"] = f
        scene_of[f"gen/{s}"] = "-"
    n_kp = np.array([len(f) for f in feats.values()])
    print(
        f"  {len(feats)} images, keypoints/image median {int(np.median(n_kp))}, "
        f"{time.perf_counter() - t0:.0f} s"
    )

    # vocabulary trained on distractors only (independent of the query scenes)
    vocab = train_vocabulary([f for m, f in feats.items() if scene_of[m] == "-"], args.words)

    index = SceneIndex(vocab)
    t = time.perf_counter()
    for m, f in feats.items():
        index.add(m, f)
    index.search(next(iter(feats.values())), 1)  # build the inverted file
    print(
        f"index: {len(index)} images, built in {time.perf_counter() - t:.0f} s, "
        f"{index.nbytes() / 2**20:.1f} MiB in memory; feature store "
        f"{sum(len(f.to_bytes()) for f in feats.values()) / 2**20:.0f} MiB "
        f"({np.mean([len(f.to_bytes()) for f in feats.values()]) / 1024:.0f} KiB/image)"
    )

    # ---- scene retrieval ----
    print(f"\nscene retrieval ({len(index)} indexed, shortlist {args.shortlist})")
    rows = []
    times_r, times_v = [], []
    neg_h, neg_f = [], []
    pos_h: list[int] = []
    pos_f: list[int] = []
    per_scene: dict[str, list[tuple[float, float, float, float]]] = {}
    for m, scene in scene_of.items():
        if scene == "-":
            continue
        positives = {o for o, s in scene_of.items() if s == scene and o != m}
        t = time.perf_counter()
        cands = [c for c in index.search(feats[m], args.shortlist + 1) if c.media_id != m]
        tr = time.perf_counter() - t
        ranked_r = [c.media_id for c in cands]
        t = time.perf_counter()
        store = {c.media_id: feats[c.media_id] for c in cands}
        verified = []
        for c in cands:
            v = verify(feats[m], store[c.media_id])
            verified.append((c, v))
            if c.media_id not in positives:
                neg_h.append(v.homography_inliers)
                neg_f.append(v.fundamental_inliers)
        tv = time.perf_counter() - t
        times_r.append(tr)
        times_v.append(tv)
        pos_h.extend(v.homography_inliers for c, v in verified if c.media_id in positives)
        pos_f.extend(v.fundamental_inliers for c, v in verified if c.media_id in positives)
        acc = sorted([(c, v) for c, v in verified if v.accepted], key=lambda x: -x[1].inliers)
        ranked_v = [c.media_id for c, _ in acc] + [
            c.media_id for c, v in verified if not v.accepted
        ]
        ap_r = average_precision(ranked_r, positives)
        ap_v = average_precision(ranked_v, positives)
        r10_r = len(positives & set(ranked_r[:10])) / len(positives)
        r10_v = len(positives & {c.media_id for c, _ in acc[:10]}) / len(positives)
        fp = sum(1 for c, _ in acc if c.media_id not in positives)
        rows.append((ap_r, ap_v, r10_r, r10_v, fp))
        per_scene.setdefault(scene, []).append((ap_r, ap_v, r10_r, r10_v))
    print(
        f"{'scene':12} {'queries':>7} {'mAP(bow)':>9} {'mAP(+ver)':>9} "
        f"{'R@10(bow)':>9} {'R@10(ver)':>9}"
    )
    for scene, vals in per_scene.items():
        a = np.array(vals)
        print(f"{scene:12} {len(vals):7d} " + " ".join(f"{x:9.3f}" for x in a.mean(axis=0)))
    a = np.array(rows)
    core = np.array(
        [
            r
            for r, (_m, s) in zip(
                rows, [(m, s) for m, s in scene_of.items() if s != "-"], strict=True
            )
            if "WxBS" not in s
        ]
    )
    print(f"{'ALL':12} {len(a):7d} " + " ".join(f"{x:9.3f}" for x in a[:, :4].mean(axis=0)))
    print(
        f"{'ALL-no-WxBS':12} {len(core):7d} "
        + " ".join(f"{x:9.3f}" for x in core[:, :4].mean(axis=0))
    )
    print(f"false positives (accepted non-scene hits): {int(a[:, 4].sum())}")
    print(
        f"hardest negatives in shortlists ({len(neg_h)} pairs): homography inliers max "
        f"{max(neg_h)} (accept >= {MIN_INLIERS_H}), fundamental inliers max {max(neg_f)} "
        f"(accept >= {MIN_INLIERS_F})"
    )
    for thr in (8, 10, 12, 15, 20):
        print(
            f"  homography threshold {thr:3d}: negatives >= it {sum(x >= thr for x in neg_h):4d}, "
            f"positive pairs >= it {sum(x >= thr for x in pos_h)}/{len(pos_h)}"
        )
    for thr in (15, 20, 25, 30, 40):
        print(
            f"  fundamental threshold {thr:3d}: negatives >= it {sum(x >= thr for x in neg_f):4d}, "
            f"positive pairs >= it {sum(x >= thr for x in pos_f)}/{len(pos_f)}"
        )
    med_r, med_v = statistics.median(times_r) * 1e3, statistics.median(times_v) * 1e3
    print(
        f"query time median: retrieval {med_r:.1f} ms + verification of {args.shortlist} "
        f"{med_v:.0f} ms = {med_r + med_v:.0f} ms (feature extraction of the query not included)"
    )

    # ---- robustness table ----
    print("\nedited copies: originals = real distractor photos + scene images (all indexed)")
    sources = [m for m in images if scene_of[m] == "-" or m.startswith("vlfeat")][:40]
    pdq_db = {m: pdq_bits(rgb) for m, rgb in images.items()}
    # PDQ distractors: the generated pictures too (hashing is cheap)
    for s in range(min(args.n, 2000)):
        pdq_db[f"gen/{s}"] = pdq_bits(busy_picture(s))
    pdq_ids = list(pdq_db)
    pdq_mat = np.stack([pdq_db[m] for m in pdq_ids])
    print(
        f"{'edit':10} {'n':>3} {'features: recall':>16} {'FP':>3} {'PDQ<=31: recall':>16} {'FP':>3}"
    )
    for name, fn in EDITS.items():
        ok = fp = pok = pfp = 0
        for src in sources:
            copy = fn(images[src])
            hits = similar(
                [extract(copy), extract_mirrored(copy)], index, feats, k=5, shortlist=args.shortlist
            )
            ok += bool(hits) and hits[0].media_id == src
            same = group_of.get(src, scene_of[src])
            fp += sum(1 for h in hits if group_of.get(h.media_id, scene_of[h.media_id]) != same)
            d = (pdq_mat != pdq_bits(copy)).sum(axis=1)
            within = {pdq_ids[i] for i in np.flatnonzero(d <= 31)}
            pok += src in within
            pfp += sum(1 for o in within if group_of.get(o, scene_of.get(o)) != same)
        n = len(sources)
        print(f"{name:10} {n:3d} {ok / n:16.3f} {fp:3d} {pok / n:16.3f} {pfp:3d}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
