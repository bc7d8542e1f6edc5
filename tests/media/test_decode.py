"""Safe decoding (``tessera.media.decode``): formats, hostile input, limits and the fast path.

All pictures are generated here (gradients, blocks, smooth waves) or read in place from
the shared benign data set; nothing is written to the repository.
"""

from __future__ import annotations

import io
import math
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageFile

from tessera.errors import CorruptMedia, EmptyFile, MediaError, MediaTooLarge, UnsupportedMedia
from tessera.fingerprints.pdq import pdq_hash_rgb
from tessera.fingerprints.value import hamming
from tessera.media import DecodeLimits, decode_image
from tessera.media.normalize import Policy

UInt8 = NDArray[np.uint8]

JPEG_MAGIC = b"\xff\xd8\xff"
IMAGE_MAGICS = (
    JPEG_MAGIC,
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"RIFF",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


# --------------------------------------------------------------------------- helpers


def _picture(h: int = 64, w: int = 96) -> UInt8:
    """A small RGB test card: gradients, a checkerboard channel and a red rectangle."""
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack(
        [x * 255 // (w - 1), y * 255 // (h - 1), ((x // 8 + y // 8) % 2) * 200], axis=-1
    ).astype(np.uint8)
    arr[10:30, 20:50] = (255, 0, 0)
    arr[40:56, 60:90] = (0, 0, 0)
    return arr


def _smooth(h: int, w: int) -> UInt8:
    """A large, smooth (JPEG-friendly, PDQ-textured) picture, cheap to build."""
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    r = 128 + 100 * np.sin(9 * x + 4 * y)
    g = 128 + 100 * np.cos(7 * y - 5 * x * y)
    b = 255 * x * y
    r, g, b = np.broadcast_arrays(r, g, b)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def _encode(arr: UInt8 | Image.Image, fmt: str, **kw: object) -> bytes:
    im = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).mean())


def _png_with_size(width: int, height: int) -> bytes:
    """A real tiny PNG whose IHDR is patched to declare ``width`` x ``height`` (CRC fixed)."""
    png = _encode(_picture(8, 8), "PNG")
    assert png[12:16] == b"IHDR"
    ihdr = bytearray(png[12:29])  # type + 13 data bytes
    ihdr[4:8] = struct.pack(">I", width)
    ihdr[8:12] = struct.pack(">I", height)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return png[:12] + bytes(ihdr) + crc + png[33:]


def _png_chunk(png: bytes, kind: bytes) -> tuple[int, int]:
    """(offset of the chunk's data, data length) of the first chunk of this type."""
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == kind:
            return pos + 8, length
        pos += 12 + length
    raise AssertionError(f"no {kind!r} chunk")


def _tiff_with_size(width: int, height: int) -> bytes:
    """A real little-endian TIFF whose ImageWidth/ImageLength tags are patched."""
    tif = bytearray(_encode(_picture(8, 8), "TIFF"))
    assert tif[:4] == b"II*\x00"
    (ifd,) = struct.unpack("<I", tif[4:8])
    (count,) = struct.unpack("<H", tif[ifd : ifd + 2])
    patched = set()
    for k in range(count):
        e = ifd + 2 + 12 * k
        tag = struct.unpack("<H", tif[e : e + 2])[0]
        if tag in (256, 257):
            value = width if tag == 256 else height
            tif[e + 2 : e + 4] = struct.pack("<H", 4)  # LONG
            tif[e + 4 : e + 8] = struct.pack("<I", 1)
            tif[e + 8 : e + 12] = struct.pack("<I", value)
            patched.add(tag)
    assert patched == {256, 257}
    return bytes(tif)


def _gif_with_size(width: int, height: int) -> bytes:
    """A real GIF whose logical screen and first image descriptor declare a huge size."""
    gif = bytearray(_encode(Image.fromarray(_picture(8, 8)).convert("P"), "GIF"))
    gif[6:10] = struct.pack("<HH", width, height)
    sep = gif.index(b",", 13)  # image descriptor: ',' left top width height
    gif[sep + 5 : sep + 9] = struct.pack("<HH", width, height)
    return bytes(gif)


