"""Turning any decoded Pillow image into the 8-bit RGB pixels PDQ is defined on.

Two policies:

``tessera`` (the default) converts every mode by its meaning:
  * EXIF orientation is applied (the picture as a viewer shows it);
  * palette images are expanded through their palette;
  * CMYK goes through Pillow's CMYK->RGB (which also undoes Adobe's inverted CMYK);
  * 1-bit images become 0/255 grey;
  * 16-bit grey (``I;16*``) is scaled to 8 bits by ``round(v * 255 / 65535)``;
    32-bit integer (``I``) is treated as 16-bit data (how Pillow opens many 16-bit
    PNGs and TIFFs), float (``F``) as 0..1 if its maximum is <= 1, else 0..255;
  * alpha is composited over **white** (``ALPHA_BACKGROUND``), the page a viewer
    shows a transparent image on; fully opaque images are unchanged.

``pytx`` reproduces python-threatexchange and HMA bit for bit, pitfalls included,
for interoperability checks: no EXIF orientation; LA and I;16 through Pillow's
``convert("RGB")`` (which clips 16-bit values above 255); other 2-D arrays (L, 1,
P, I) stacked as they are, so palette images are hashed on their palette
*indices* and 1-bit images on 0/1; the first three channels of anything wider, so
CMYK is hashed on raw C, M, Y (an inverted picture) and alpha is dropped.

The two agree on RGB, L and opaque RGBA/LA images, which is nearly everything.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tessera.fingerprints.pdq import SampleGrid

Policy = Literal["tessera", "pytx"]
ALPHA_BACKGROUND = 255

UInt8Array = NDArray[np.uint8]

# EXIF orientation -> elementary steps applied in order:
# "r" flip rows (top/bottom), "c" flip columns (left/right), "t" transpose.
_ORIENTATION_STEPS: dict[int, str] = {
    1: "",
    2: "c",
    3: "rc",
    4: "r",
    5: "t",
    6: "rt",
    7: "rct",
    8: "ct",
}


def _stack_grey(a: NDArray[np.uint8]) -> UInt8Array:
    return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))


def _composite_white(rgb: NDArray[np.uint8], alpha: NDArray[np.uint8]) -> UInt8Array:
    a = alpha.astype(np.uint32)[:, :, None]
    out = (rgb.astype(np.uint32) * a + ALPHA_BACKGROUND * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _scale16(a: NDArray[np.integer] | NDArray[np.floating]) -> UInt8Array:
    v = np.clip(np.asarray(a, dtype=np.int64), 0, 65535)
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


def to_rgb_tessera(im: Image.Image) -> UInt8Array:
    """H x W x 3 uint8 RGB by the ``tessera`` policy (orientation not included)."""
    mode = im.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    if mode == "L":
        return _stack_grey(np.asarray(im, dtype=np.uint8))
    if mode == "1":
        return _stack_grey(np.asarray(im.convert("L"), dtype=np.uint8))
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return to_rgb_tessera(im.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("RGBA", "RGBa", "LA", "La"):
        if mode in ("RGBa", "La"):  # premultiplied: let Pillow unpremultiply
            im = im.convert("RGBA" if mode == "RGBa" else "LA")
            mode = im.mode
        arr = np.asarray(im, dtype=np.uint8)
        if mode == "LA":
            rgb, alpha = _stack_grey(arr[:, :, 0]), arr[:, :, 1]
        else:
            rgb, alpha = arr[:, :, :3], arr[:, :, 3]
        if alpha.min() == 255:
            return np.ascontiguousarray(rgb)
        return _composite_white(rgb, alpha)
    if mode.startswith("I;16"):
        return _stack_grey(_scale16(np.asarray(im)))
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and arr.min() >= 0 and arr.max() <= 255:
            return _stack_grey(arr.astype(np.uint8))
        return _stack_grey(_scale16(arr))
    if mode == "F":
        f = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if f.size and f.max() <= 1.0:
            f = f * 255.0
        return _stack_grey(np.clip(np.rint(f), 0, 255).astype(np.uint8))
    # CMYK, YCbCr, LAB, HSV and anything else Pillow can convert
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def to_rgb_pytx(im: Image.Image) -> UInt8Array:
    """H x W x 3 uint8 exactly as python-threatexchange feeds ``pdqhash``."""
    if im.mode in ("LA", "I;16"):
        im = im.convert("RGB")
    arr = np.asarray(im)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack((arr,) * 3, axis=-1)
    # pdqhash takes a char buffer: wider integer types wrap to their low byte
    return np.ascontiguousarray(arr[:, :, :3].astype(np.uint8))


def orientation_steps(orientation: int) -> str:
    """Elementary steps for an EXIF orientation value (unknown values: none)."""
    return _ORIENTATION_STEPS.get(orientation, "")


def apply_orientation(
    rgb: UInt8Array, grid: SampleGrid, orientation: int
) -> tuple[UInt8Array, SampleGrid]:
    """Apply an EXIF orientation to pixels and to their sample grid alike."""
    for step in orientation_steps(orientation):
        if step == "r":
            rgb, grid = rgb[::-1], grid.flipped_rows()
        elif step == "c":
            rgb, grid = rgb[:, ::-1], grid.flipped_cols()
        else:
            rgb, grid = rgb.swapaxes(0, 1), grid.transposed()
    return np.ascontiguousarray(rgb), grid


__all__ = [
    "ALPHA_BACKGROUND",
    "Policy",
    "apply_orientation",
    "orientation_steps",
    "to_rgb_pytx",
    "to_rgb_tessera",
]
