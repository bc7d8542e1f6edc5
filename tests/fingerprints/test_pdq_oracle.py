"""PDQ against ``pdqhash`` (Meta's C++ reference, compiled) on generated images.

``pdqhash.compute(rgb)`` returns (256 bits MSB-first, quality); ``compute_dihedral``
returns the eight variants in the order original, rot90, rot180, rot270, flipx,
flipy, flipplus1, flipminus1. Every image is generated here from a seed: gradients,
blurred noise, sharp shapes, pure noise, near-flat images and one-dimensional ramps.
The last two are where float rounding decides bits: a near-flat image has quality
~0 and tiny coefficients, and a ramp has (in exact arithmetic) zero coefficients for
half the frequencies, so the median sits among float32 rounding noise.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import numpy as np
import pdqhash
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from tessera.fingerprints.pdq import (
    DIHEDRAL_NAMES,
    luma_from_rgb,
    pdq_dihedral_rgb,
    pdq_hash,
    pdq_hash_rgb,
)

KINDS = ("gradient", "blurred-noise", "shapes", "noise", "near-flat", "ramp")

# (width, height)
FIXED_SIZES = [
    (5, 5),
    (6, 200),
    (64, 64),
    (63, 65),
    (127, 129),
    (256, 256),
    (511, 513),
    (1000, 700),
    (1600, 1004),
    (2500, 1800),
]
_rng = np.random.default_rng(20_261_125)
RANDOM_SIZES = [(int(w), int(h)) for w, h in _rng.integers(5, 1201, size=(40, 2))]
# The two largest sizes get fewer kinds (time): the rounding-sensitive ones and one photo-like.
KINDS_FOR_SIZE = {
    (1600, 1004): ("shapes", "near-flat", "ramp"),
    (2500, 1800): ("blurred-noise", "ramp"),
}
MEDIUM = 800_000  # pixels; the slower cross-checks run on images up to this size

Case = tuple[int, int, str, int]  # width, height, kind, seed
CASES: list[Case] = [
    (w, h, kind, 1000 * i + k)
    for i, (w, h) in enumerate(FIXED_SIZES)
    for k, kind in enumerate(KINDS)
    if kind in KINDS_FOR_SIZE.get((w, h), KINDS)
]
N_FIXED = len(CASES)
CASES += [(w, h, KINDS[i % len(KINDS)], 100_000 + i) for i, (w, h) in enumerate(RANDOM_SIZES)]


def _id(case: Case) -> str:
    w, h, kind, _ = case
    return f"{kind}-{w}x{h}"


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=_id(c)) for c in cases]


# --- generated images --------------------------------------------------------------


def _u8(a: NDArray[Any]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


@lru_cache(maxsize=2)  # the oracle and the code under test see the same (unmodified) array
def make_image(w: int, h: int, kind: str, seed: int) -> NDArray[np.uint8]:
    """A benign synthetic H x W x 3 uint8 image of the given kind."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, h)[:, None]
    x = np.linspace(0.0, 1.0, w)[None, :]
    if kind == "gradient":
        a, b = rng.uniform(1, 6, 2)
        return _u8(
            np.stack(
                [
                    255 * x + 0 * y,
                    255 * y + 0 * x,
                    127 + 100 * np.sin(a * x + b * y),
                ],
                axis=-1,
            )
        )
    if kind == "blurred-noise":
        noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        radius = max(1.0, min(w, h) / 25)
        return np.ascontiguousarray(
            np.asarray(Image.fromarray(noise).filter(ImageFilter.GaussianBlur(radius)))
        )
    if kind == "shapes":
        img = np.empty((h, w, 3))
        img[:] = rng.integers(0, 256, 3)
        yy, xx = np.mgrid[0:h, 0:w]
        for _ in range(8):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.05, 0.4) * h, rng.uniform(0.05, 0.4) * w
            colour = rng.integers(0, 256, 3)
            if rng.random() < 0.5:
                mask = (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
            else:
                mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
            img[mask] = colour
        return _u8(img)
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "near-flat":
        level = rng.integers(40, 216)
        return _u8(level + rng.integers(-1, 2, (h, w, 3)))
    if kind == "ramp":
        # Varies along one axis only (chosen by the seed); different slopes per channel.
        vertical = bool(rng.integers(2))
        t = np.linspace(0.0, 1.0, h if vertical else w)
        lo, hi = rng.uniform(0, 80, 3), rng.uniform(170, 255, 3)
        profile = lo + (hi - lo) * t[:, None]
        if vertical:
            return _u8(profile[:, None, :] * np.ones((1, w, 1)))
        return _u8(profile[None, :, :] * np.ones((h, 1, 1)))
    raise AssertionError(kind)


def _hex(bits: NDArray[Any]) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


@cache
def oracle(case: Case) -> tuple[str, int]:
    bits, quality = pdqhash.compute(make_image(*case))
    return _hex(bits), int(quality)


@cache
def oracle_dihedral(case: Case) -> tuple[dict[str, str], int]:
    variants, quality = pdqhash.compute_dihedral(make_image(*case))
    return dict(zip(DIHEDRAL_NAMES, map(_hex, variants), strict=True)), int(quality)


# --- tests -------------------------------------------------------------------------


def test_case_list_covers_the_required_sizes() -> None:
    """The generated set holds every required size, ~40 random sizes in 5..1200, all kinds."""
    sizes = {(w, h) for w, h, _, _ in CASES}
    assert set(FIXED_SIZES) <= sizes
    assert len(set(RANDOM_SIZES)) >= 38
    assert all(5 <= v <= 1200 for s in RANDOM_SIZES for v in s)
    assert {k for _, _, k, _ in CASES} == set(KINDS)


def test_generated_kinds_have_the_intended_character() -> None:
    """Near-flat images are low quality and noise images high quality (per pdqhash); ramps
    vary along exactly one axis, and both orientations occur."""
    assert oracle((256, 256, "near-flat", 7))[1] < 10
    assert oracle((256, 256, "noise", 7))[1] == 100
    orientations = set()
    for case in CASES:
        if case[2] == "ramp" and case[0] * case[1] <= MEDIUM:
            ramp = make_image(*case)
            constant_rows, constant_cols = (ramp == ramp[:, :1]).all(), (ramp == ramp[:1]).all()
            assert constant_rows != constant_cols, _id(case)
            orientations.add(bool(constant_rows))
    assert orientations == {True, False}


@pytest.mark.parametrize("case", _params(CASES))
def test_hash_rgb_equals_pdqhash(case: Case) -> None:
    """``pdq_hash_rgb`` (default exact="auto") equals pdqhash hash and quality bit for bit,
    and so does ``pdq_hash`` on ``luma_from_rgb`` of the same pixels."""
    rgb = make_image(*case)
    expected = oracle(case)
    result = pdq_hash_rgb(rgb)
    assert (result.hex, result.quality) == expected
    if rgb.shape[0] * rgb.shape[1] <= MEDIUM:
        from_luma = pdq_hash(luma_from_rgb(rgb))
        assert (from_luma.hex, from_luma.quality) == expected


ALWAYS_CASES = [
    c
    for i, c in enumerate(CASES)
    if (c[0] * c[1] <= MEDIUM and (c[2] in ("near-flat", "ramp") or i % 3 == 0))
    or c[:3] == (1600, 1004, "near-flat")
]


@pytest.mark.parametrize("case", _params(ALWAYS_CASES))
def test_exact_always_equals_pdqhash(case: Case) -> None:
    """The forced float32 replay (exact="always") equals pdqhash bit for bit."""
    result = pdq_hash_rgb(make_image(*case), exact="always")
    assert (result.hex, result.quality) == oracle(case)


DIHEDRAL_CASES = [c for c in CASES[:N_FIXED] if c[0] * c[1] <= MEDIUM]
DIHEDRAL_CASES += [c for c in CASES[:N_FIXED] if c[:3] == (1600, 1004, "shapes")]
DIHEDRAL_CASES += CASES[N_FIXED::5]


@pytest.mark.parametrize("case", _params(DIHEDRAL_CASES))
def test_dihedral_equals_pdqhash(case: Case) -> None:
    """``pdq_dihedral_rgb`` equals ``pdqhash.compute_dihedral``: all 8 variants and quality."""
    result = pdq_dihedral_rgb(make_image(*case))
    variants, quality = oracle_dihedral(case)
    assert {n: fp.hex for n, fp in result.variants.items()} == variants
    assert result.quality == quality


@pytest.mark.parametrize(
    "case",
    _params([c for c in DIHEDRAL_CASES if c[2] in ("ramp", "near-flat") or c[0] == 64]),
)
def test_dihedral_exact_always_equals_pdqhash(case: Case) -> None:
    """The forced replay for the dihedral entry point (which, unlike the single hash,
    filters even a 64 x 64 input) equals pdqhash."""
    result = pdq_dihedral_rgb(make_image(*case), exact="always")
    variants, quality = oracle_dihedral(case)
    assert {n: fp.hex for n, fp in result.variants.items()} == variants
    assert result.quality == quality


@pytest.mark.parametrize("case", _params([c for c in CASES if c[0] * c[1] <= MEDIUM][::5]))
def test_luma_matches_the_binding(case: Case) -> None:
    """``luma_from_rgb`` is the binding's luma: 0.299 R + 0.587 G + 0.114 B in float64,
    rounded once to float32."""
    rgb = make_image(*case)
    expected = (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(
        np.float32
    )
    got = luma_from_rgb(rgb)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(("w", "h"), [(4, 100), (100, 4), (4, 4), (1, 1), (4, 5), (5, 4)])
def test_images_under_5_pixels_hash_to_zero(w: int, h: int) -> None:
    """Under 5 px on a side: all-zero hash and quality 0, as pdqhash gives."""
    rgb = make_image(w, h, "noise", w * 1000 + h)
    bits, quality = pdqhash.compute(rgb)
    assert (_hex(bits), quality) == ("00" * 32, 0)
    result = pdq_hash_rgb(rgb)
    assert (result.hex, result.quality) == (_hex(bits), quality)
    assert not result.hashable
    assert pdq_hash(luma_from_rgb(rgb)).hex == "00" * 32
    variants, dq = pdqhash.compute_dihedral(rgb)
    dihedral = pdq_dihedral_rgb(rgb)
    assert dihedral.quality == dq == 0
    assert {n: fp.hex for n, fp in dihedral.variants.items()} == {
        n: _hex(b) for n, b in zip(DIHEDRAL_NAMES, variants, strict=True)
    }


def test_5_pixels_is_hashable() -> None:
    """Exactly 5 x 5 is the smallest hashable size (non-zero hash, equal to pdqhash)."""
    rgb = make_image(5, 5, "noise", 55)
    result = pdq_hash_rgb(rgb)
    assert result.hashable
    assert (result.hex, result.quality) == oracle((5, 5, "noise", 55))
