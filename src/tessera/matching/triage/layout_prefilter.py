"""Prefilter of the colour layout step: its cost per file nearly independent of the store.

The layout step ranks the decisive stored layouts by a comparison without search
before it searches the best few; done against every stored layout that costs about
5 microseconds per layout per file (0.5 s per file at 100k known pictures), and
holding every layout's comparison grid costs 3 KB each. What an edited copy keeps of
its original whatever the edit the search handles (crop, small rotation, mirror
image or quarter turn, a caption or overlay over a minority of the picture) is the
spread of its colours: quantiles of L, a and b over the comparison grid do not move
under mirror images and quarter turns (the grid's cells only permute), barely under
a few degrees of rotation, and a crop or a caption shifts them by a fraction of the
spread. So each stored layout is reduced at load to ``STATS`` numbers (5 quantiles
of each plane), a file's closest ``CANDIDATES`` by L1 distance over them are taken in
one pass over a small array, and only those get the comparison without search.
Measured in ``benchmarks/bench_layout_scale.py`` and ``tests/matching/
test_layout_prefilter.py`` (the true original kept among 20k generated distractors
for every edit class).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tessera.fingerprints.layout import GRID, K_COLOUR, K_LIGHT, SIDE

QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
STATS = 3 * len(QUANTILES)
CANDIDATES = 256
"""Stored layouts per file that get the comparison without search."""
_CHUNK = 4096

FloatArray = NDArray[np.float32]


def _basis(k: int) -> FloatArray:
    """Orthonormal DCT-II basis at the comparison grid's cell centres: GRID x k."""
    p = (np.arange(GRID, dtype=np.float64) + 0.5) / GRID
    alpha = np.full(k, np.sqrt(2 / SIDE))
    alpha[0] = np.sqrt(1 / SIDE)
    return (alpha * np.cos(np.pi * np.outer(p * SIDE, np.arange(k)) / SIDE)).astype(np.float32)


_BL = _basis(K_LIGHT)
_BC = _basis(K_COLOUR)


def grids(light: FloatArray, colour: FloatArray) -> FloatArray:
    """Comparison grids (n x GRID*GRID x 3, as ``layout.grid_of``) of n layouts' coefficients
    (``light`` n x K_LIGHT x K_LIGHT, ``colour`` n x 2 x K_COLOUR x K_COLOUR)."""
    n = light.shape[0]
    out = np.empty((n, GRID, GRID, 3), np.float32)
    out[..., 0] = np.einsum("yi,nij,xj->nyx", _BL, light, _BL, optimize=True)
    out[..., 1] = np.einsum("yi,nij,xj->nyx", _BC, colour[:, 0], _BC, optimize=True)
    out[..., 2] = np.einsum("yi,nij,xj->nyx", _BC, colour[:, 1], _BC, optimize=True)
    return out.reshape(n, GRID * GRID, 3)


_AT = np.array([round(q * (GRID * GRID - 1)) for q in QUANTILES])


def stats_of_grids(g: FloatArray) -> FloatArray:
    """Colour quantiles (n x STATS) of comparison grids (n x GRID*GRID x 3)."""
    s = np.sort(g, axis=1)[:, _AT, :]  # n x len(QUANTILES) x 3
    return np.ascontiguousarray(s.transpose(0, 2, 1).reshape(len(g), STATS), dtype=np.float32)


def stats(light: FloatArray, colour: FloatArray) -> FloatArray:
    """Colour quantiles (n x STATS) of n layouts, a chunk at a time (grids not kept)."""
    n = light.shape[0]
    out = np.empty((n, STATS), np.float32)
    for a in range(0, n, _CHUNK):
        out[a : a + _CHUNK] = stats_of_grids(grids(light[a : a + _CHUNK], colour[a : a + _CHUNK]))
    return out


def candidates(table: FloatArray, query: FloatArray, keep: int = CANDIDATES) -> NDArray[np.intp]:
    """Positions in ``table`` (n x STATS) of the ``keep`` rows closest to ``query``
    (STATS) by L1 distance; every position when there are no more than ``keep``."""
    n = table.shape[0]
    if n <= keep:
        return np.arange(n)
    d = np.abs(table - query[None]).sum(axis=1)
    return np.argpartition(d, keep - 1)[:keep]


__all__ = ["CANDIDATES", "QUANTILES", "STATS", "candidates", "grids", "stats", "stats_of_grids"]
