"""Safe image decoding: bytes in, normalised RGB pixels (and their sample grid) out.

Seized media includes damaged, truncated and deliberately hostile files. Decoding
here is defensive:

* the format is sniffed from content and Pillow is offered only that format;
* width x height is checked against ``DecodeLimits.max_pixels`` from the header,
  before any pixel buffer is allocated (decompression bombs);
* every decoder failure becomes a typed ``MediaError`` with a reason
  (``truncated``, ``corrupt``, ``too-many-pixels``, ...), never a crash;
* only the first frame of animated GIF/WebP/TIFF is decoded.

The *fast* mode asks libjpeg for a DCT-domain scaled decode (1/2, 1/4 or 1/8) of
large JPEGs and returns the matching ``SampleGrid``, so PDQ can weight each
decoded pixel as the reference would have weighted the block it stands for.
"""

from __future__ import annotations

import io
import re
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tessera.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from tessera.fingerprints.pdq import SampleGrid
from tessera.media.normalize import (
    Policy,
    apply_orientation,
    to_rgb_pytx,
    to_rgb_tessera,
)
from tessera.media.sniff import Sniffed, sniff

try:  # HEIF/HEIC support is an optional plugin
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only where pillow-heif is absent
    HEIF_AVAILABLE = False

DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024

_FAST_SCALES = (8, 4, 2)
FAST_BLOCK_PER_WINDOW = 0.5
"""A scaled-decode pixel may stand for at most this fraction of PDQ's Jarosz window
(on the shorter side). 0.5 keeps the fast hash within mean 0.8 / max 4 bits of the
reference on the benchmark set and the ThreatExchange images; 1.0 gave max 34 bits
on 256 px images (measured, see docs/pdq.md)."""


@dataclass(frozen=True)
class DecodeLimits:
    """Caps applied before decoding; exceeding one gives ``MediaTooLarge``."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class DecodedImage:
    """Pixels ready for fingerprinting, and what is known about where they came from."""

    rgb: NDArray[np.uint8]
    grid: SampleGrid | None
    format: str
    mode: str
    width: int
    height: int
    orientation: int = 1
    scale: int = 1
    flags: tuple[str, ...] = field(default=())

    @property
    def full_shape(self) -> tuple[int, int]:
        """Height and width of the full-resolution (oriented) picture."""
        if self.grid is not None:
            return self.grid.full_shape
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])


_DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    zlib.error,
    RuntimeError,
    MemoryError,
    OverflowError,
)


def _corrupt(exc: BaseException, name: str) -> CorruptMedia:
    # Pillow names the in-memory stream (<_io.BytesIO object at 0x...>): drop it
    text = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc)) or type(exc).__name__
    reason = "truncated" if "truncat" in text.lower() else "corrupt"
    return CorruptMedia(f"{name} could not be decoded: {text}", reason=reason)


def _fast_scale(width: int, height: int) -> int:
    window = (min(width, height) + 127) // 128
    for s in _FAST_SCALES:
        if s <= window * FAST_BLOCK_PER_WINDOW:
            return s
    return 1


def sniff_image(data: bytes) -> Sniffed:
    """Sniff and insist on a decodable image; raises a typed ``MediaError`` otherwise."""
    if not data:
        raise EmptyFile("the file is empty (0 bytes)")
    kind = sniff(data[:512])
    if kind.kind != "image" or kind.pillow_format is None:
        if kind.kind == "unknown":
            raise UnsupportedMedia("content is not a recognised image format")
        raise UnsupportedMedia(f"content is {kind.name} ({kind.kind}), not an image")
    if kind.pillow_format == "HEIF" and not HEIF_AVAILABLE:
        raise UnsupportedMedia("HEIF/HEIC needs the pillow-heif package")
    Image.init()
    if kind.pillow_format not in Image.OPEN:
        raise UnsupportedMedia(f"this Pillow build cannot decode {kind.name}")
    return kind


def decode_image(
    data: bytes,
    *,
    fast: bool = False,
    policy: Policy = "tessera",
    limits: DecodeLimits = DecodeLimits(),
) -> DecodedImage:
    """Decode image bytes to normalised RGB.

    ``fast`` allows a scaled JPEG decode (the returned ``grid`` says how to weight
    it). ``policy`` selects the normalisation (see ``tessera.media.normalize``).
    """
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"{len(data)} bytes exceeds the {limits.max_bytes}-byte limit",
            reason="too-many-bytes",
        )
    kind = sniff_image(data)
    name = kind.name.upper()
    _let_pillow_reach(limits.max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data), formats=[kind.pillow_format or ""])
        except Image.DecompressionBombError as exc:
            raise MediaTooLarge(str(exc), reason="too-many-pixels") from exc
        except _DECODER_ERRORS as exc:
            raise _corrupt(exc, name) from exc
        with im:
            return _decode_open(im, kind, name, fast=fast, policy=policy, limits=limits)


def _decode_open(
    im: Image.Image,
    kind: Sniffed,
    name: str,
    *,
    fast: bool,
    policy: Policy,
    limits: DecodeLimits,
) -> DecodedImage:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"{name} header declares an empty size {width}x{height}")
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"{width}x{height} = {width * height} pixels exceeds the limit of {limits.max_pixels}",
            reason="too-many-pixels",
        )
    scale = 1
    mode = im.mode
    try:
        if fast and kind.pillow_format == "JPEG":
            s = _fast_scale(width, height)
            if s > 1:
                target = im.mode if im.mode not in ("RGB", "YCbCr") else "RGB"
                im.draft(target, (max(1, width // s), max(1, height // s)))
                scale = _actual_scale(width, height, im.size)
        im.load()
        rgb = to_rgb_tessera(im) if policy == "tessera" else to_rgb_pytx(im)
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(str(exc), reason="too-many-pixels") from exc
    except _DECODER_ERRORS as exc:
        raise _corrupt(exc, name) from exc
    orientation = 1
    if policy == "tessera":
        # Read after load(): some plugins (Pillow's TIFF) apply the orientation while
        # loading and drop the tag; reading it before would rotate the picture twice.
        try:
            orientation = int(im.getexif().get(0x0112, 1) or 1)
        except _DECODER_ERRORS:
            orientation = 1  # unreadable EXIF must not lose the picture
    grid = SampleGrid.scaled(height, width, scale) if scale > 1 else None
    if orientation != 1 and policy == "tessera":
        base = grid or SampleGrid.scaled(height, width, 1)
        rgb, oriented = apply_orientation(rgb, base, orientation)
        grid = oriented if scale > 1 else None
    return DecodedImage(
        rgb=rgb,
        grid=grid,
        format=kind.name,
        mode=mode,
        width=width,
        height=height,
        orientation=orientation,
        scale=scale,
    )


def _let_pillow_reach(max_pixels: int) -> None:
    # Pillow refuses > 2 x MAX_IMAGE_PIXELS in Image.open, before our own check can
    # name the cap; raise its threshold so that the configured cap is the one applied.
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and 2 * current < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _actual_scale(width: int, height: int, size: tuple[int, int]) -> int:
    for s in (8, 4, 2, 1):
        if -(-width // s) == size[0] and -(-height // s) == size[1]:
            return s
    raise CorruptMedia(f"unexpected scaled JPEG size {size} for {width}x{height}")


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "HEIF_AVAILABLE",
    "DecodeLimits",
    "DecodedImage",
    "decode_image",
    "sniff_image",
]
