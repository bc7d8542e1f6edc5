"""Seeded, photo-like synthetic JPEGs for benchmarks (benign by construction).

Multi-octave value noise for smooth shading, random shapes for edges, a little
blur and sensor noise, saved as baseline JPEG q90 with 4:2:0 chroma, as in
``../shared/reference/performance-anchors.md``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZES: dict[str, tuple[int, int]] = {
    "640x480": (640, 480),
    "1920x1080": (1920, 1080),
    "4000x3000": (4000, 3000),
}


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A deterministic RGB picture with smooth regions, edges and texture."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), dtype=np.float32)
    amp = 1.0
    for octave in range(5):
        cells = 2 ** (octave + 1)
        small = rng.random((cells + 1, cells + 1, 3), dtype=np.float32)
        layer = Image.fromarray((small * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        acc += amp * np.asarray(layer, dtype=np.float32)
        amp *= 0.5
    acc /= acc.max() / 255.0
    im = Image.fromarray(acc.astype(np.uint8))
    draw = ImageDraw.Draw(im)
    scale = max(width, height)
    for _ in range(int(rng.integers(8, 20))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(scale // 40, scale // 5))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x0, y0, x0 + size, y0 + int(size * rng.uniform(0.5, 1.5)))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    im = im.filter(ImageFilter.GaussianBlur(radius=max(1.0, scale / 2000)))
    arr = np.asarray(im, dtype=np.int16)
    arr = arr + rng.normal(0, 4, arr.shape).astype(np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def jpeg_bytes(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, subsampling="4:2:0")
    return buf.getvalue()


def generate(folder: Path, counts: dict[str, int], seed: int = 1) -> dict[str, list[Path]]:
    """Write (or reuse) ``counts[size]`` JPEGs per size class under ``folder``."""
    out: dict[str, list[Path]] = {}
    for label, n in counts.items():
        w, h = SIZES[label]
        sub = folder / label
        sub.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(n):
            p = sub / f"{label}-{i:04d}.jpg"
            if not p.exists():
                p.write_bytes(jpeg_bytes(photo_like(w, h, seed * 100_000 + i)))
            paths.append(p)
        out[label] = paths
    return out
