"""Pixel normalisation (``tessera.media.normalize``) and EXIF orientation.

Expected pixels come from independent numpy formulas (palette lookups, alpha over
white, 16-bit scaling), from Pillow's own ``ImageOps.exif_transpose`` as an orientation
oracle, or from the ThreatExchange PDQ vectors for the two pipelines.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageOps

from tessera.fingerprints.pdq import SampleGrid, pdq_hash_rgb
from tessera.media import decode_image
from tessera.media.normalize import (
    ALPHA_BACKGROUND,
    apply_orientation,
    orientation_steps,
    to_rgb_pytx,
    to_rgb_tessera,
)

UInt8 = NDArray[np.uint8]


def _encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _over_white(rgb: np.ndarray, alpha: np.ndarray) -> NDArray[np.int64]:
    """Independent alpha-over-white formula: round((c*a + 255*(255-a)) / 255)."""
    c = rgb.astype(np.float64)
    a = alpha.astype(np.float64)[..., None]
    return np.rint((c * a + 255.0 * (255.0 - a)) / 255.0).astype(np.int64)


def _assert_close(actual: np.ndarray, expected: np.ndarray, tol: int = 1) -> None:
    assert actual.shape == expected.shape
    diff = np.abs(actual.astype(np.int64) - expected.astype(np.int64))
    assert diff.max() <= tol, f"max difference {diff.max()} > {tol}"


def _grey3(a: np.ndarray) -> NDArray[np.uint8]:
    return np.repeat(np.asarray(a, dtype=np.uint8)[..., None], 3, axis=2)


rng = np.random.default_rng(20240717)
RGB = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
ALPHA = np.array([0, 1, 64, 127, 128, 200, 254, 255] * 6, dtype=np.uint8)[:42].reshape(6, 7)
PALETTE = rng.integers(0, 256, (16, 3), dtype=np.uint8)
INDICES = (np.arange(42, dtype=np.uint8) % 16).reshape(6, 7)


def _palette_image() -> Image.Image:
    im = Image.frombytes("P", (7, 6), INDICES.tobytes())
    im.putpalette(PALETTE.tobytes())
    return im


# ------------------------------------------------------------------ grey and 1-bit


def test_mode_1_is_0_or_255_and_pytx_is_0_or_1() -> None:
    """Mode "1": tessera gives 0/255 grey, pytx the raw 0/1 (its documented pitfall)."""
    bits = np.array([[True, False, True], [False, False, True]])
    im = Image.fromarray(bits)
    assert im.mode == "1"
    np.testing.assert_array_equal(to_rgb_tessera(im), _grey3(bits * 255))
    np.testing.assert_array_equal(to_rgb_pytx(im), _grey3(bits * 1))


def test_mode_1_png_through_decode_image() -> None:
    """A 1-bit PNG decodes to 0/255 (tessera) or 0/1 (pytx), mode reported as "1"."""
    bits = np.indices((16, 24)).sum(axis=0) % 3 == 0
    data = _encode(Image.fromarray(bits), "PNG")
    t = decode_image(data)
    p = decode_image(data, policy="pytx")
    assert t.mode == "1" and p.mode == "1"
    np.testing.assert_array_equal(t.rgb, _grey3(bits * 255))
    np.testing.assert_array_equal(p.rgb, _grey3(bits * 1))


def test_mode_L_is_stacked_grey_in_both_policies() -> None:
    """Mode "L" becomes three identical channels, the same in both policies."""
    grey = rng.integers(0, 256, (5, 9), dtype=np.uint8)
    im = Image.fromarray(grey)
    assert im.mode == "L"
    for out in (to_rgb_tessera(im), to_rgb_pytx(im)):
        assert out.dtype == np.uint8 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, _grey3(grey))


def test_rgb_is_passed_through_unchanged() -> None:
    """Plain RGB is identical in both policies."""
    im = Image.fromarray(RGB)
    np.testing.assert_array_equal(to_rgb_tessera(im), RGB)
    np.testing.assert_array_equal(to_rgb_pytx(im), RGB)


# -------------------------------------------------------------------------- palette


def test_palette_without_transparency_uses_palette_colours() -> None:
    """Mode "P": tessera looks colours up in the palette; pytx keeps the indices."""
    im = _palette_image()
    lut = np.asarray(im.getpalette(), dtype=np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(to_rgb_tessera(im), lut[INDICES])
    np.testing.assert_array_equal(to_rgb_pytx(im), _grey3(INDICES))


def test_palette_png_through_decode_image() -> None:
    """A palette PNG decodes to its palette colours (tessera) or indices (pytx)."""
    data = _encode(_palette_image(), "PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P" and "transparency" not in im.info
        idx = np.asarray(im)
        lut = np.asarray(im.getpalette(), dtype=np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(decode_image(data).rgb, lut[idx])
    np.testing.assert_array_equal(decode_image(data, policy="pytx").rgb, _grey3(idx))


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparent_index_is_white(fmt: str) -> None:
    """A transparent palette index is composited over white; other pixels keep their colour."""
    data = _encode(_palette_image(), fmt, transparency=3)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
        t = im.info["transparency"]
        assert isinstance(t, int)
        idx = np.asarray(im)
        lut = np.asarray(im.getpalette(), dtype=np.uint8).reshape(-1, 3)
    assert (idx == t).any() and (idx != t).any()
    expected = np.where((idx == t)[..., None], np.uint8(255), lut[idx])
    np.testing.assert_array_equal(decode_image(data).rgb, expected)


def test_palette_with_partial_alpha_table_is_composited_over_white() -> None:
    """A palette PNG with a per-entry alpha table (tRNS) matches the over-white formula."""
    alphas = np.array([0, 30, 60, 90, 128, 150, 200, 255] * 2, dtype=np.uint8)
    data = _encode(_palette_image(), "PNG", transparency=alphas.tobytes())
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
        assert isinstance(im.info["transparency"], bytes)
        idx = np.asarray(im)
    expected = _over_white(PALETTE[idx], alphas[idx])
    _assert_close(decode_image(data).rgb, expected)


# ---------------------------------------------------------------------------- alpha


def test_rgba_partial_alpha_is_composited_over_white() -> None:
    """RGBA with partial alpha: over white (±1); pytx drops alpha (raw RGB)."""
    assert ALPHA_BACKGROUND == 255
    im = Image.fromarray(np.dstack([RGB, ALPHA]))
    assert im.mode == "RGBA"
    _assert_close(to_rgb_tessera(im), _over_white(RGB, ALPHA))
    out = to_rgb_tessera(im)
    np.testing.assert_array_equal(out[ALPHA == 0], np.full(((ALPHA == 0).sum(), 3), 255))
    np.testing.assert_array_equal(out[ALPHA == 255], RGB[ALPHA == 255])
    np.testing.assert_array_equal(to_rgb_pytx(im), RGB)


def test_la_partial_alpha_is_composited_over_white() -> None:
    """LA with partial alpha: grey over white (±1) in tessera."""
    grey = rng.integers(0, 256, (6, 7), dtype=np.uint8)
    im = Image.fromarray(np.dstack([grey, ALPHA]), mode="LA")
    assert im.mode == "LA"
    _assert_close(to_rgb_tessera(im), _over_white(_grey3(grey), ALPHA))
    # pytx goes through Pillow's convert("RGB"), which drops alpha
    np.testing.assert_array_equal(to_rgb_pytx(im), _grey3(grey))


def test_premultiplied_rgba_is_unpremultiplied_then_composited() -> None:
    """RGBa (premultiplied) over white equals c_premult + (255 - a), within ±1."""
    a = np.where(ALPHA == 0, 1, ALPHA).astype(np.int64)
    c = (RGB.astype(np.int64) * a[..., None]) // 255
    im = Image.frombytes("RGBa", (7, 6), np.dstack([c, a]).astype(np.uint8).tobytes())
    _assert_close(to_rgb_tessera(im), c + (255 - a)[..., None])


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_fully_opaque_alpha_changes_nothing(mode: str) -> None:
    """Fully opaque RGBA/LA give exactly the colour channels, in both policies."""
    opaque = np.full((6, 7), 255, dtype=np.uint8)
    if mode == "RGBA":
        im = Image.fromarray(np.dstack([RGB, opaque]))
        expected = RGB
    else:
        grey = RGB[..., 0]
        im = Image.fromarray(np.dstack([grey, opaque]), mode="LA")
        expected = _grey3(grey)
    np.testing.assert_array_equal(to_rgb_tessera(im), expected)
    np.testing.assert_array_equal(to_rgb_pytx(im), expected)


def test_rgba_png_through_decode_image() -> None:
    """An RGBA PNG with partial alpha decodes over white (tessera) or alpha-dropped (pytx)."""
    data = _encode(Image.fromarray(np.dstack([RGB, ALPHA])), "PNG")
    _assert_close(decode_image(data).rgb, _over_white(RGB, ALPHA))
    np.testing.assert_array_equal(decode_image(data, policy="pytx").rgb, RGB)


# ----------------------------------------------------------------------------- CMYK


def test_cmyk_converts_by_meaning_and_pytx_keeps_raw_channels() -> None:
    """CMYK: tessera equals Pillow's convert("RGB") and the formula (255-C)(255-K)/255;
    pytx takes raw C, M, Y (an inverted picture)."""
    cmyk = rng.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    im = Image.frombytes("CMYK", (7, 6), cmyk.tobytes())
    out = to_rgb_tessera(im)
    np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))
    k = 255 - cmyk[..., 3:4].astype(np.float64)
    formula = np.rint((255 - cmyk[..., :3].astype(np.float64)) * k / 255)
    _assert_close(out, formula)
    np.testing.assert_array_equal(to_rgb_pytx(im), cmyk[..., :3])


def test_cmyk_jpeg_through_decode_image() -> None:
    """A CMYK JPEG (Adobe, inverted on disk) decodes like Pillow's convert; pytx raw."""
    cmyk = np.zeros((16, 16, 4), dtype=np.uint8)
    cmyk[:8, :, 0] = 200  # cyan top half
    cmyk[:, 8:, 3] = 100  # some black on the right
    data = _encode(Image.frombytes("CMYK", (16, 16), cmyk.tobytes()), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "CMYK"
        raw = np.asarray(im)
        converted = np.asarray(im.convert("RGB"))
    t = decode_image(data)
    assert t.mode == "CMYK"
    np.testing.assert_array_equal(t.rgb, converted)
    np.testing.assert_array_equal(decode_image(data, policy="pytx").rgb, raw[..., :3])
    # cyan really comes out cyan-ish (low red, high green and blue) in tessera
    r, g, b = (int(v) for v in t.rgb[2, 2])
    assert r < 100 < g and b > 100


# ----------------------------------------------------------------- 16-bit and float

V16 = np.array([[0, 257, 65535, 32768], [1, 255, 256, 1000]], dtype=np.uint16)


def test_i16_is_scaled_to_8_bits_and_pytx_clips() -> None:
    """I;16: tessera gives round(v*255/65535); pytx (Pillow convert) clips at 255."""
    im = Image.fromarray(V16)
    assert im.mode == "I;16"
    expected = np.rint(V16.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(expected[0], [0, 1, 255, 128])  # hand-checked anchor
    t = to_rgb_tessera(im)
    p = to_rgb_pytx(im)
    np.testing.assert_array_equal(t, _grey3(expected))
    np.testing.assert_array_equal(p, _grey3(np.minimum(V16, 255)))
    differs = (V16 > 255) & (expected < 255)
    assert differs.any()
    assert (t[differs] != p[differs]).all()


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey_files_through_decode_image(fmt: str) -> None:
    """16-bit grey PNG/TIFF files decode with the same 16->8 rule (tessera) or clipping."""
    data = _encode(Image.fromarray(V16), fmt)
    expected = np.rint(V16.astype(np.float64) / 257).astype(np.uint8)
    np.testing.assert_array_equal(decode_image(data).rgb, _grey3(expected))
    np.testing.assert_array_equal(
        decode_image(data, policy="pytx").rgb, _grey3(np.minimum(V16, 255))
    )


def test_mode_I_above_255_is_treated_as_16_bit() -> None:
    """Mode "I": values beyond 0..255 are 16-bit data (v/257, negatives 0); pytx wraps."""
    im = Image.fromarray(V16.astype(np.int32))
    assert im.mode == "I"
    expected = np.rint(V16.astype(np.float64) / 257).astype(np.uint8)
    np.testing.assert_array_equal(to_rgb_tessera(im), _grey3(expected))
    # pytx feeds a char buffer: the low byte of each value
    np.testing.assert_array_equal(to_rgb_pytx(im), _grey3((V16 % 256).astype(np.uint8)))
    neg = Image.fromarray(np.array([[-5, 300, 65535]], dtype=np.int32))
    np.testing.assert_array_equal(to_rgb_tessera(neg), _grey3(np.array([[0, 1, 255]])))


def test_mode_I_within_8_bits_is_kept() -> None:
    """Mode "I" whose values all lie in 0..255 is kept as is (no 16-bit scaling)."""
    vals = np.array([[0, 1, 100, 255]], dtype=np.int32)
    np.testing.assert_array_equal(to_rgb_tessera(Image.fromarray(vals)), _grey3(vals))


def test_mode_F_unit_range_is_scaled_by_255() -> None:
    """Mode "F" in 0..1 is scaled by 255 and rounded; beyond 1 it is 0..255, clipped."""
    unit = np.array([[0.0, 0.25, 0.5, 1.0, 0.002]], dtype=np.float32)
    im = Image.fromarray(unit)
    assert im.mode == "F"
    np.testing.assert_array_equal(to_rgb_tessera(im), _grey3(np.array([[0, 64, 128, 255, 1]])))
    wide = np.array([[0.0, 100.4, 255.0, 300.0, -3.0]], dtype=np.float32)
    np.testing.assert_array_equal(
        to_rgb_tessera(Image.fromarray(wide)), _grey3(np.array([[0, 100, 255, 255, 0]]))
    )


# ----------------------------------------------------------------- EXIF orientation


def _quadrants() -> UInt8:
    """40x24 picture with four distinct quadrants and a marker pixel: no symmetry."""
    a = np.zeros((24, 40, 3), dtype=np.uint8)
    a[:12, :20] = (255, 0, 0)
    a[:12, 20:] = (0, 255, 0)
    a[12:, :20] = (0, 0, 255)
    a[12:, 20:] = (255, 255, 0)
    a[2:5, 2:6] = (255, 255, 255)
    return a


# Independent numpy statement of the EXIF orientation tags (how to display stored pixels).
NUMPY_ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _with_orientation(src: UInt8, fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    kw: dict[str, object] = {"exif": exif.tobytes()}
    if fmt == "JPEG":
        kw["quality"] = 95
    if fmt == "WEBP":
        kw["lossless"] = True
    return _encode(Image.fromarray(src), fmt, **kw)


def _oracle(data: bytes) -> UInt8:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_png_orientation_matches_numpy_and_pillow_oracles(orientation: int) -> None:
    """A PNG tagged with each orientation decodes as displayed: equal to the numpy
    definition of the tag and to ``ImageOps.exif_transpose``; ``orientation`` reported."""
    src = _quadrants()
    data = _with_orientation(src, "PNG", orientation)
    d = decode_image(data)
    assert d.orientation == orientation
    np.testing.assert_array_equal(d.rgb, NUMPY_ORIENT[orientation](src))
    np.testing.assert_array_equal(d.rgb, _oracle(data))
    assert d.full_shape == d.rgb.shape[:2]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_webp_orientation_matches_pillow_oracle(fmt: str, orientation: int) -> None:
    """JPEG and WebP with each orientation equal the ``exif_transpose`` oracle exactly."""
    data = _with_orientation(_quadrants(), fmt, orientation)
    d = decode_image(data)
    assert d.orientation == orientation
    np.testing.assert_array_equal(d.rgb, _oracle(data))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_is_applied_exactly_once(orientation: int) -> None:
    """TIFF with each orientation shows the picture as displayed, not rotated twice.

    Pillow's TIFF plugin may apply the tag itself while loading; the decoder must not
    apply it again (regression test)."""
    src = _quadrants()
    data = _with_orientation(src, "TIFF", orientation)
    d = decode_image(data)
    np.testing.assert_array_equal(d.rgb, NUMPY_ORIENT[orientation](src))
    np.testing.assert_array_equal(d.rgb, _oracle(data))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_pytx_policy_ignores_orientation(fmt: str, orientation: int) -> None:
    """With ``policy="pytx"`` the EXIF orientation is not applied (stored pixels)."""
    src = _quadrants()
    data = _with_orientation(src, fmt, orientation)
    d = decode_image(data, policy="pytx")
    assert d.orientation == 1
    assert d.rgb.shape == src.shape
    with Image.open(io.BytesIO(data)) as im:
        stored = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(d.rgb, stored)
    if fmt == "PNG":
        np.testing.assert_array_equal(d.rgb, src)


def test_unknown_orientation_values_do_nothing() -> None:
    """Orientation values outside 1..8 (0, 9, 65535) are ignored."""
    for value in (0, 9, 65535):
        assert orientation_steps(value) == ""
    src = _quadrants()
    data = _with_orientation(src, "PNG", 9)
    np.testing.assert_array_equal(decode_image(data).rgb, src)


# -------------------------------------------------- orientation of a sample grid


def _check_edges(edges: np.ndarray, full: int) -> None:
    assert edges[0] == 0
    assert edges[-1] == full
    assert (np.diff(edges) > 0).all()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_keeps_grid_and_pixels_consistent(orientation: int) -> None:
    """For a 1/8 grid of a 37x53 picture, after each orientation: edges still run 0..full
    (sides swapped for 5-8), the array fits the grid, and every decoded pixel still names
    exactly the full-resolution block it stands for (checked on block-id images)."""
    full_h, full_w, s = 37, 53, 8
    grid = SampleGrid.scaled(full_h, full_w, s)
    h, w = len(grid.row_edges) - 1, len(grid.col_edges) - 1
    assert (h, w) == (5, 7)
    block_id = np.arange(h * w, dtype=np.uint8).reshape(h, w)
    small = np.repeat(block_id[..., None], 3, axis=2)
    rows, cols = np.indices((full_h, full_w))
    full_ids = block_id[rows // s, cols // s]  # which block each full pixel belongs to

    out, g = apply_orientation(small, grid, orientation)
    fh, fw = (full_w, full_h) if orientation >= 5 else (full_h, full_w)
    assert g.full_shape == (fh, fw)
    _check_edges(g.row_edges, fh)
    _check_edges(g.col_edges, fw)
    assert out.shape == (len(g.row_edges) - 1, len(g.col_edges) - 1, 3)
    assert out.flags.c_contiguous

    oriented_full = NUMPY_ORIENT[orientation](full_ids)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            cell = oriented_full[
                g.row_edges[i] : g.row_edges[i + 1], g.col_edges[j] : g.col_edges[j + 1]
            ]
            assert (cell == out[i, j, 0]).all(), (orientation, i, j)


def test_grid_flips_and_transpose_are_involutions() -> None:
    """Flipping rows, flipping columns or transposing twice gives the original grid."""
    grid = SampleGrid.scaled(37, 53, 8)
    for twice in (
        grid.flipped_rows().flipped_rows(),
        grid.flipped_cols().flipped_cols(),
        grid.transposed().transposed(),
    ):
        np.testing.assert_array_equal(twice.row_edges, grid.row_edges)
        np.testing.assert_array_equal(twice.col_edges, grid.col_edges)
    # and a single flip really changes the (uneven) grid
    assert not np.array_equal(grid.flipped_rows().row_edges, grid.row_edges)
    assert not np.array_equal(grid.flipped_cols().col_edges, grid.col_edges)


# ------------------------------------------------- golden vectors (ThreatExchange)


def _expected(vectors_dir: Path, name: str) -> dict[str, dict[str, str]]:
    with (vectors_dir / "pdq" / "expected" / name).open(newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


PYTX_QUIRKS = ["pdq/images/modes/1.png", "pdq/images/modes/P.png", "pdq/images/modes/CMYK.jpg"]


@pytest.mark.parametrize("rel", [*PYTX_QUIRKS, "pdq/images/pytx/I16.png"])
def test_pytx_policy_reproduces_python_threatexchange(vectors_dir: Path, rel: str) -> None:
    """``policy="pytx"`` + PDQ gives python-threatexchange's hash and quality bit for bit on
    the files where its pitfalls matter (1-bit, palette indices, raw CMYK, clipped I;16)."""
    row = _expected(vectors_dir, "pytx_pipeline.csv")[rel]
    d = decode_image((vectors_dir / rel).read_bytes(), policy="pytx")
    assert d.mode == row["pil_mode"]
    assert (d.width, d.height) == (int(row["width"]), int(row["height"]))
    result = pdq_hash_rgb(d.rgb)
    assert result.hex == row["hash"]
    assert result.quality == int(row["quality"])


@pytest.mark.parametrize("rel", PYTX_QUIRKS)
def test_tessera_policy_hashes_true_colours(vectors_dir: Path, rel: str) -> None:
    """The tessera policy hashes those files as their true colours: equal to the
    ``convert("RGB")`` pipeline's expected hash (and unlike pytx's)."""
    row = _expected(vectors_dir, "rgb_convert_pipeline.csv")[rel]
    pytx_row = _expected(vectors_dir, "pytx_pipeline.csv")[rel]
    result = pdq_hash_rgb(decode_image((vectors_dir / rel).read_bytes()).rgb)
    assert result.hex == row["hash"]
    assert result.quality == int(row["quality"])
    assert (result.hex, result.quality) != (pytx_row["hash"], int(pytx_row["quality"]))


def test_real_i16_png_scales_to_8_bits(vectors_dir: Path) -> None:
    """The python-threatexchange I;16 PNG decodes (tessera) to round(v/257) of its raw values."""
    path = vectors_dir / "pdq" / "images" / "pytx" / "I16.png"
    with Image.open(path) as im:
        raw = np.asarray(im).astype(np.float64)
    assert raw.max() > 255  # really 16-bit data
    expected = np.rint(raw / 257).astype(np.uint8)
    np.testing.assert_array_equal(decode_image(path.read_bytes()).rgb, _grey3(expected))


def test_real_la_png_is_composited_over_white(vectors_dir: Path) -> None:
    """The python-threatexchange LA PNG (alpha reaching 0) decodes over white (±1)."""
    path = vectors_dir / "pdq" / "images" / "pytx" / "LA.png"
    with Image.open(path) as im:
        assert im.mode == "LA"
        la = np.asarray(im)
    assert la[..., 1].min() < 255  # has transparency, so the policies differ
    expected = _over_white(_grey3(la[..., 0]), la[..., 1])
    _assert_close(decode_image(path.read_bytes()).rgb, expected)
