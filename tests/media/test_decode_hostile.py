"""Hostile pictures found by the issue-10 review (defects 4 and 5, the pixel-cap message).

Each test builds its picture here; each failed on main before the fix:
* a PNG whose zTXt or iCCP chunk inflates to 2 MB was ``corrupt`` with no PDQ;
* a JPEG with a patched 14000x14000 header over 20 KB of data was ``ok``;
* a picture whose full-resolution pipeline passes the memory budget was decoded whole
  (7.8 GB for a 762 KB RGBA PNG) instead of reduced;
* the ``too-many-pixels`` message quoted Pillow's threshold, not Tessera's cap.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from tessera.errors import CorruptMedia, MediaTooLarge
from tessera.fingerprints.pdq import pdq_hash_rgb
from tessera.fingerprints.value import hamming
from tessera.media.decode import DecodeLimits, decode_image, png_critical_chunks
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import HashOptions


def _chunk(ctype: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(ctype + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


def _textured(h: int, w: int, seed: int = 1) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR))


def _png(arr: NDArray[np.uint8], mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(arr)
    (im.convert(mode) if mode else im).save(buf, "PNG")
    return buf.getvalue()


def _insert_after_ihdr(png: bytes, chunk: bytes) -> bytes:
    return png[:33] + chunk + png[33:]


_BOMB = zlib.compress(b"\0" * (2 << 20), 9)  # ~2 KB inflating to 2 MiB


@pytest.mark.parametrize(
    "chunk",
    [
        _chunk(b"zTXt", b"Comment\0\0" + _BOMB),
        _chunk(b"iCCP", b"icc\0\0" + _BOMB),
        _chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + _BOMB),
    ],
    ids=["zTXt", "iCCP", "iTXt"],
)
def test_png_metadata_bomb_never_costs_the_pixels(chunk: bytes) -> None:
    """Defect 4: the picture decodes to the same pixels (same PDQ) as without the chunk."""
    arr = _textured(64, 64)
    plain = _png(arr)
    hostile = _insert_after_ihdr(plain, chunk)
    assert len(chunk) < 4096
    decoded = decode_image(hostile)
    np.testing.assert_array_equal(decoded.rgb, arr)
    assert "metadata-ignored" in decoded.flags
    r = hash_bytes(hostile, "x.png", HashOptions())
    assert r.status == "ok"
    assert r.pdq == hash_bytes(plain, "y.png", HashOptions()).pdq
    assert "metadata-ignored" in r.flags


def test_png_metadata_after_idat_also_ignored() -> None:
    """A text bomb after the image data (read by Pillow at the end of load) too."""
    arr = _textured(48, 40)
    plain = _png(arr)
    iend = plain.rindex(b"IEND") - 4
    hostile = plain[:iend] + _chunk(b"zTXt", b"Comment\0\0" + _BOMB) + plain[iend:]
    np.testing.assert_array_equal(decode_image(hostile).rgb, arr)


def test_png_transparency_survives_the_retry() -> None:
    """tRNS is kept when ancillary chunks are dropped: alpha still composited over white."""
    pal = Image.new("P", (16, 16), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 8, 16))
    buf = io.BytesIO()
    pal.save(buf, "PNG", transparency=0)
    hostile = _insert_after_ihdr(buf.getvalue(), _chunk(b"zTXt", b"c\0\0" + _BOMB))
    rgb = decode_image(hostile).rgb
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert tuple(rgb[0, 15]) == (255, 255, 255)  # transparent index over white


def test_png_critical_chunks_keeps_truncation_visible() -> None:
    plain = _png(_textured(32, 32))
    cut = plain[: len(plain) - 30]
    assert png_critical_chunks(cut).endswith(cut[-10:])
    with pytest.raises(CorruptMedia):
        decode_image(cut)


def _jpeg(arr: NDArray[np.uint8], **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def _patch_size(jpeg: bytes, width: int, height: int) -> bytes:
    i = jpeg.index(b"\xff\xc0") if b"\xff\xc0" in jpeg else jpeg.index(b"\xff\xc2")
    out = bytearray(jpeg)
    out[i + 5 : i + 7] = height.to_bytes(2, "big")
    out[i + 7 : i + 9] = width.to_bytes(2, "big")
    return bytes(out)


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_with_patched_huge_header_is_truncated_not_ok(progressive: bool) -> None:
    """Defect 5: 14000x14000 declared over ~20 KB of data (EOI appended) is refused
    as ``truncated`` before any pixel is allocated."""
    body = _jpeg(_textured(400, 400), progressive=progressive)
    data = _patch_size(body[:20000], 14000, 14000) + b"\xff\xd9"
    for fast in (True, False):
        with pytest.raises(CorruptMedia) as info:
            decode_image(data, fast=fast)
        assert info.value.reason == "truncated"
    r = hash_bytes(data, "bomb.jpg", HashOptions(mode="reference"))
    assert r.status == "error" and r.reason == "truncated"
    assert r.sha256 is not None  # the exact digests are still reported


def test_honest_jpegs_pass_the_data_length_check() -> None:
    """Tiny, flat and progressive JPEGs are legitimately small: none is refused."""
    for arr in (
        np.zeros((8, 8, 3), np.uint8),
        np.full((2000, 2000, 3), 128, np.uint8),
        _textured(300, 500),
    ):
        for progressive in (False, True):
            data = _jpeg(arr, progressive=progressive)
            assert decode_image(data).width == arr.shape[1]


def test_picture_over_the_memory_budget_is_decoded_reduced_and_still_matches() -> None:
    """Defect 5: an RGBA PNG whose full pipeline would pass ``max_memory`` is box-reduced
    strip by strip (flagged), numpy's peak stays within the budget, and its PDQ stays
    near the full decode's."""
    arr = _textured(1500, 1200)
    alpha = np.full((1500, 1200, 1), 255, np.uint8)
    alpha[:100] = 0  # a transparent band: composited over white before averaging
    data = _png(np.concatenate([arr, alpha], axis=2))
    full = decode_image(data)
    assert full.flags == ()
    budget = 16 << 20  # the full RGBA pipeline needs ~40 bytes/pixel = 69 MB
    tracemalloc.start()
    try:
        reduced = decode_image(data, limits=DecodeLimits(max_memory=budget))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "decoded-reduced" in reduced.flags
    assert reduced.scale >= 2 and reduced.grid is not None
    assert reduced.full_shape == (1500, 1200)
    assert peak < budget // 2  # strips: no full-resolution numpy copy
    assert tuple(reduced.rgb[0, 0]) == (255, 255, 255)
    a = pdq_hash_rgb(full.rgb)
    b = pdq_hash_rgb(reduced.rgb, reduced.grid)
    assert hamming(a.fingerprint.payload, b.fingerprint.payload) <= 12


