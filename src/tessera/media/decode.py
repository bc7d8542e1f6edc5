"""Safe image decoding: bytes in, normalised RGB pixels (and their sample grid) out.

Seized media includes damaged, truncated and deliberately hostile files. Decoding
here is defensive:

* the format is sniffed from content and Pillow is offered only that format;
* width x height is checked against ``DecodeLimits.max_pixels`` from the header,
  before any pixel buffer is allocated (decompression bombs);
* every decoder failure becomes a typed ``MediaError`` with a reason
  (``truncated``, ``corrupt``, ``too-many-pixels``, ...), never a crash;
* only the first frame of animated GIF/WebP/TIFF is decoded;
* memory is bounded by an estimate made from the header, before decoding: a
  picture whose full-resolution pipeline would pass ``DecodeLimits.max_memory`` is
  decoded reduced (JPEG in the DCT domain; others box-averaged strip by strip) and
  flagged ``decoded-reduced``; only one whose bare pixel buffer would not fit is
  refused (``too-much-memory``);
* hostile metadata never costs the pixels: a PNG whose ancillary chunks (zTXt or
  iCCP bombs, broken text) stop Pillow is decoded again from its critical chunks
  alone and flagged ``metadata-ignored``;
* a Huffman-coded JPEG whose entropy-coded data is shorter than one bit per MCU of
  its declared size (a patched header over a few KB of data, which libjpeg would
  "decode" to grey) is ``truncated``.

The *fast* mode asks libjpeg for a DCT-domain scaled decode (1/2, 1/4 or 1/8) of
large JPEGs and returns the matching ``SampleGrid``, so PDQ can weight each
decoded pixel as the reference would have weighted the block it stands for.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zlib
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tessera.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from tessera.fingerprints.pdq import SampleGrid
from tessera.media.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS
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
    max_memory: int = DEFAULT_MAX_MEMORY


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
    try:
        return _decode(data, kind, fast=fast, policy=policy, limits=limits)
    except CorruptMedia:
        if kind.name != "png":
            raise
        critical = png_critical_chunks(data)
        if critical == data:
            raise
    # Hostile or broken metadata must not cost the pixels: try again without it
    decoded = _decode(critical, kind, fast=fast, policy=policy, limits=limits)
    return replace(decoded, flags=(*decoded.flags, "metadata-ignored"))


def _decode(
    data: bytes, kind: Sniffed, *, fast: bool, policy: Policy, limits: DecodeLimits
) -> DecodedImage:
    name = kind.name.upper()
    _let_pillow_reach(limits.max_pixels)
    if kind.name == "jpeg":
        _check_jpeg_data_length(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data), formats=[kind.pillow_format or ""])
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(exc, limits.max_pixels) from exc
        except _DECODER_ERRORS as exc:
            raise _corrupt(exc, name) from exc
        with im:
            return _decode_open(im, kind, name, fast=fast, policy=policy, limits=limits)


def _too_many_pixels(exc: BaseException, max_pixels: int) -> MediaTooLarge:
    # Pillow's message quotes its own threshold (twice ours): name the configured cap
    m = re.search(r"Image size \((\d+) pixels\)", str(exc))
    size = f"{m.group(1)} pixels" if m else "the picture"
    return MediaTooLarge(
        f"{size} exceeds the limit of {max_pixels} pixels", reason="too-many-pixels"
    )


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
    flags: tuple[str, ...] = ()
    reference = not fast
    try:
        if kind.pillow_format == "JPEG":
            s = _fast_scale(width, height) if fast else 1
            need = _memory_scale(width, height, mode, reference, limits.max_memory)
            if need > s:
                s, flags = min(8, _next_jpeg_scale(need)), ("decoded-reduced",)
            if s > 1:
                target = im.mode if im.mode not in ("RGB", "YCbCr") else "RGB"
                im.draft(target, (max(1, width // s), max(1, height // s)))
                scale = _actual_scale(width, height, im.size)
        w2, h2 = im.size
        s = _memory_scale(w2, h2, mode, reference, limits.max_memory)
        if s > 1:
            raw = w2 * h2 * _pillow_bytes_per_pixel(mode)
            if raw > limits.max_memory:
                raise MediaTooLarge(
                    f"{width}x{height} {mode} needs about {raw >> 20} MiB to decode, over "
                    f"the {limits.max_memory >> 20} MiB limit",
                    reason="too-much-memory",
                )
            im.load()
            rgb = _reduced_rgb(im, s, policy, min(_STRIP_BYTES, limits.max_memory // 8))
            scale *= s
            flags = ("decoded-reduced",)
        else:
            im.load()
            rgb = to_rgb_tessera(im) if policy == "tessera" else to_rgb_pytx(im)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(exc, limits.max_pixels) from exc
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
        flags=flags,
    )


# Bytes per pixel of the whole path from Pillow to PDQ, measured on 4000x4000
# pictures (Pillow's buffer, the numpy copy, alpha compositing, PDQ's float planes).
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


def _pipeline_bytes_per_pixel(mode: str, reference: bool) -> int:
    if mode in _ALPHA_MODES or mode == "P":  # a palette may carry transparency
        per = 40
    elif mode in _WIDE_MODES:
        per = 24
    else:
        per = 8
    return per + (16 if reference else 0)


def _pillow_bytes_per_pixel(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _memory_scale(width: int, height: int, mode: str, reference: bool, budget: int) -> int:
    """1 if the full-resolution pipeline fits ``budget``, else the reduction it needs."""
    per = _pipeline_bytes_per_pixel(mode, reference)
    if width * height * per <= budget:
        return 1
    # the full Pillow buffer stays alive while the reduced picture goes through PDQ
    left = max(budget - width * height * _pillow_bytes_per_pixel(mode), budget // 4)
    return max(2, math.ceil(math.sqrt(width * height * (per + 8) / left)))


def _next_jpeg_scale(need: int) -> int:
    return next((s for s in (2, 4, 8) if s >= need), 8)


_STRIP_BYTES = 32 << 20


def _reduced_rgb(im: Image.Image, s: int, policy: Policy, strip_bytes: int) -> NDArray[np.uint8]:
    """RGB box-averaged by ``s`` x ``s`` (edge boxes over the pixels they have), strip by
    strip, so no full-resolution intermediate beyond Pillow's own buffer is made."""
    width, height = im.size
    out = np.empty((-(-height // s), -(-width // s), 3), dtype=np.uint8)
    convert = to_rgb_tessera if policy == "tessera" else to_rgb_pytx
    rows = max(s, (strip_bytes // max(1, width * 48)) // s * s)
    col_starts = np.arange(0, width, s)
    col_counts = np.diff(np.append(col_starts, width))
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        tile = convert(im.crop((0, y0, width, y1))).astype(np.uint32)
        row_starts = np.arange(0, y1 - y0, s)
        row_counts = np.diff(np.append(row_starts, y1 - y0))
        sums = np.add.reduceat(np.add.reduceat(tile, row_starts, axis=0), col_starts, axis=1)
        counts = (row_counts[:, None] * col_counts[None, :])[:, :, None]
        out[y0 // s : y0 // s + len(row_starts)] = (sums + counts // 2) // counts
    return out


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = frozenset({b"tRNS"})  # ancillary, but it is part of the pixels' meaning


def png_critical_chunks(data: bytes) -> bytes:
    """The PNG without its ancillary chunks (text, ICC profile, EXIF, APNG...), except
    ``tRNS``. Bytes past the last whole chunk are kept, so truncation stays visible."""
    if not data.startswith(_PNG_SIGNATURE):
        return data
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            break
        if ctype[:1].isupper() or ctype in _PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if ctype == b"IEND":
            return b"".join(out)
    out.append(data[pos:])
    return b"".join(out)


_SOF_HUFFMAN = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})
_SOF_ARITHMETIC = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _check_jpeg_data_length(data: bytes) -> None:
    """Refuse a Huffman-coded JPEG with less entropy-coded data than its size needs.

    Every MCU codes at least one DC difference (a Huffman code of >= 1 bit) in the
    first scan, so ``bytes after SOS >= MCUs / 8``. libjpeg pads the missing part with
    grey and only warns; this catches a header patched to a huge size over a few KB.
    """
    pos, sof = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return  # not a marker where one should be: leave it to the decoder
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_HUFFMAN or marker in _SOF_ARITHMETIC:
            sof = (marker, data[pos + 4 : pos + 2 + length])
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            break
        pos += 2 + length
    else:
        return
    if sof is None or sof[0] in _SOF_ARITHMETIC or len(sof[1]) < 6:
        return
    body = sof[1]
    height, width, ncomp = (
        int.from_bytes(body[1:3], "big"),
        int.from_bytes(body[3:5], "big"),
        body[5],
    )
    comps = body[6 : 6 + 3 * ncomp]
    hmax = max((comps[i + 1] >> 4 for i in range(0, len(comps) - 2, 3)), default=1) or 1
    vmax = max((comps[i + 1] & 15 for i in range(0, len(comps) - 2, 3)), default=1) or 1
    mcus = -(-width // (8 * hmax)) * -(-height // (8 * vmax))
    coded = len(data) - pos
    if coded * 8 < mcus:
        raise CorruptMedia(
            f"JPEG declares {width}x{height} but holds only {coded} bytes of image data "
            f"(at least {mcus // 8} needed)",
            reason="truncated",
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
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_PIXELS",
    "HEIF_AVAILABLE",
    "DecodeLimits",
    "DecodedImage",
    "decode_image",
    "png_critical_chunks",
    "sniff_image",
]
