"""Seeded test data: random PDQ-sized codes with planted near-duplicates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

U8 = NDArray[np.uint8]


def flip(code: U8, bits: Sequence[int] | NDArray[np.int64]) -> U8:
    """A copy of one 32-byte code with the given bit positions (0..255) flipped."""
    out = code.copy()
    for b in np.asarray(bits, dtype=np.int64).tolist():
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def near(rng: np.random.Generator, code: U8, distance: int) -> U8:
    """A code exactly ``distance`` bits away from ``code``."""
    return flip(code, rng.choice(256, size=distance, replace=False))


def random_codes(rng: np.random.Generator, n: int) -> U8:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


def planted(
    rng: np.random.Generator, n: int, n_queries: int, distances: Sequence[int]
) -> tuple[U8, NDArray[np.int64], U8]:
    """``n`` random codes, ``n_queries`` random queries; query ``i`` gets a stored
    copy at ``distances[i]`` (for ``i < len(distances)``), replacing a random row."""
    codes = random_codes(rng, n)
    queries = random_codes(rng, n_queries)
    if n:
        rows = rng.choice(n, size=min(n, len(distances)), replace=False)
        for i, row in enumerate(rows.tolist()):
            codes[row] = near(rng, queries[i % n_queries], distances[i])
    ids = rng.permutation(n).astype(np.int64) * 7 - 3
    return codes, ids, queries
