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

Reports: retrieval mAP and recall@10 for the tf-idf shortlist alone ("bow") and
for the order ``similar(..., accepted_only=False)`` returns ("ver": verified hits by
inliers, then the unverified rest of the shortlist in retrieval order), false
positives, the hardest negatives' inlier counts, and the median query time split
into search and verification, for several shortlist lengths. Then the index is
padded to ``--scale`` documents (default 100,000) by re-adding the generated
distractors' word histograms under new ids (say so in the printout: those
documents are copies, not new pictures; a padded hit is verified with its
source distractor's features) and the same figures are measured again, with the
index size (vocabulary + inverted file). Last, retrieval variants (vocabulary
size, soft multiple assignment of query descriptors) at the real size.

The edited-copies table moved to ``bench_robust.py`` (``--edits`` keeps the small
one here).

Usage: ``python benchmarks/bench_scenes.py [--n 10000] [--words 2048] [--query-words 1]
[--shortlist 30] [--scale 100000] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tessera.demo.samples import synthetic_picture
from tessera.features import (
    LocalFeatures,
    SceneIndex,
    Vocabulary,
    codebook,
    extract,
    extract_mirrored,
    similar,
)
from tessera.features.verify import MIN_INLIERS_F, MIN_INLIERS_H
from tessera.fingerprints.pdq import pdq_hash_rgb

DATA = Path(os.environ.get("TESSERA_SHARED", REPO.parent / "shared")) / "data"
CACHE = REPO / "benchmarks" / "_data" / "scenes"
# compact blobs of the current codebook (older caches hold full blobs or other codebooks'
# codes: not mixed in)
CACHE_SUFFIX = "tslf2" if codebook.CURRENT == 1 else f"tslf2-cb{codebook.CURRENT}"

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


def stored(f: LocalFeatures) -> LocalFeatures:
    """``f`` as the database holds it (``to_bytes``: compact since migration 0011), so
    queries and candidates are what ``tessera similar ID`` compares."""
    return LocalFeatures.from_bytes(f.to_bytes())


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
    return extract(busy_picture(seed)).to_bytes()  # the stored form (compact)


def generated_features(n: int, workers: int) -> list[LocalFeatures]:
    CACHE.mkdir(parents=True, exist_ok=True)
    out: list[LocalFeatures] = []
    todo = []
    for s in range(n):
        p = CACHE / f"busy-{s}.{CACHE_SUFFIX}"
        if not p.exists():
            todo.append(s)
    if todo:
        t = time.perf_counter()
        with Pool(workers) as pool:
            for s, blob in zip(todo, pool.imap(_gen_features, todo, chunksize=16), strict=True):
                (CACHE / f"busy-{s}.{CACHE_SUFFIX}").write_bytes(blob)
        print(f"  generated {len(todo)} distractors in {time.perf_counter() - t:.0f} s")
    for s in range(n):
        out.append(LocalFeatures.from_bytes((CACHE / f"busy-{s}.{CACHE_SUFFIX}").read_bytes()))
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


@dataclass
class Corpus:
    feats: dict[str, LocalFeatures]
    scene_of: dict[str, str]
    images: dict[str, np.ndarray]
    group_of: dict[str, str]  # real distractors: same folder/landmark = same place


