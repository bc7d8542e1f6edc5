"""Copy or other shot (issue 16 item 3): same-place pairs vs edited copies, one run.

A verified homography is an edited copy only when the two pictures are the same
picture (``SceneMatch.same_picture``): the inliers' median residual in keypoint
sizes is small and, with enough inliers, an affine map explains them as well as the
homography. This prints, against compact stored features (``to_bytes``):

* every same-place pair of the shared scene sets (each picture of a set is another
  photograph of one place; sets of more than 8 are paired with their 2 neighbours),
  both ways, the query plain and mirrored: how many verify, how many are called a
  copy (the target is 0), and the smallest residual / affine excess among them;
* edits of shared photos and of generated pictures (crop, 4-degree rotation, mirror,
  quarter turn, caption, letterbox, overlay, JPEG q40, half size): copies found among
  those that verify at all, per edit, and the largest residual;
* AugLy's 42 outputs of ``dfdc_1`` the same way.

The KAZE Iguazu sequence is one photo with added noise (its README: identity
homographies), i.e. copies, so it is reported apart.

Each pair is run twice: with the query's full features (``full``: what the leads
stage and ``tessera similar`` extract) and with triage's copy-check keypoints
(``copy-check``: 300 keypoints of the picture shrunk to 320 pixels, rescaled, as the
verdicts' copy check and ``other_shots`` read them). ``--seizure ROOT --sample N``
also checks N edited copies of a seizure built by ``bench_seizure.py`` (ROOT holds
``db/``, ``seizure-*/`` and the ingested ``home/``) with copy-check keypoints against
the features ingest stored: how many are called another shot (``other_shot``, which
drops a PDQ hit; the target is 0) or a scene.

Usage: ``python benchmarks/bench_same_picture.py [--workers 2] [--scenes-only]
[--seizure ROOT --sample 3000]`` (about 15 CPU-minutes, 3,000 seizure copies ~5 more).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench_robust import jpeg40, overlay, rescale50
from bench_scenes import DATA, caption, crop8, letterbox, load, mirror, rotate4, stored
from bench_seizure import truth
from tessera.demo.samples import synthetic_picture
from tessera.features.local import LocalFeatures, extract, extract_mirrored
from tessera.features.scene import match_pair
from tessera.matching.scene_store import SceneStore
from tessera.pipeline.fingerprint import copy_keypoints, hash_bytes
from tessera.pipeline.options import HashOptions
from tessera.storage.db import Database
from tessera.storage.identity import media_ids_by_sha256


def rot90(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb))


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "crop8": crop8,
    "rotate4": rotate4,
    "mirror": mirror,
    "rot90": rot90,
    "caption": caption,
    "letterbox": letterbox,
    "overlay": overlay,
    "jpeg40": jpeg40,
    "rescale50": rescale50,
}


def signals(queries: list[LocalFeatures], known: LocalFeatures) -> dict[str, Any]:
    """The best of the queries (most inliers) against ``known``."""
    best = max((match_pair(q, known, "k") for q in queries), key=lambda m: m.inliers)
    v = best.verification
    return {
        "relation": best.relation,
        "inliers": v.homography_inliers,
        "residual": v.residual,
        "affine": v.affine_residual,
        "perspective": best.perspective,
        "same": best.same_picture,
        "other_shot": best.other_shot,
    }


def both(rgb: np.ndarray, known: LocalFeatures, **row: Any) -> list[dict[str, Any]]:
    """``signals`` of ``rgb`` against ``known`` with full features (the picture and its
    mirror image, as the leads stage) and with copy-check keypoints (the picture
    only, as the verdicts' copy check)."""
    return [
        {**row, "mode": "full", **signals([extract(rgb), extract_mirrored(rgb)], known)},
        {**row, "mode": "copy-check", **signals([copy_keypoints(rgb)], known)},
    ]


def scene_sets() -> list[list[str]]:
    def g(pattern: str) -> list[str]:
        return sorted(glob.glob(str(DATA / pattern)))

    sets = [
        g("opencv-contrib-sfm-sagrada/*.jpg"),
        g("tum-rgbd-fr3-office-frames/*.png"),
        g("homography-boat-iguazu-kaze/boat/img?.pgm"),
        g("homography-boat-iguazu-kaze/iguazu/img?.pgm"),
        g("affnet-graffiti-and-wide-baseline-pairs/graf/img?.png"),
        g("landmark-sacre-coeur-hloc/mapping/*.jpg"),
        g("landmark-sceaux-castle-openmvg/*.JPG"),
        g("icl-nuim-livingroom-frames/*.png")[::2],
        g("strecha-mvs-fountain/fountain-P11/images/*.jpg"),
        g("vlfeat-mosaic-pairs/river?.jpg"),
        g("vlfeat-mosaic-pairs/roofs?.jpg"),
        g("lightglue-pairs/DSC_041?.JPG"),
        g("lightglue-pairs/sacre_coeur?.jpg"),
        g("affnet-graffiti-and-wide-baseline-pairs/wide-baseline-pairs/*"),
        g("artwork-dvd-cover-smvs-pair/*.png"),
    ]
    by: dict[str, list[str]] = defaultdict(list)
    for p in g("landmark-phototourism-samples/*.jpg"):
        by[Path(p).name.rsplit("_", 2)[0]].append(p)
    return [s for s in [*sets, *by.values()] if len(s) > 1]


def scene_task(pair: tuple[str, str]) -> list[dict[str, Any]]:
    a, b = pair
    known = stored(extract(load(Path(b))))
    row = {"kind": "scene", "set": Path(a).parent.name, "a": Path(a).name, "b": Path(b).name}
    return both(load(Path(a)), known, **row)


def copy_task(item: tuple[str, str]) -> list[dict[str, Any]]:
    name, source = item
    if source.startswith("generated:"):
        w, h, seed = (int(x) for x in source.split(":")[1:])
        rgb = np.asarray(synthetic_picture(w, h, seed))
    else:
        rgb = load(Path(source))
    known = stored(extract(rgb))
    out = []
    for edit, fn in EDITS.items():
        e = fn(rgb)
        queries = [extract(e), extract_mirrored(e)]
        out.append(
            {"kind": "copy", "a": name, "b": edit, "mode": "full", **signals(queries, known)}
        )
        # a mirror image is found by PDQ's dihedral variants, not the copy check
        if edit != "mirror":
            cc = signals([copy_keypoints(e)], known)
            out.append({"kind": "copy", "a": name, "b": edit, "mode": "copy-check", **cc})
    return out


def augly_task(path: str) -> list[dict[str, Any]]:
    known = stored(extract(load(DATA / "augly-image-augmentations/inputs/dfdc_1.jpg")))
    return both(load(Path(path)), known, kind="augly", a="dfdc_1", b=Path(path).stem)


_SEIZURE: dict[str, Any] = {}


def _seizure_init(root: str) -> None:
    cv2.setNumThreads(1)
    home = Path(root) / "home"
    db = Database(f"sqlite:///{home}/tessera.sqlite")
    _SEIZURE.update(
        root=Path(root), db=db, scene=SceneStore(db, home / "scene-index", read_only=True)
    )


def seizure_task(item: tuple[str, str, str]) -> dict[str, Any]:
    """One edited copy of a built seizure, its copy-check keypoints (as triage's worker
    takes them from the file's bytes) against what ingest stored for its original."""
    folder, name, known = item
    root = _SEIZURE["root"]
    sha = hashlib.sha256((root / "db" / f"{known}.jpg").read_bytes()).digest()
    with _SEIZURE["db"].session() as s:
        media_id = media_ids_by_sha256(s, [sha]).get(sha)
    path = root / folder / name
    f = hash_bytes(path.read_bytes(), str(path), HashOptions(copy_features=True))
    stored_features = _SEIZURE["scene"].features_of(int(media_id)) if media_id else None
    row = {"kind": "seizure", "a": name, "b": name.rsplit("-", 1)[1].removesuffix(".jpg")}
    if stored_features is None or not f.copy_features:
        return {**row, "mode": "copy-check", "relation": None, "missing": True}
    r = signals([LocalFeatures.from_bytes(f.copy_features)], stored_features)
    return {**row, "mode": "copy-check", **r}


def seizure_items(root: Path, sample: int) -> list[tuple[str, str, str]]:
    """``sample`` edited copies of the seizure under ``root``, drawn with a fixed seed."""
    (folder,) = [p for p in root.glob("seizure-*") if p.is_dir()]
    n = int(folder.name.split("-")[1])
    n_db = sum(1 for _ in (root / "db").glob("known-*.jpg"))
    items = [(folder.name, f, k) for f, k in truth(n, n_db).items() if k is not None]
    random.Random(5).shuffle(items)
    return items[:sample]


def _init() -> None:
    cv2.setNumThreads(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenes-only", action="store_true")
    ap.add_argument("--jsonl", type=Path, help="also write every pair's signals here")
    ap.add_argument(
        "--seizure", type=Path, help="a bench_seizure.py build (db/, seizure-*/, home/)"
    )
    ap.add_argument("--sample", type=int, default=3000, help="edited copies of --seizure checked")
    args = ap.parse_args()
    pairs = []
    for s in scene_sets():
        for a, b in itertools.permutations(s, 2):
            if len(s) <= 8 or abs(s.index(a) - s.index(b)) <= 2:
                pairs.append((a, b))
    items: list[tuple[str, str]] = []
    if not args.scenes_only:
        origs = (
            sorted(glob.glob(str(DATA / "skimage-public-domain-originals/*.png")))
            + sorted(glob.glob(str(DATA / "imagededup-ukbench-transforms/base_images/*.jpg")))[:6]
            + sorted(glob.glob(str(DATA / "ocr-opencv-contrib-scenetext/scenetext0?.jpg")))[:5]
        )
        items = [(Path(o).name, o) for o in origs]
        for w, h in ((320, 240), (450, 340), (480, 360), (800, 600), (960, 720)):
            items += [(f"generated {w}x{h} seed {s}", f"generated:{w}:{h}:{s}") for s in range(4)]
    augly = (
        []
        if args.scenes_only
        else sorted(glob.glob(str(DATA / "augly-image-augmentations/dfdc_expected_output/*.png")))
    )
    with Pool(args.workers, initializer=_init) as pool:
        rows = [r for rs in pool.map(scene_task, pairs, chunksize=1) for r in rs]
        rows += [r for rs in pool.map(copy_task, items, chunksize=1) for r in rs]
        rows += [r for rs in pool.map(augly_task, augly, chunksize=1) for r in rs]
    if args.seizure:
        todo = seizure_items(args.seizure, args.sample)
        with Pool(args.workers, initializer=_seizure_init, initargs=(str(args.seizure),)) as pool:
            rows += pool.map(seizure_task, todo, chunksize=8)
    if args.jsonl:
        args.jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    for mode in ("full", "copy-check"):
        print(f"== queries: {mode}")
        report_mode([r for r in rows if r.get("mode") == mode])
    seizure = [r for r in rows if r["kind"] == "seizure"]
    if seizure:
        print("== edited copies of the seizure (copy-check keypoints against stored features)")
        print("  edit       other shot / scene / copy / not verified / all")
        for edit in sorted({r["b"] for r in seizure}):
            g = [r for r in seizure if r["b"] == edit]
            other = sum(bool(r.get("other_shot")) for r in g)
            scene = sum(r["relation"] == "scene" for r in g)
            copy = sum(r["relation"] == "copy" for r in g)
            rest = len(g) - scene - copy
            print(f"  {edit:10s} {other:4d} / {scene:4d} / {copy:4d} / {rest:4d} / {len(g):4d}")
        for r in seizure:
            if r.get("other_shot"):
                print("  OTHER SHOT:", r)


def report_mode(rows: list[dict[str, Any]]) -> None:
    scenes = [r for r in rows if r["kind"] == "scene" and r["set"] != "iguazu"]
    verified = [r for r in scenes if r["relation"] is not None]
    copies = [r for r in scenes if r["relation"] == "copy"]
    print(f"same-place pairs: {len(scenes)}, verified {len(verified)}, called copy {len(copies)}")
    for r in copies:
        print("  COPY:", r)
    with_h = [r for r in verified if np.isfinite(r["residual"])]
    if with_h:
        low = min(with_h, key=lambda r: r["residual"])
        where = f"{low['set']} {low['a']} {low['b']}"
        print(f"  smallest residual among them: {low['residual']:.3f} ({where})")
    by_set = Counter(r["set"] for r in scenes)
    print("  pairs per set:", dict(sorted(by_set.items())))
    ig = [r for r in rows if r["kind"] == "scene" and r["set"] == "iguazu"]
    n_ig = sum(r["relation"] == "copy" for r in ig)
    print(f"Iguazu noise ladder (copies by construction): {n_ig}/{len(ig)} copy")
    for kind in ("copy", "augly"):
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        print(f"{kind}: edit  copies / verified / all   (largest residual of a verified one)")
        for edit in sorted({r["b"] for r in group}) if kind == "copy" else ["all"]:
            g = group if edit == "all" else [r for r in group if r["b"] == edit]
            ver = [r for r in g if r["relation"] is not None]
            cp = [r for r in ver if r["relation"] == "copy"]
            worst = max(
                (r["residual"] for r in ver if np.isfinite(r["residual"])), default=float("nan")
            )
            print(f"  {edit:10s} {len(cp):4d} / {len(ver):4d} / {len(g):4d}   ({worst:.3f})")
            if kind == "augly":
                print("  not copies:", sorted(r["b"] for r in g if r["relation"] != "copy"))
        other = [r for r in group if r.get("other_shot")]
        print(f"  {kind}: taken for another shot (other_shot, drops a PDQ hit): {len(other)}")


if __name__ == "__main__":
    main()
