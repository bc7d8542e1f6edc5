"""Seeded, photo-like synthetic JPEGs for benchmarks (benign by construction).

Tessera's demo generator (multi-octave value noise for smooth shading, random
shapes for edges, a little blur) plus sensor noise, saved as baseline JPEG q90
with 4:2:0 chroma, as in ``../shared/reference/performance-anchors.md``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tessera.demo.samples import synthetic_picture

SIZES: dict[str, tuple[int, int]] = {
    "640x480": (640, 480),
    "1920x1080": (1920, 1080),
    "4000x3000": (4000, 3000),
}


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A deterministic RGB picture (Tessera's demo generator) plus sensor noise."""
    rng = np.random.default_rng(seed)
    arr = np.asarray(synthetic_picture(width, height, seed), dtype=np.int16)
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
