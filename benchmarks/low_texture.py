"""Low-texture class of ``bench_robust.py`` (issue 16 item 2), runnable on its own.

Smooth gradients, blurred photos and flat scenes with one object have few
keypoints, so their edited copies were all ``new``. This measures ``near``
recall per edit class the way ``tessera triage`` decides it now:

1. PDQ through the pipeline (``hash_bytes`` with ``dihedral``, as ``tessera triage
   --dihedral`` hashes): a query variant within 31 bits of an original, both of
   quality >= 50, unless local features show the pair to be another shot
   (``SceneMatch.other_shot``, as triage's ``other_shots``);
2. else the colour layout (``matching.triage.layouts``: the query's layout from
   ``hash_bytes`` with ``layout``, the originals' as ingest stores them), its cost
   per file printed;
3. else local features (``extract`` and ``extract_mirrored``, as triage's second
   stage) verified against every original's *stored* (compact) features (the scene
   store verifies exhaustively at this size): a ``copy`` relation.

Negatives: other pictures of the same three kinds (other seeds, other photos;
``--negatives`` per kind), ``--busy`` generated busy pictures, and as many pictures
close to an original of each of six kinds (``HARD_FLAT``: another shot of the same
wall, its object moved, recoloured or replaced; ``HARD_GRADIENT``: the blend turned or
its centre moved, one or three of its colours moved by 35-60 levels), never indexed;
any ``near`` among them is a false positive. ``--busy`` busy pictures are indexed too.

Usage: ``python benchmarks/low_texture.py [--per-kind 10] [--negatives 30] [--busy 10]
[--seed0 0]`` (``--seed0``: originals from that seed on, to check limits tuned on
seeds 0-7 against others).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_robust import overlay
from bench_scenes import DATA, busy_picture, caption, crop8, letterbox, load, mirror, rotate4
from tessera.features import LocalFeatures, extract, extract_mirrored
from tessera.features.scene import match_pair
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.matching.triage.layouts import LayoutIndex
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import HashOptions


def rot90(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb))


EDITS = {
    "crop8": crop8,
    "rotate4": rotate4,
    "mirror": mirror,
    "rot90": rot90,
    "caption": caption,
    "overlay": overlay,
    "letterbox": letterbox,
}

W, H = 640, 480


def gradient(seed: int, other: int | None = None) -> np.ndarray:
    """A smooth two- or three-colour gradient (linear or radial), a little noise.

    ``other``: a different picture close to it (``gradient_close``)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    linear = bool(seed % 2)
    if linear:
        a = rng.uniform(0, np.pi)
    else:
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    colours = rng.uniform(0, 255, (3, 3))
    if other is not None:
        o = np.random.default_rng([seed, other])
        what = other % 3
        if what == 0:  # the same colours, the blend turned (linear) or its centre moved,
            # away from the blend's mirror images (those are copies: a blend along a
            # turned by 20-45 degrees can be a's mirror image, pi - a or -a, within the
            # few degrees of rotation an edited copy has)
            if linear:
                mirrors = np.array([a, np.pi - a, -a, np.pi + a])
                turns = o.uniform(np.radians(20), np.radians(45), 200) * o.choice([-1, 1], 200)
                gap = np.abs(np.angle(np.exp(1j * ((a + turns)[:, None] - mirrors[None]))))
                a += float(turns[np.argmax(gap.min(axis=1))])
            else:  # of 200 moves, the farthest from the centre and its mirror images
                mirrors = np.array([(mx, my) for mx in (cx, W - cx) for my in (cy, H - cy)])
                xs = (cx + o.choice([-1, 1], 200) * o.uniform(0.25, 0.45, 200) * W) % W
                ys = (cy + o.choice([-1, 1], 200) * o.uniform(0.25, 0.45, 200) * H) % H
                far = np.maximum(
                    np.abs(xs[:, None] - mirrors[None, :, 0]) / W,
                    np.abs(ys[:, None] - mirrors[None, :, 1]) / H,
                ).min(axis=1)
                cx, cy = float(xs[np.argmax(far)]), float(ys[np.argmax(far)])
        else:  # the same blend, one or all three of its colours moved by 35-60 levels
            # (after clipping to 0-255: a colour at the cube's edge pushed outwards
            # moved 2 levels and the "other picture" was the original, seeds 24-31)
            for j in range(3) if what == 2 else [int(o.integers(0, 3))]:
                while True:
                    step = o.normal(0, 1, 3)
                    size = o.uniform(35, 60)
                    moved = np.clip(colours[j] + step / np.linalg.norm(step) * size, 0, 255)
                    if np.linalg.norm(moved - colours[j]) >= 35:
                        colours[j] = moved
                        break
    c0, c1, c2 = colours
    if linear:
        t = (np.cos(a) * xx + np.sin(a) * yy) / (W + H)
    else:
        t = np.hypot(xx - cx, yy - cy) / np.hypot(W, H)
    t = (t - t.min()) / max(1e-6, float(np.ptp(t)))
    mid = np.clip(t * 2, 0, 1)[..., None]
    hi = np.clip(t * 2 - 1, 0, 1)[..., None]
    img = c0 * (1 - mid) + c1 * mid * (1 - hi) + c2 * hi
    img += rng.normal(0, 1.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def flat_scene(seed: int, other: int | None = None) -> np.ndarray:
    """A flat wall/bed-like background with one object (ellipse, box or patch).

    ``other``: another shot of the same wall: its object moved as far as it goes
    from where it is in the picture and in its mirror images (those are copies;
    seeds 0-23: 20-38 % of the width or height, median 27 %), or recoloured (a noisy
    patch's colours inverted and its channels swapped: before, the patch kept its colours
    and the "recoloured" picture was the original), or another object (other shape, size,
    colour and place)."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in rng.integers(60, 230, 3))
    im = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(im)
    x, y = int(rng.integers(60, W - 220)), int(rng.integers(60, H - 200))
    w, h = int(rng.integers(80, 200)), int(rng.integers(80, 180))
    fg = tuple(int(v) for v in rng.integers(0, 255, 3))
    shape = seed % 3
    if other is not None:
        o = np.random.default_rng([seed, other])
        what = other % 3
        if what == 0:  # moved: of 200 places, the farthest from where it is in the
            # picture and in its mirror images (a quarter of the picture's side is
            # not always possible: an object near the centre has its mirror images near)
            mirrors = np.array([(mx, my) for mx in (x, W - w - x) for my in (y, H - h - y)])
            xs = o.integers(10, W - w - 10, 200)
            ys = o.integers(10, H - h - 10, 200)
            far = np.maximum(
                np.abs(xs[:, None] - mirrors[None, :, 0]) / W,
                np.abs(ys[:, None] - mirrors[None, :, 1]) / H,
            ).min(axis=1)
            x, y = int(xs[np.argmax(far)]), int(ys[np.argmax(far)])
        elif what == 1:  # recoloured
            while True:
                new = tuple(int(v) for v in o.integers(0, 255, 3))
                if np.linalg.norm(np.subtract(new, fg)) >= 80:
                    fg = new
                    break
        else:  # another object
            shape = (shape + int(o.integers(1, 3))) % 3
            x, y = int(o.integers(60, W - 220)), int(o.integers(60, H - 200))
            w, h = int(o.integers(80, 200)), int(o.integers(80, 180))
            fg = tuple(int(v) for v in o.integers(0, 255, 3))
            rng = o
    if shape == 0:
        d.ellipse((x, y, x + w, y + h), fill=fg)
    elif shape == 1:
        d.rectangle((x, y, x + w, y + h), fill=fg, outline=(20, 20, 20), width=3)
    else:
        patch = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
        if other is not None and other % 3 == 1:  # recoloured: fg is not the patch's
            patch = 255 - patch[:, :, ::-1]
        im.paste(Image.fromarray(patch).resize((w, h), Image.Resampling.NEAREST), (x, y))
    arr = np.asarray(im).astype(np.float32)
    arr = cv2.GaussianBlur(arr, (0, 0), 1.5) + rng.normal(0, 1.5, arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


PHOTOS = sorted(
    [
        *(DATA / "skimage-public-domain-originals").glob("*.png"),
        *(DATA / "imagededup-ukbench-transforms/base_images").glob("*.jpg"),
        *(DATA / "landmark-sceaux-castle-openmvg").glob("*.JPG"),
    ]
)


def blurred_photo(i: int) -> np.ndarray:
    rgb = load(PHOTOS[i % len(PHOTOS)])
    s = 640 / max(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (0, 0), 6.0))


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def _bits(hex_: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(hex_), np.uint8))


TRIAGE = HashOptions(dihedral=True, layout=True)
INGEST = HashOptions(layout=True)


class Known:
    def __init__(self, pics: dict[str, np.ndarray], layout: bool = True) -> None:
        self.use_layout = layout
        self.names = list(pics)
        self.pdq: list[np.ndarray | None] = []
        self.feats: list[LocalFeatures] = []
        layouts: list[tuple[int, bytes]] = []
        for k, rgb in enumerate(pics.values()):
            r = hash_bytes(_png(rgb), "known", INGEST)
            if r.layout:
                layouts.append((k, r.layout))
            ok = r.pdq is not None and (r.quality or 0) >= QUALITY_THRESHOLD
            self.pdq.append(_bits(r.pdq) if ok and r.pdq else None)
            f = extract(rgb)
            self.feats.append(LocalFeatures.from_bytes(f.to_bytes()))
        self.layouts = LayoutIndex.of(layouts)
        self.layout_s: list[float] = []

    def near(self, rgb: np.ndarray) -> tuple[str | None, str]:
        """The original triage calls ``rgb`` near, and how (pdq / features / -)."""
        r = hash_bytes(_png(rgb), "query", TRIAGE)
        variants: list[str] = []
        if r.pdq and (r.quality or 0) >= QUALITY_THRESHOLD:
            variants = list((r.dihedral or {"original": r.pdq}).values())
        hits: dict[int, int] = {}
        for v in variants:
            bits = _bits(v)
            for k, kb in enumerate(self.pdq):
                if kb is not None:
                    d = int((bits != kb).sum())
                    if d <= MATCH_THRESHOLD and d < hits.get(k, d + 1):
                        hits[k] = d
        if hits:  # triage drops the PDQ hits local features show to be another shot
            q0 = extract(rgb)
            for k in sorted(hits, key=lambda k: (hits[k], k)):
                if not match_pair(q0, self.feats[k], self.names[k]).other_shot:
                    return self.names[k], "pdq"
        if r.layout and self.use_layout:
            t = time.process_time()
            hit = self.layouts.copy_of(r.layout)
            self.layout_s.append(time.process_time() - t)
            if hit is not None:
                return self.names[hit[0]], "layout"
        found: tuple[int, int] | None = None
        for q in (extract(rgb), extract_mirrored(rgb)):
            for k, f in enumerate(self.feats):
                m = match_pair(q, f, self.names[k])
                if m.relation == "copy" and (found is None or m.inliers > found[0]):
                    found = (m.inliers, k)
        return (self.names[found[1]], "features") if found else (None, "-")


KINDS = {"gradient": gradient, "blurred photo": blurred_photo, "flat + one object": flat_scene}
BUSY_SEED0 = 70_000_000


def _ms(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"median {statistics.median(xs) * 1e3:.1f} ms, max {max(xs) * 1e3:.0f} ms CPU"


HARD_FLAT = (
    "flat, same wall, object moved",
    "flat, same wall, object recoloured",
    "flat, same wall, another object",
)
HARD_GRADIENT = (
    "gradient, turned or centre moved",
    "gradient, one colour moved",
    "gradient, three colours moved",
)


def run(
    per_kind: int,
    negatives: int | None = None,
    busy: int = 10,
    layout: bool = True,
    hard: bool = True,
    *,
    seed0: int = 0,
) -> None:
    t0 = time.perf_counter()
    n_neg = 3 * per_kind if negatives is None else negatives
    first = range(seed0, seed0 + per_kind)
    originals = {f"{k}/{i}": fn(i) for k, fn in KINDS.items() for i in first}
    photos = {i % len(PHOTOS) for i in first}
    for i in range(busy):
        originals[f"busy/{i}"] = busy_picture(BUSY_SEED0 + i)
    negs = {
        f"{k}/{i}": fn(i)
        for k, fn in KINDS.items()
        for i in range(seed0 + per_kind, seed0 + per_kind + n_neg)
        if k != "blurred photo" or i % len(PHOTOS) not in photos  # other photos only
    }
    for i in range(busy):
        negs[f"busy/{i}"] = busy_picture(BUSY_SEED0 + busy + i)
    for i in range(n_neg if hard else 0):  # close to an original: the hard negatives
        seed, other = seed0 + i % per_kind, i // per_kind
        for h, what in enumerate(HARD_FLAT):
            negs[f"{what}/{i}"] = flat_scene(seed, 3 * other + h)
        for h, what in enumerate(HARD_GRADIENT):
            negs[f"{what}/{i}"] = gradient(seed, 3 * other + h)
    known = Known(originals, layout)
    print(
        f"\nLow-texture class (seeds {seed0}-{seed0 + per_kind - 1}): "
        f"{len(originals)} originals indexed ({busy} of them busy), "
        f"{len(negs)} negatives ({busy} busy"
        + (f", {6 * n_neg} close to an original" if hard else "")
        + f"); {len(known.layouts)} decisive layouts"
        + ("" if layout else "; colour layout step OFF (the cascade before it)")
    )
    print(f"  {'kind':18s} " + " ".join(f"{e:>9s}" for e in EDITS) + "   pdq/layout/feat   wrong")
    for kind in KINDS:
        cells, wrong, via = [], 0, {"pdq": 0, "layout": 0, "features": 0, "-": 0}
        for fn in EDITS.values():
            ok = 0
            names = [n for n in originals if n.startswith(kind + "/")]
            for n in names:
                got, how = known.near(fn(originals[n]))
                via[how] += 1
                ok += got == n
                wrong += got is not None and got != n
            cells.append(f"{ok:>4d}/{len(names):<4d}")
        print(
            f"  {kind:18s} " + " ".join(cells) + f"   {via['pdq']}/{via['layout']}/"
            f"{via['features']}   {wrong}"
        )
    pos_cost = list(known.layout_s)
    known.layout_s.clear()
    fp = [(n, how) for n, rgb in negs.items() for got, how in [known.near(rgb)] if got]
    print(f"  negatives called near (false positives): {len(fp)} of {len(negs)} {fp[:12]}")
    for kind in [*KINDS, "busy", *HARD_FLAT, *HARD_GRADIENT]:
        group = [n for n in negs if n.startswith(kind + "/")]
        bad = [how for n, how in fp if n.startswith(kind + "/")]
        via = "/".join(str(bad.count(h)) for h in ("pdq", "layout", "features"))
        print(f"    {kind:34s} {len(bad)} of {len(group)}   pdq/layout/feat {via}")
    print(
        f"  colour layout step per file: edited copies {_ms(pos_cost)}; "
        f"negatives {_ms(known.layout_s)}"
    )
    print(f"  ({time.perf_counter() - t0:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-kind", type=int, default=10)
    ap.add_argument("--negatives", type=int, default=None, help="per kind (3 x --per-kind)")
    ap.add_argument("--busy", type=int, default=10, help="busy pictures indexed and queried")
    ap.add_argument("--no-layout", action="store_true", help="without the colour layout step")
    ap.add_argument("--no-hard", action="store_true", help="without the negatives close to one")
    ap.add_argument(
        "--seed0", type=int, default=0, help="first seed of the originals (others: to check)"
    )
    args = ap.parse_args()
    run(
        args.per_kind,
        args.negatives,
        args.busy,
        not args.no_layout,
        not args.no_hard,
        seed0=args.seed0,
    )


if __name__ == "__main__":
    main()