@pytest.fixture
def no_pixel_load(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every attempt to load pixel data (where Pillow allocates the buffer)."""
    calls: list[str] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        calls.append(f"{self.format} {self.size}")
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


# ------------------------------------------------- content is sniffed, not named


@pytest.mark.parametrize("name", ["ukbench09380.png", "ukbench09380.bmp"])
def test_misnamed_jpeg_decodes_as_jpeg(data_dir: Path, name: str) -> None:
    """A ``.png``/``.bmp`` file holding JPEG bytes is decoded as the JPEG it is."""
    data = (data_dir / "imagededup-ukbench-transforms" / "transformed" / name).read_bytes()
    assert data.startswith(JPEG_MAGIC), "shared data changed: expected JPEG bytes"
    d = decode_image(data)
    assert d.format == "jpeg"
    assert (d.width, d.height) == (640, 480)  # README: 640x480 RGB
    assert d.rgb.shape == (480, 640, 3)
    assert d.rgb.dtype == np.uint8
    assert d.rgb.std() > 10  # a photo, not a blank buffer


def test_webp_variant_decodes_as_webp_and_matches_base(data_dir: Path) -> None:
    """The ``.webp`` copy decodes as webp and shows the same photo as the base JPEG."""
    root = data_dir / "imagededup-ukbench-transforms"
    data = (root / "transformed" / "ukbench09380.webp").read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    d = decode_image(data)
    assert d.format == "webp"
    assert d.rgb.shape == (480, 640, 3)
    base = np.asarray(Image.open(root / "base_images" / "ukbench09380.jpg").convert("RGB"))
    assert _mad(d.rgb, base) < 8
    other = np.asarray(Image.open(root / "base_images" / "ukbench00120.jpg").convert("RGB"))
    assert _mad(d.rgb, other) > 4 * _mad(d.rgb, base)


def test_corrupt_named_jpg_is_rejected_with_a_typed_error(data_dir: Path) -> None:
    """``ukbench09268_corrupt.jpg`` starts with random bytes: ``UnsupportedMedia``, fast."""
    path = data_dir / "imagededup-ukbench-transforms" / "transformed" / "ukbench09268_corrupt.jpg"
    data = path.read_bytes()
    assert len(data) > 0
    # Random bytes: no image signature, so the sniffer (not a decoder) must refuse it.
    assert not data.startswith(IMAGE_MAGICS) and data[4:8] != b"ftyp", "shared data changed"
    with pytest.raises(MediaError) as info:
        decode_image(data)
    assert type(info.value) is UnsupportedMedia
    assert info.value.reason == "unsupported-format"
    assert info.value.message


# ------------------------------------------------------------ every format decodes


LOSSLESS = ["PNG", "BMP", "TIFF"]


@pytest.mark.parametrize("fmt", LOSSLESS)
def test_lossless_formats_decode_exactly(fmt: str) -> None:
    """PNG, BMP and TIFF round-trip the generated picture bit for bit."""
    src = _picture()
    d = decode_image(_encode(src, fmt))
    assert d.format == fmt.lower()
    assert d.rgb.shape == (64, 96, 3)
    assert d.rgb.dtype == np.uint8
    assert (d.width, d.height) == (96, 64)
    assert d.grid is None and d.scale == 1
    np.testing.assert_array_equal(d.rgb, src)


def test_compressed_tiff_decodes_exactly() -> None:
    """A deflate-compressed TIFF (the libtiff path) also round-trips exactly."""
    src = _picture()
    d = decode_image(_encode(src, "TIFF", compression="tiff_deflate"))
    np.testing.assert_array_equal(d.rgb, src)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_lossy_formats_decode_close_to_source(fmt: str) -> None:
    """JPEG and WebP decode to the right shape, close to the source (loose: the test card
    has hard colour edges that chroma subsampling smears) and far from a mirrored copy."""
    src = _picture()
    d = decode_image(_encode(src, fmt, quality=90))
    assert d.format == fmt.lower()
    assert d.rgb.shape == (64, 96, 3)
    assert d.rgb.dtype == np.uint8
    err = _mad(d.rgb, src)
    assert err < 12
    assert _mad(d.rgb, src[::-1, ::-1]) > 4 * err


def test_gif_decodes_through_its_palette() -> None:
    """A GIF decodes to its palette colours (numpy lookup) and stays close to the source."""
    src = _picture()
    data = _encode(src, "GIF")
    d = decode_image(data)
    assert d.format == "gif"
    assert d.rgb.shape == (64, 96, 3)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
        idx = np.asarray(im)
        palette = np.asarray(im.getpalette(), dtype=np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(d.rgb, palette[idx])
    assert _mad(d.rgb, src) < 12


def test_heif_decodes() -> None:
    """A HEIF written by pillow-heif decodes (sniffed as heif) close to the source."""
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    pillow_heif.register_heif_opener()
    src = _picture()
    try:
        data = _encode(src, "HEIF", quality=95)
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - no HEVC encoder
        pytest.skip(f"this pillow-heif build cannot write HEIF: {exc}")
    d = decode_image(data)
    assert d.format == "heif"
    assert d.rgb.shape == (64, 96, 3)
    assert d.rgb.dtype == np.uint8
    assert _mad(d.rgb, src) < 8


def test_avif_decodes() -> None:
    """An AVIF (Pillow's own plugin) decodes, sniffed as avif, close to the source."""
    src = _picture()
    try:
        data = _encode(src, "AVIF", quality=95)
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - Pillow without AVIF
        pytest.skip(f"this Pillow build cannot write AVIF: {exc}")
    d = decode_image(data)
    assert d.format == "avif"
    assert d.rgb.shape == (64, 96, 3)
    assert _mad(d.rgb, src) < 8


# ------------------------------------------------------------- first frame only


def _two_frames() -> tuple[Image.Image, Image.Image]:
    red = Image.new("RGB", (32, 24), (255, 0, 0))
    blue = Image.new("RGB", (32, 24), (0, 0, 255))
    return red, blue


def test_animated_gif_decodes_first_frame_only() -> None:
    """A 2-frame GIF (red then blue) decodes to the red first frame."""
    red, blue = _two_frames()
    data = _encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 2  # the fixture really is animated
    d = decode_image(data)
    assert d.rgb.shape == (24, 32, 3)
    assert (d.rgb == np.array([255, 0, 0], dtype=np.uint8)).all()


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF"])
def test_multi_frame_webp_and_tiff_decode_first_frame_only(fmt: str) -> None:
    """Animated WebP and multi-page TIFF also give only the first frame."""
    red, blue = _two_frames()
    kw: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    data = _encode(red, fmt, save_all=True, append_images=[blue], **kw)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 2
    d = decode_image(data)
    assert (d.rgb == np.array([255, 0, 0], dtype=np.uint8)).all()


# ------------------------------------------------------------------- bad input


def test_zero_bytes_is_empty_file() -> None:
    """Zero bytes raise ``EmptyFile`` (reason ``empty-file``)."""
    with pytest.raises(EmptyFile) as info:
        decode_image(b"")
    assert info.value.reason == "empty-file"


def test_text_file_is_unsupported() -> None:
    """A text file raises ``UnsupportedMedia`` (reason ``unsupported-format``)."""
    with pytest.raises(UnsupportedMedia) as info:
        decode_image(b"name,value\nalpha,1\nbeta,2\n" * 20)
    assert info.value.reason == "unsupported-format"


def test_jpeg_truncated_at_half_is_corrupt_truncated() -> None:
    """A JPEG cut in half (inside the entropy-coded data) is ``CorruptMedia('truncated')``."""
    data = _encode(_picture(), "JPEG", quality=90)
    sos = data.index(b"\xff\xda")
    cut = len(data) // 2
    assert sos < cut < len(data) - 2  # the cut lies inside the scan data
    with pytest.raises(CorruptMedia) as info:
        decode_image(data[:cut])
    assert info.value.reason == "truncated"
    assert "truncated" in info.value.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.6, 0.9])
