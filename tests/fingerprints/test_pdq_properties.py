"""Properties of the PDQ building blocks: the two downsamplers, ``SampleGrid`` and
the block-weight method behind the fast path.

No golden values here: each test states a relation that must hold between two
computations (or between an input built with a known structure and its result).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from tessera.fingerprints.pdq import (
    SampleGrid,
    downsample64,
    downsample64_exact,
    downsample64_rgb,
    pdq_hash_rgb,
)


def _luma(h: int, w: int, seed: int, smooth: bool) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    if not smooth:
        return (rng.random((h, w)) * 255).astype(np.float32)
    y = np.linspace(0, 1, h)[:, None]
    x = np.linspace(0, 1, w)[None, :]
    a, b, c = rng.uniform(1, 9, 3)
    return (127.5 + 120 * np.sin(a * x + b * y) * np.cos(c * x * y)).astype(np.float32)


def _rgb(h: int, w: int, seed: int) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    phase = rng.uniform(0, 6, 3)[None, None, :]
    smooth = 127 + 90 * np.sin(5 * x + 3 * y + phase)
    noise = rng.normal(0, 20, (h, w, 3))
    return np.clip(np.rint(smooth + noise), 0, 255).astype(np.uint8)


# --- the two downsamplers agree -----------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(5, 300),
    w=st.integers(5, 300),
    seed=st.integers(0, 2**32 - 1),
    smooth=st.booleans(),
)
def test_exact_and_fast_downsample_agree(h: int, w: int, seed: int, smooth: bool) -> None:
    """The float32 replay and the matrix form of the Jarosz filter give the same 64 x 64
    grid up to rounding (<= 1e-2 on a 0..255 scale)."""
    luma = _luma(h, w, seed, smooth)
    exact = downsample64_exact(luma)
    fast = downsample64(luma)
    assert exact.shape == fast.shape == (64, 64)
    assert np.abs(exact.astype(np.float64) - fast).max() <= 1e-2


def test_downsample_is_the_reference_tent_on_an_impulse() -> None:
    """A single bright pixel spreads as two box passes of width ceil(n/128) would spread
    it (computed here independently with a 1-D convolution)."""
    h, w = 300, 260  # windows 3 and 3
    luma = np.zeros((h, w), dtype=np.float32)
    luma[150, 130] = 255.0
    grid = downsample64(luma)

    def box_twice(n: int, centre: int) -> NDArray[np.float64]:
        window = math.ceil(n / 128)
        half = (window + 2) // 2
        v = np.zeros(n)
        v[centre] = 1.0
        for _ in range(2):
            out = np.empty(n)
            for i in range(n):
                lo, hi = max(i - (window - half), 0), min(i + half, n)
                out[i] = v[lo:hi].mean()
            v = out
        return v

    rows = box_twice(h, 150)[((np.arange(64) + 0.5) * h / 64).astype(int)]
    cols = box_twice(w, 130)[((np.arange(64) + 0.5) * w / 64).astype(int)]
    expected = 255.0 * np.outer(rows, cols)
    assert np.abs(grid - expected).max() < 1e-3
    assert np.abs(downsample64_exact(luma) - expected).max() < 1e-3


# --- SampleGrid ----------------------------------------------------------------------


@given(h=st.integers(1, 20_000), w=st.integers(1, 20_000), s=st.integers(1, 16))
def test_scaled_grid_edges(h: int, w: int, s: int) -> None:
    """Edges start at 0, end at the full size, strictly increase in steps of ``s`` (the
    last block may be short) and number ceil(n / s) + 1."""
    grid = SampleGrid.scaled(h, w, s)
    assert grid.full_shape == (h, w)
    for edges, n in ((grid.row_edges, h), (grid.col_edges, w)):
        assert len(edges) == math.ceil(n / s) + 1
        assert edges[0] == 0
        assert edges[-1] == n
        steps = np.diff(edges)
        assert (steps > 0).all()
        assert (steps[:-1] == s).all()
        assert steps[-1] <= s


def test_scaled_grid_flips_and_transposes() -> None:
    """Flipping keeps block widths (mirrored) and transposing swaps the axes."""
    grid = SampleGrid.scaled(21, 10, 4)  # rows 4,4,4,4,4,1; cols 4,4,2
    assert list(np.diff(grid.flipped_rows().row_edges)) == [1, 4, 4, 4, 4, 4]
    assert list(np.diff(grid.flipped_cols().col_edges)) == [2, 4, 4]
    t = grid.transposed()
    assert t.full_shape == (10, 21)
    assert np.array_equal(t.row_edges, grid.col_edges)


@pytest.mark.parametrize(("h", "w"), [(5, 7), (64, 64), (100, 300), (257, 129), (700, 1000)])
def test_identity_grid_is_the_reference(h: int, w: int) -> None:
    """``SampleGrid.scaled(h, w, 1)`` is the identity: same hash and quality as no grid."""
    rgb = _rgb(h, w, h * w)
    with_grid = pdq_hash_rgb(rgb, SampleGrid.scaled(h, w, 1), exact="never")
    without = pdq_hash_rgb(rgb, exact="never")
    assert (with_grid.hex, with_grid.quality) == (without.hex, without.quality)


def test_grid_that_does_not_fit_is_refused() -> None:
    """A grid for another image size raises instead of hashing the wrong weights."""
    rgb = _rgb(100, 80, 1)
    with pytest.raises(ValueError):
        pdq_hash_rgb(rgb, SampleGrid.scaled(800, 640, 4))
    with pytest.raises(ValueError):
        pdq_hash_rgb(rgb, SampleGrid.scaled(800, 641, 8))


# --- block means: the fast path's weighting is exact on piecewise-constant input ---------


def _block_image(h: int, w: int, s: int, seed: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """An H x W image constant on every s x s block (edge blocks cut short, still constant),
    and its block means computed from the full image."""
    rng = np.random.default_rng(seed)
    bh, bw = math.ceil(h / s), math.ceil(w / s)
    # Smooth-ish block values with some texture: a realistic, high-quality hash.
    base = _rgb(bh, bw, seed).astype(np.int64)
    values = np.clip(base + rng.integers(-30, 31, base.shape), 0, 255).astype(np.uint8)
    full = np.repeat(np.repeat(values, s, axis=0), s, axis=1)[:h, :w]
    full = np.ascontiguousarray(full)
    # True block means from the full image, independently of SampleGrid.
    starts_r, starts_c = np.arange(0, h, s), np.arange(0, w, s)
    sums = np.add.reduceat(np.add.reduceat(full.astype(np.int64), starts_r, 0), starts_c, 1)
    counts = np.outer(np.diff(np.append(starts_r, h)), np.diff(np.append(starts_c, w)))
    means = sums / counts[:, :, None]
    assert np.array_equal(means, values)  # constant blocks: the mean is the block value
    return full, np.ascontiguousarray(means.astype(np.uint8))


@pytest.mark.parametrize(
    ("h", "w", "s"),
    [
        (512, 512, 8),
        (1024, 768, 8),
        (2000, 1504, 8),
        (1001, 777, 8),
        (517, 1300, 8),
        (250, 130, 8),
        (1003, 605, 4),
        (641, 483, 2),
    ],
)
def test_block_means_hash_like_the_full_image(h: int, w: int, s: int) -> None:
    """For an image constant on every s x s block, hashing its block means with
    ``SampleGrid.scaled(h, w, s)`` gives the full image's hash exactly."""
    full, small = _block_image(h, w, s, seed=h * 7 + w)
    grid = SampleGrid.scaled(h, w, s)
    assert small.shape[:2] == (len(grid.row_edges) - 1, len(grid.col_edges) - 1)
    # The weighted 64 x 64 grids agree up to float rounding ...
    assert np.abs(downsample64_rgb(small, grid) - downsample64_rgb(full)).max() < 1e-3
    # ... so the hash and the quality are the same.
    reference = pdq_hash_rgb(full)
    scaled = pdq_hash_rgb(small, grid)
    assert reference.quality >= 50
    assert scaled.hex == reference.hex
    assert scaled.quality == reference.quality