def test_reference_mode_big_jpeg_over_budget_is_reduced_not_refused() -> None:
    arr = _textured(1600, 1600)
    data = _jpeg(arr)
    d = decode_image(data, fast=False, limits=DecodeLimits(max_memory=8 << 20))
    assert "decoded-reduced" in d.flags and d.scale in (2, 4, 8)
    r = hash_bytes(data, "big.jpg", HashOptions(mode="reference"))
    assert r.status == "ok" and "decoded-reduced" not in r.flags


def test_pixel_buffer_itself_over_budget_is_refused_by_memory() -> None:
    data = _png(_textured(600, 600))
    with pytest.raises(MediaTooLarge) as info:
        decode_image(data, limits=DecodeLimits(max_memory=1 << 20))
    assert info.value.reason == "too-much-memory"
    assert "MiB" in info.value.message


def test_too_many_pixels_message_names_the_configured_cap() -> None:
    """Defect 15: Pillow refuses at twice its own threshold; the message must quote ours."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    idat = _chunk(b"IDAT", zlib.compress(b""))
    data = b"\x89PNG\r\n\x1a\n" + header + idat + _chunk(b"IEND", b"")
    with pytest.raises(MediaTooLarge) as info:
        decode_image(data)
    assert info.value.reason == "too-many-pixels"
    assert "200000000" in info.value.message
    assert "400000000" not in info.value.message
    assert "900000000" in info.value.message
