"""The compiled probe (``tessera.index.kernel``): its own edges, against brute force.

``test_search.py`` runs every search test with it and without it; here, what only
the kernel has: a result buffer that must grow mid-batch without losing or repeating
a query's pairs, and queries too heavy to probe handed back to be scanned.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tessera.index import PdqIndex, brute_force_search, kernel, pdq_index
from tessera.index.codes import words_from_codes
from tessera.index.layout import probe_plan
from tessera.index.probe import _unique
from tests.index.gen import near, random_codes

pytestmark = pytest.mark.skipif(
    not kernel.available() and os.environ.get("TESSERA_REQUIRE_KERNEL") != "1",
    reason="the compiled probe is not built here (no C compiler at install)",
)


def test_built_where_required() -> None:
    assert kernel.available(), "TESSERA_REQUIRE_KERNEL=1 but tessera.index._mih is not built"


def _kernel_pairs(
    index: PdqIndex, queries: np.ndarray, radius: int, cap: int
) -> set[tuple[int, int, int]]:
    tables, words = index._tables, index._words
    assert kernel.usable(tables, words)
    plan = probe_plan(tables.layout, radius, tables.n)
    (q, r, d), heavy = kernel.probe_c(tables, words, words_from_codes(queries), plan, cap=cap)
    assert heavy.shape[0] == 0
    q, r, d = _unique([(q, r, d)], tables.n)
    return set(zip(q.tolist(), index._ids[r].tolist(), d.tolist(), strict=True))


@pytest.mark.parametrize("cap", [1, 2, 7, 1 << 14])
def test_growing_result_buffer_loses_and_repeats_nothing(cap: int) -> None:
    rng = np.random.default_rng(11)
    base = random_codes(rng, 20_000)
    # 40 near copies of each of 5 pictures: each query has >= 41 pairs, more than
    # the smaller buffers hold, so calls stop mid-batch and one query needs growth
    copies = np.stack(
        [near(rng, base[i], int(rng.integers(0, 21))) for i in range(5) for _ in range(40)]
    )
    codes = np.concatenate([base, copies])
    ids = np.arange(codes.shape[0], dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    queries = np.concatenate([base[:5], random_codes(rng, 30)])
    expect = brute_force_search(codes, ids, queries, 31).triples()
    assert len(expect) >= 5 * 41
    assert _kernel_pairs(index, queries, 31, cap) == expect


def test_heavy_queries_are_handed_back_and_scanned() -> None:
    rng = np.random.default_rng(12)
    codes = random_codes(rng, 50_000)
    codes[:6_000] = codes[0]  # one chunk value shared by 6,000 rows in every table
    ids = np.arange(codes.shape[0], dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    queries = np.concatenate([codes[:2], random_codes(rng, 20)])
    tables, words = index._tables, index._words
    plan = probe_plan(tables.layout, 31, tables.n)
    _, heavy = kernel.probe_c(tables, words, words_from_codes(queries), plan)
    assert heavy.tolist() == [0, 1]  # 6,000 x m candidates: more than a scan costs
    expect = brute_force_search(codes, ids, queries, 31)
    assert index.search(queries, 31, strategy="probe") == expect


@pytest.mark.parametrize("block", [7, 4096])
@pytest.mark.parametrize("threads", [1, 2])
def test_query_blocks_of_the_compiled_probe_cover_every_query(
    monkeypatch: pytest.MonkeyPatch, block: int, threads: int
) -> None:
    """Searches cut into ``KERNEL_BLOCK``-query blocks (and across threads) find what
    brute force finds, block edges included."""
    monkeypatch.setattr(pdq_index, "KERNEL_BLOCK", block)
    rng = np.random.default_rng(13)
    codes = random_codes(rng, 5_000)
    ids = np.arange(10, 10 + codes.shape[0], dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    assert kernel.usable(index._tables, index._words)
    copies = np.stack([near(rng, codes[i], int(rng.integers(0, 16))) for i in range(0, 300, 3)])
    queries = np.concatenate([copies, random_codes(rng, 37), codes[:20]])
    expect = brute_force_search(codes, ids, queries, 31)
    got = index.search(queries, 31, threads=threads, strategy="probe")
    assert len(expect) >= 120
    assert got == expect