def test_truncated_files_give_typed_errors(fmt: str, fraction: float) -> None:
    """Any cut of a small image raises a ``MediaError`` subclass, never another exception."""
    data = _encode(_picture(), fmt)
    cut = data[: max(1, int(len(data) * fraction))]
    with pytest.raises(MediaError) as info:
        decode_image(cut)
    assert isinstance(info.value, (CorruptMedia, UnsupportedMedia))
    assert info.value.reason in {"truncated", "corrupt", "unsupported-format"}


def test_png_truncated_is_corrupt() -> None:
    """A PNG cut inside its IDAT chunk is ``CorruptMedia``."""
    data = _encode(_picture(), "PNG")
    start, length = _png_chunk(data, b"IDAT")
    with pytest.raises(CorruptMedia) as info:
        decode_image(data[: start + length // 2])
    assert info.value.reason in {"truncated", "corrupt"}


def test_png_with_damaged_idat_data_is_corrupt() -> None:
    """Overwriting bytes inside the compressed IDAT stream gives ``CorruptMedia('corrupt')``."""
    data = bytearray(_encode(_picture(), "PNG"))
    start, length = _png_chunk(bytes(data), b"IDAT")
    assert length > 64
    mid = start + length // 2
    data[mid : mid + 8] = b"\xff" * 8
    with pytest.raises(CorruptMedia) as info:
        decode_image(bytes(data))
    assert info.value.reason == "corrupt"


def test_png_with_bad_idat_crc_never_yields_wrong_pixels() -> None:
    """A wrong IDAT CRC is either rejected (``CorruptMedia``) or the pixels are intact.

    (Pillow does not verify IDAT CRCs; the data itself is undamaged.)
    """
    src = _picture()
    data = bytearray(_encode(src, "PNG"))
    start, length = _png_chunk(bytes(data), b"IDAT")
    data[start + length] ^= 0xFF  # first CRC byte
    try:
        d = decode_image(bytes(data))
    except CorruptMedia:
        return
    np.testing.assert_array_equal(d.rgb, src)


def test_png_with_bad_ihdr_crc_is_corrupt() -> None:
    """A damaged IHDR CRC (a checked chunk) is ``CorruptMedia``."""
    data = bytearray(_encode(_picture(), "PNG"))
    data[29] ^= 0xFF  # IHDR CRC
    with pytest.raises(CorruptMedia):
        decode_image(bytes(data))


@pytest.mark.parametrize(
    "data",
    [
        JPEG_MAGIC,
        JPEG_MAGIC + b"\xe0",
        JPEG_MAGIC + b"garbage" * 20,
        JPEG_MAGIC + bytes(300),
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
        b"GIF89a" + b"\x00" * 5,
        b"BM" + b"\xff" * 60,
        b"II*\x00" + b"\xff" * 60,
    ],
    ids=["soi", "soi-app0", "soi-garbage", "soi-zeros", "png-sig", "gif-hdr", "bmp", "tiff"],
)
def test_header_only_files_are_media_errors(data: bytes) -> None:
    """Magic bytes followed by garbage raise ``CorruptMedia``, never a crash."""
    with pytest.raises(CorruptMedia) as info:
        decode_image(data)
    assert info.value.reason in {"corrupt", "truncated"}


@pytest.mark.parametrize(("width", "height"), [(0, 0), (0, 64), (64, 0)])
def test_png_declaring_zero_size_is_corrupt(width: int, height: int) -> None:
    """A PNG header declaring an empty picture is ``CorruptMedia``."""
    with pytest.raises(CorruptMedia):
        decode_image(_png_with_size(width, height))


@pytest.mark.parametrize(
    ("width", "height", "limits"),
    [
        (30000, 30000, DecodeLimits(max_pixels=10_000_000)),  # Pillow's bomb check fires
        (5000, 5000, DecodeLimits(max_pixels=10_000_000)),  # only Tessera's cap fires
        (30000, 30000, DecodeLimits()),  # 900 MP > default 200 MP
    ],
    ids=["30k-vs-10M", "5k-vs-10M", "30k-vs-default"],
)
def test_png_decompression_bomb_is_refused_before_allocation(
    width: int, height: int, limits: DecodeLimits, no_pixel_load: list[str]
) -> None:
    """A PNG declaring a huge size is ``MediaTooLarge('too-many-pixels')``, refused from
    the header alone: pixel loading is never reached, memory stays small."""
    data = _png_with_size(width, height)
    assert len(data) < 1000
    tracemalloc.start()
    try:
        with pytest.raises(MediaTooLarge) as info:
            decode_image(data, limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.reason == "too-many-pixels"
    assert no_pixel_load == []
    assert peak < 50 * 1024 * 1024


def test_pixel_cap_boundary() -> None:
    """Exactly ``max_pixels`` decodes; one pixel fewer allowed is refused."""
    src = _picture(20, 30)
    data = _encode(src, "PNG")
    np.testing.assert_array_equal(decode_image(data, limits=DecodeLimits(max_pixels=600)).rgb, src)
    with pytest.raises(MediaTooLarge) as info:
        decode_image(data, limits=DecodeLimits(max_pixels=599))
    assert info.value.reason == "too-many-pixels"


def test_byte_cap() -> None:
    """Data longer than ``max_bytes`` is ``MediaTooLarge('too-many-bytes')``; equal is fine."""
    data = _encode(_picture(), "PNG")
    with pytest.raises(MediaTooLarge) as info:
        decode_image(data, limits=DecodeLimits(max_bytes=len(data) - 1))
    assert info.value.reason == "too-many-bytes"
    assert decode_image(data, limits=DecodeLimits(max_bytes=len(data))).rgb.shape == (64, 96, 3)


def test_byte_cap_applies_before_sniffing() -> None:
    """Even bytes that are not an image hit the byte cap first (no parsing of large input)."""
    with pytest.raises(MediaTooLarge) as info:
        decode_image(b"x" * 100, limits=DecodeLimits(max_bytes=10))
    assert info.value.reason == "too-many-bytes"


def test_tiny_image_decodes() -> None:
    """A 4x4 image decodes exactly: rejecting tiny images is the hashing layer's job."""
    src = np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5
    d = decode_image(_encode(src, "PNG"))
    assert d.rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(d.rgb, src)


@pytest.mark.parametrize(
    ("maker", "width", "height"),
    [
        (_gif_with_size, 65535, 65535),
        (_gif_with_size, 4000, 4000),
        (_tiff_with_size, 100000, 100000),
        (_tiff_with_size, 4000, 4000),
    ],
    ids=["gif-huge", "gif-16MP", "tiff-huge", "tiff-16MP"],
)
def test_hostile_gif_and_tiff_sizes_are_refused(
    maker: Callable[[int, int], bytes], width: int, height: int, no_pixel_load: list[str]
) -> None:
    """GIF/TIFF headers declaring absurd sizes are ``MediaTooLarge`` without decoding pixels."""
    data = maker(width, height)
    with pytest.raises(MediaTooLarge) as info:
        decode_image(data, limits=DecodeLimits(max_pixels=10_000_000))
    assert info.value.reason == "too-many-pixels"
    assert no_pixel_load == []


def _flip_bytes(data: bytes, seed: int, skip: int, count: int = 30) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    positions = rng.choice(np.arange(skip, len(out)), size=count, replace=False)
    for p in positions:
        out[int(p)] ^= int(rng.integers(1, 256))
    return bytes(out)


VARIANTS: tuple[tuple[bool, Policy], ...] = ((False, "tessera"), (True, "pytx"))


@pytest.mark.parametrize(("fmt", "skip"), [("JPEG", 3), ("PNG", 8)])
def test_fuzzed_files_decode_or_raise_media_errors(fmt: str, skip: int) -> None:
    """50 seeded variants with 30 flipped bytes each (magic kept): every one either decodes
    to an H x W x 3 uint8 array or raises a ``MediaError`` subclass, nothing else."""
    data = _encode(_picture(48, 64), fmt)
    outcomes: dict[str, int] = {}
    for seed in range(50):
        bad = _flip_bytes(data, seed, skip)
        for fast, policy in VARIANTS:
            try:
                d = decode_image(bad, fast=fast, policy=policy)
            except MediaError as exc:
                assert exc.reason
                outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
                continue
            assert d.rgb.dtype == np.uint8
            assert d.rgb.ndim == 3 and d.rgb.shape[2] == 3
            assert d.rgb.shape[0] > 0 and d.rgb.shape[1] > 0
            outcomes["ok"] = outcomes.get("ok", 0) + 1
    assert sum(outcomes.values()) == 100
    assert set(outcomes) - {"ok"}, "fuzzing never produced an error: the mutation is inert"


# ------------------------------------------------------------------ fast path


def _expected_fast_scale(width: int, height: int) -> int:
    # Independent statement of the documented rule: a decoded pixel may cover at most
    # half of PDQ's Jarosz window (ceil(n / 128)) on the shorter side.
    window = math.ceil(min(width, height) / 128)
    for s in (8, 4, 2):
        if 2 * s <= window:
            return s
    return 1


@pytest.mark.parametrize(
    ("width", "height", "scale"),
    [(2000, 1500, 4), (2050, 1930, 8), (1000, 700, 2), (2001, 1503, 4), (300, 200, 1)],
)
def test_fast_jpeg_scaled_decode(width: int, height: int, scale: int) -> None:
    """Fast JPEG decodes use the window rule's scale, libjpeg's rounded-up size, and a grid
    whose cells are (close to) the block means of the full decode."""
    assert _expected_fast_scale(width, height) == scale
    data = _encode(_smooth(height, width), "JPEG", quality=92)
    d = decode_image(data, fast=True)
    assert d.scale == scale
    assert d.rgb.shape == (math.ceil(height / scale), math.ceil(width / scale), 3)
    assert (d.width, d.height) == (width, height)
    assert d.full_shape == (height, width)
    if scale == 1:
        assert d.grid is None
        return
    assert d.grid is not None
    assert d.grid.full_shape == (height, width)
    re, ce = d.grid.row_edges, d.grid.col_edges
    assert (len(re) - 1, len(ce) - 1) == d.rgb.shape[:2]
    full = decode_image(data).rgb.astype(np.float64)
    sums = np.add.reduceat(np.add.reduceat(full, re[:-1], axis=0), ce[:-1], axis=1)
    means = sums / (np.diff(re)[:, None, None] * np.diff(ce)[None, :, None])
    assert np.abs(means - d.rgb).mean() < 1.5


def test_fast_2000x1500_is_not_scaled_by_8() -> None:
    """2000x1500 gets scale 4, not 8: at 1/8 a pixel would exceed half the PDQ window
    (ceil(1500/128) = 12, half = 6 < 8)."""
    d = decode_image(_encode(_smooth(1500, 2000), "JPEG"), fast=True)
    assert d.scale == 4
    assert d.rgb.shape == (375, 500, 3)


def test_fast_does_not_apply_without_flag() -> None:
    """Without ``fast`` a large JPEG is decoded at full size with no grid."""
    d = decode_image(_encode(_smooth(1500, 2000), "JPEG"))
    assert d.scale == 1 and d.grid is None
    assert d.rgb.shape == (1500, 2000, 3)


def test_fast_png_is_never_scaled() -> None:
    """A large PNG with ``fast=True`` still decodes at full resolution (no grid)."""
    src = _smooth(1500, 2000)
    d = decode_image(_encode(src, "PNG", compress_level=1), fast=True)
    assert d.scale == 1
    assert d.grid is None
    np.testing.assert_array_equal(d.rgb, src)


def test_fast_jpeg_with_orientation_6_matches_reference_pdq() -> None:
    """Fast decode of a 2000x1500 JPEG tagged orientation 6: the grid is rotated with the
    pixels (full shape 2000x1500) and its PDQ is within 8 bits of the full decode's."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(_smooth(1500, 2000), "JPEG", quality=92, exif=exif.tobytes())
    fast = decode_image(data, fast=True)
    assert fast.orientation == 6
    assert fast.scale == 4
    assert fast.grid is not None
    assert fast.grid.full_shape == (2000, 1500)
    assert fast.rgb.shape == (500, 375, 3)
    assert fast.full_shape == (2000, 1500)
    ref = decode_image(data)
    assert ref.rgb.shape == (2000, 1500, 3)
    h_fast = pdq_hash_rgb(fast.rgb, fast.grid)
    h_ref = pdq_hash_rgb(ref.rgb)
    assert h_ref.quality >= 50  # the picture has texture: the comparison means something
    assert hamming(h_fast.fingerprint.payload, h_ref.fingerprint.payload) <= 8
    # the rotated hash is far from the unrotated picture's hash (orientation was applied)
    unrotated = decode_image(data, policy="pytx")
    h_unrot = pdq_hash_rgb(unrotated.rgb)
    assert hamming(h_unrot.fingerprint.payload, h_ref.fingerprint.payload) > 31
