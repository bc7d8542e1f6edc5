"""The blocked scan across tile boundaries, in both stored layouts.

A single query scans 262,144 rows per tile and ``scan`` (which transposes) 32,768:
neighbours planted on both sides of those boundaries must each be reported once,
at the distance ``int.bit_count`` gives for the two hashes.
"""

from __future__ import annotations

import numpy as np
import pytest

from tessera.index.codes import words_from_codes
from tessera.index.scan import PAIRS_PER_TILE, scan, scan_columns
from tests.index.gen import near, random_codes

N = PAIRS_PER_TILE + 5_000
BOUNDARY_ROWS = [0, 32_767, 32_768, PAIRS_PER_TILE - 1, PAIRS_PER_TILE, N - 1]


def _oracle(a: np.ndarray, b: np.ndarray) -> int:
    return (int.from_bytes(a.tobytes(), "big") ^ int.from_bytes(b.tobytes(), "big")).bit_count()


@pytest.mark.parametrize("n_queries", [1, 2, 70])
def test_scan_and_scan_columns_find_planted_rows_across_tiles(n_queries: int) -> None:
    rng = np.random.default_rng(n_queries)
    stored = random_codes(rng, N)
    queries = random_codes(rng, n_queries)
    expect: set[tuple[int, int, int]] = set()
    for k, row in enumerate(BOUNDARY_ROWS):
        q = k % n_queries
        stored[row] = near(rng, queries[q], [0, 5, 31, 17, 30, 2][k])
        expect.add((q, row, _oracle(queries[q], stored[row])))
    words = words_from_codes(stored)
    qwords = words_from_codes(queries)
    for got in (scan(qwords, words, 31), scan_columns(qwords, np.ascontiguousarray(words.T), 31)):
        triples = list(zip(*(a.tolist() for a in got), strict=True))
        assert len(triples) == len(set(triples))
        assert set(triples) == expect
    assert {d for _, _, d in expect} == {0, 5, 31, 17, 30, 2}