def load_corpus(n: int, workers: int) -> Corpus:
    t0 = time.perf_counter()
    print(f"extracting features (scene sets, real distractors, {n} generated)...")
    c = Corpus({}, {}, {}, {})
    for scene, paths in SCENES.items():
        for p in paths:
            m = str(p.relative_to(DATA))
            c.images[m] = load(p)
            c.feats[m] = stored(extract(c.images[m]))
            c.scene_of[m] = scene
    for p in real_distractors():
        m = str(p.relative_to(DATA))
        c.images[m] = load(p)
        c.feats[m] = stored(extract(c.images[m]))
        group = p.parent.name
        if group == "landmark-phototourism-samples":
            group = p.name.rsplit("_", 2)[0]
        c.scene_of[m] = "-"
        c.group_of[m] = group
    for s, f in enumerate(generated_features(n, workers)):
        c.feats[f"gen/{s}"] = f
        c.scene_of[f"gen/{s}"] = "-"
    n_kp = np.array([len(f) for f in c.feats.values()])
    print(
        f"  {len(c.feats)} images, keypoints/image median {int(np.median(n_kp))}, "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return c


@dataclass
class Evaluation:
    shortlist: int
    rows: dict[str, list[tuple[float, float, float, float]]]  # scene -> (ap_r, ap_v, r_r, r_v)
    fp: int
    wall_search: list[float]
    wall_total: list[float]
    cpu_total: list[float]
    neg_h: list[int]
    neg_f: list[int]
    pos_h: list[int]
    pos_f: list[int]

    def mean(self, core: bool = False) -> NDArray[np.float64]:
        vals = [r for s, rs in self.rows.items() for r in rs if not (core and "WxBS" in s)]
        return np.asarray(vals, np.float64).mean(axis=0)

    def n(self, core: bool = False) -> int:
        return sum(len(rs) for s, rs in self.rows.items() if not (core and "WxBS" in s))


def evaluate(
    index: SceneIndex,
    corpus: Corpus,
    store: Callable[[str], LocalFeatures | None],
    shortlist: int,
) -> Evaluation:
    """Every scene image queries the index (itself excluded), as ``similar`` ranks.

    Retrieval order = tf-idf shortlist; verified order = ``similar(...,
    accepted_only=False)``: verified hits by inliers, then the rest of the shortlist
    in retrieval order (spatial re-ranking).
    """
    ev = Evaluation(shortlist, {}, 0, [], [], [], [], [], [], [])
    for m, scene in corpus.scene_of.items():
        if scene == "-":
            continue
        positives = {o for o, s in corpus.scene_of.items() if s == scene and o != m}
        q = corpus.feats[m]

        def lookup(mid: str, _self: str = m) -> LocalFeatures | None:
            return None if mid == _self else store(mid)

        t = time.perf_counter()
        cands = index.search(q, shortlist + 1)
        ev.wall_search.append(time.perf_counter() - t)
        ranked_r = [c.media_id for c in cands if c.media_id != m][:shortlist]
        t, c0 = time.perf_counter(), time.process_time()
        hits = similar(q, index, lookup, k=shortlist, shortlist=shortlist + 1, accepted_only=False)
        ev.wall_total.append(time.perf_counter() - t)
        ev.cpu_total.append(time.process_time() - c0)
        ranked_v = [h.media_id for h in hits]
        for h in hits:
            v = h.verification
            if h.media_id in positives:
                ev.pos_h.append(v.homography_inliers)
                ev.pos_f.append(v.fundamental_inliers)
            else:
                ev.neg_h.append(v.homography_inliers)
                ev.neg_f.append(v.fundamental_inliers)
                ev.fp += int(v.accepted)
        ev.rows.setdefault(scene, []).append(
            (
                average_precision(ranked_r, positives),
                average_precision(ranked_v, positives),
                len(positives & set(ranked_r[:10])) / len(positives),
                len(positives & set(ranked_v[:10])) / len(positives),
            )
        )
    return ev


def _ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1e3


def print_scenes(ev: Evaluation) -> None:
    print(
        f"{'scene':12} {'queries':>7} {'mAP(bow)':>9} {'mAP(+ver)':>9} "
        f"{'R@10(bow)':>9} {'R@10(ver)':>9}"
    )
    for scene, vals in ev.rows.items():
        a = np.array(vals).mean(axis=0)
        print(f"{scene:12} {len(vals):7d} " + " ".join(f"{x:9.3f}" for x in a))
    print(f"{'ALL':12} {ev.n():7d} " + " ".join(f"{x:9.3f}" for x in ev.mean()))
    print(f"{'ALL-no-WxBS':12} {ev.n(True):7d} " + " ".join(f"{x:9.3f}" for x in ev.mean(True)))


def print_summary_header(prefix: str = "") -> None:
    print(
        f"{prefix}{'docs':>7} {'shortlist':>9} {'mAP(bow)':>8} {'mAP(ver)':>8} {'R@10(bow)':>9} "
        f"{'R@10(ver)':>9} {'FP':>3} {'search ms':>9} {'verify ms':>9} {'query ms':>8} "
        f"{'CPU ms':>7}"
    )


def print_summary(docs: int, ev: Evaluation, prefix: str = "") -> None:
    a = ev.mean()
    search, total = _ms(ev.wall_search), _ms(ev.wall_total)
    print(
        f"{prefix}{docs:7d} {ev.shortlist:9d} {a[0]:8.3f} {a[1]:8.3f} {a[2]:9.3f} {a[3]:9.3f} "
        f"{ev.fp:3d} {search:9.1f} {total - search:9.1f} {total:8.1f} {_ms(ev.cpu_total):7.1f}"
    )


def build_index(
    vocab: Vocabulary, feats: dict[str, LocalFeatures], query_words: int
) -> tuple[SceneIndex, dict[str, NDArray[np.int64]]]:
    """Index every image; returns the index and each generated picture's word list."""
    index = SceneIndex(vocab, query_words=query_words)
    gen_words: dict[str, NDArray[np.int64]] = {}
    for m, f in feats.items():
        words = vocab.assign(f.float_desc())
        index.add_words(m, words)
        if m.startswith("gen/"):
            gen_words[m] = words
    index.search(next(iter(feats.values())), 1)  # build the inverted file
    return index, gen_words


def robustness_table(
    corpus: Corpus, index: SceneIndex, n: int, shortlist: int
) -> None:  # pragma: no cover - optional (--edits); bench_robust.py is the full version
    images, feats, scene_of, group_of = (
        corpus.images,
        corpus.feats,
        corpus.scene_of,
        corpus.group_of,
    )
    print("\nedited copies: originals = real distractor photos + scene images (all indexed)")
    sources = [m for m in images if scene_of[m] == "-" or m.startswith("vlfeat")][:40]
    pdq_db = {m: pdq_bits(rgb) for m, rgb in images.items()}
    for s in range(min(n, 2000)):
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
                [extract(copy), extract_mirrored(copy)], index, feats, k=5, shortlist=shortlist
            )
            ok += bool(hits) and hits[0].media_id == src
            same = group_of.get(src, scene_of[src])
            fp += sum(1 for h in hits if group_of.get(h.media_id, scene_of[h.media_id]) != same)
            d = (pdq_mat != pdq_bits(copy)).sum(axis=1)
            within = {pdq_ids[i] for i in np.flatnonzero(d <= 31)}
            pok += src in within
            pfp += sum(1 for o in within if group_of.get(o, scene_of.get(o)) != same)
        k = len(sources)
        print(f"{name:10} {k:3d} {ok / k:16.3f} {fp:3d} {pok / k:16.3f} {pfp:3d}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="generated distractors")
    ap.add_argument("--words", type=int, default=2048)
    ap.add_argument("--query-words", type=int, default=1, help="soft multiple assignment")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shortlist", type=int, default=30)
    ap.add_argument("--shortlists", type=int, nargs="*", default=[10, 15, 20], help="also measured")
    ap.add_argument("--scale", type=int, default=100_000, help="pad the index to this size")
    ap.add_argument("--edits", action="store_true", help="also the small edited-copies table")
    ap.add_argument(
        "--variants",
        default="4096x1,4096x3,2048x3,1024x1",
        help="retrieval variants WORDSxQUERY_WORDS measured at the real size ('' = none)",
    )
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"shared data not found at {DATA}")

    t0 = time.perf_counter()
    corpus = load_corpus(args.n, args.workers)
    feats, scene_of = corpus.feats, corpus.scene_of
    # vocabulary trained on distractors only (independent of the query scenes)
    vocab = train_vocabulary([f for m, f in feats.items() if scene_of[m] == "-"], args.words)

    t = time.perf_counter()
    index, gen_words = build_index(vocab, feats, args.query_words)
    store_bytes = [len(f.to_bytes()) for f in feats.values()]
    print(
        f"index: {len(index)} images, built in {time.perf_counter() - t:.0f} s, "
        f"{index.nbytes() / 2**20:.1f} MiB (vocabulary + inverted file); query words "
        f"{args.query_words}; feature store {sum(store_bytes) / 2**20:.0f} MiB "
        f"({np.mean(store_bytes) / 1024:.0f} KiB/image)"
    )

    def store(mid: str) -> LocalFeatures | None:
        if mid.startswith("pad/"):  # padded copy of a generated distractor
            return feats[f"gen/{int(mid[4:]) % args.n}"]
        return feats.get(mid)

    # ---- scene retrieval ----
    print(f"\nscene retrieval ({len(index)} indexed, shortlist {args.shortlist})")
    ev = evaluate(index, corpus, store, args.shortlist)
    print_scenes(ev)
    print(f"false positives (accepted non-scene hits): {ev.fp}")
    print(
        f"hardest negatives in shortlists ({len(ev.neg_h)} pairs): homography inliers max "
        f"{max(ev.neg_h)} (accept >= {MIN_INLIERS_H}), fundamental inliers max {max(ev.neg_f)} "
        f"(accept >= {MIN_INLIERS_F})"
    )
    for thr in (8, 10, 12, 15, 20):
        print(
            f"  homography threshold {thr:3d}: negatives >= it "
            f"{sum(x >= thr for x in ev.neg_h):4d}, positive pairs >= it "
            f"{sum(x >= thr for x in ev.pos_h)}/{len(ev.pos_h)}"
        )
    for thr in (15, 20, 25, 30, 40):
        print(
            f"  fundamental threshold {thr:3d}: negatives >= it "
            f"{sum(x >= thr for x in ev.neg_f):4d}, positive pairs >= it "
            f"{sum(x >= thr for x in ev.pos_f)}/{len(ev.pos_f)}"
        )

    print(
        "\nsummary (median per query; query = similar(): search + verification of the "
        "shortlist; feature extraction of the query not included; CPU = process time, all "
        f"threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print_summary_header()
    evals = {args.shortlist: ev}
    for sl in args.shortlists:
        if sl != args.shortlist:
            evals[sl] = evaluate(index, corpus, store, sl)
    for sl in sorted(evals):
        print_summary(len(index), evals[sl])

    # ---- padded to --scale documents ----
    if args.scale > len(index):
        pad = args.scale - len(index)
        t = time.perf_counter()
        gen_ids = list(gen_words)
        for i in range(pad):
            index.add_words(f"pad/{i}", gen_words[gen_ids[i % len(gen_ids)]])
        index.search(next(iter(feats.values())), 1)
        print(
            f"\npadded to {len(index)} documents in {time.perf_counter() - t:.0f} s: "
            f"{pad} padded documents are copies of generated distractors' word histograms "
            f"(verification of a padded hit uses that distractor's features)"
        )
        print(
            f"index size at {len(index)}: {index.nbytes() / 2**20:.1f} MiB "
            f"(vocabulary {vocab.centroids.nbytes / 2**20:.1f} MiB + inverted file); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print_summary_header()
        for sl in sorted(evals):
            big = evaluate(index, corpus, store, sl)
            print_summary(len(index), big)
            if sl == args.shortlist:
                big_main = big
        print(f"\nper scene at {len(index)} documents, shortlist {args.shortlist}")
        print_scenes(big_main)

    if args.edits:
        robustness_table(corpus, index, args.n, args.shortlist)

    if args.variants:
        del index, gen_words  # free the padded index first
        print(
            f"\nretrieval variants at {len(feats)} documents (shortlist {args.shortlist}; "
            "vocabulary sampled as above)"
        )
        rows = []
        for spec in args.variants.split(","):
            words, qw = (int(x) for x in spec.split("x"))
            v = train_vocabulary([f for m, f in feats.items() if scene_of[m] == "-"], words)
            idx, _ = build_index(v, feats, qw)
            rows.append((words, qw, len(idx), evaluate(idx, corpus, store, args.shortlist)))
            del idx
        print_summary_header(f"{'words':>6} {'q.words':>7} ")
        for words, qw, docs, ev_v in rows:
            print_summary(docs, ev_v, f"{words:6d} {qw:7d} ")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
