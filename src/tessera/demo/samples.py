"""Benign sample files for demonstrations and smoke tests.

Everything is generated: seeded synthetic pictures (gradients, shapes, noise), each
in several formats, edited copies of one of them (resized, recompressed, mirrored),
and the kinds of bad files a seizure holds (zero bytes, truncated, not an image,
renamed). No real photograph is involved, so the set can be made anywhere.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps


def synthetic_picture(width: int, height: int, seed: int) -> Image.Image:
    """A deterministic RGB picture with smooth shading, edges and some texture."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), dtype=np.float32)
    amp = 1.0
    for octave in range(4):
        cells = 2 ** (octave + 1)
        small = rng.random((cells + 1, cells + 1, 3), dtype=np.float32)
        layer = Image.fromarray((small * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        acc += amp * np.asarray(layer, dtype=np.float32)
        amp *= 0.5
    acc *= 255.0 / max(float(acc.max()), 1.0)
    im = Image.fromarray(acc.astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(18, 32))):
        x0, y0 = int(rng.integers(-width // 10, width)), int(rng.integers(-height // 10, height))
        size = int(rng.integers(max(4, width // 24), max(5, width // 5)))
        colour = (int(rng.integers(0, 256)), int(rng.integers(0, 256)), int(rng.integers(0, 256)))
        box = (x0, y0, x0 + size, y0 + size)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return im.filter(ImageFilter.GaussianBlur(1.0))


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def write_samples(folder: Path, *, count: int = 6) -> list[Path]:
    """Write a small mixed 'seizure' under ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "camera").mkdir(exist_ok=True)
    (folder / "edited").mkdir(exist_ok=True)
    (folder / "damaged").mkdir(exist_ok=True)
    written: list[Path] = []

    def put(rel: str, data: bytes) -> None:
        p = folder / rel
        p.write_bytes(data)
        written.append(p)

    pictures = [synthetic_picture(1600, 1200, seed) for seed in range(count)]
    for i, im in enumerate(pictures):
        put(f"camera/IMG_{i:04d}.jpg", _save(im, "JPEG", quality=92))
    put("camera/IMG_0000_copy.jpg", (folder / "camera/IMG_0000.jpg").read_bytes())
    base = pictures[0]
    put("edited/resized.jpg", _save(base.resize((640, 480)), "JPEG", quality=85))
    put("edited/recompressed.jpg", _save(base, "JPEG", quality=40))
    put("edited/mirrored.png", _save(ImageOps.mirror(base.resize((800, 600))), "PNG"))
    put("edited/as.webp", _save(base.resize((800, 600)), "WEBP", quality=80))
    put("edited/grey.png", _save(base.convert("L").resize((800, 600)), "PNG"))
    jpeg = (folder / f"camera/IMG_{count - 1:04d}.jpg").read_bytes()
    put("damaged/truncated.jpg", jpeg[: len(jpeg) // 2])
    put("damaged/empty.jpg", b"")
    put("damaged/notes.jpg", b"not an image, whatever the name says\n")
    put("damaged/renamed.txt", _save(pictures[-1].resize((400, 300)), "PNG"))
    return written


__all__ = ["synthetic_picture", "write_samples"]
