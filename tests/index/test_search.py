"""``PdqIndex.search`` returns exactly the brute-force answer, whatever happened before.

Independent side: ``brute_force_search`` (itself checked against Python-int
popcounts in ``test_reference.py``). Data: random codes with near-duplicates
planted at distances 0..40, always including 31 and 32 (either side of PDQ's
threshold), radii 0..64, after builds, adds (delta), removes (tombstones),
compaction and a save/load round trip. ``strategy="probe"`` forces the
multi-index path even where ``auto`` would scan a small index. Every test runs with
the compiled probe (``tessera.index.kernel``, where built) and with the NumPy one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidInput
from tessera.index import PdqIndex, SearchResult, brute_force_search, kernel
from tessera.index import pdq_index as pdq_index_module
from tessera.index.layout import plan_layout
from tests.index.gen import flip, near, planted, random_codes

PLANT = st.lists(st.integers(0, 40), min_size=0, max_size=30).map(lambda d: [31, 32, 0, *d])
SETTINGS = settings(max_examples=30, deadline=None)


@pytest.fixture(autouse=True, scope="module", params=["compiled", "numpy"])
def probe_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Module-scoped (Hypothesis refuses function-scoped fixtures around ``@given``)."""
    lib = kernel._LIB
    if request.param == "compiled" and lib is None:
        if os.environ.get("TESSERA_REQUIRE_KERNEL") == "1":
            pytest.fail("the compiled probe is not built (TESSERA_REQUIRE_KERNEL=1)")
        pytest.skip("the compiled probe is not built here (no C compiler at install)")
    if request.param == "numpy":
        kernel._LIB = None
    yield request.param
    kernel._LIB = lib


def assert_exact(
    index: PdqIndex, codes: np.ndarray, ids: np.ndarray, queries: np.ndarray, radius: int
) -> SearchResult:
    expect = brute_force_search(codes, ids, queries, radius)
    for strategy in ("probe", "auto", "scan"):
        got = index.search(queries, radius, strategy=strategy)
        assert got == expect, f"strategy={strategy} radius={radius}"
    return expect


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    distances=PLANT,
    radius=st.integers(0, 64),
)
def test_search_equals_brute_force(seed: int, n: int, distances: list[int], radius: int) -> None:
    rng = np.random.default_rng(seed)
    codes, ids, queries = planted(rng, n, 40, distances)
    index = PdqIndex.build(codes, ids)
    expect = assert_exact(index, codes, ids, queries, radius)
    if n >= 2 and radius >= 32:
        # the planted copies at 31 and 32 are found
        assert {0, 1} <= set(expect.query.tolist())


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 2000),
    n_add=st.integers(0, 600),
    remove_frac=st.floats(0.0, 0.6),
    radius=st.integers(0, 64),
    delta_limit=st.sampled_from([0, 100, 10_000]),
)
def test_exact_after_add_remove_compact_and_reload(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    seed: int,
    n: int,
    n_add: int,
    remove_frac: float,
    radius: int,
    delta_limit: int,
) -> None:
    rng = np.random.default_rng(seed)
    codes, ids, queries = planted(rng, n, 30, [31, 32, 0, 5, 17, 40])
    extra, extra_ids, _ = planted(rng, n_add, 1, [])
    # some added hashes are near the queries too
    for i in range(min(n_add, 10)):
        extra[i] = near(rng, queries[10 + i], int(rng.integers(0, 41)))
    extra_ids = extra_ids + 10**9
    index = PdqIndex.build(codes, ids, delta_limit=delta_limit)
    half = n_add // 2
    index.add(extra[:half], extra_ids[:half])
    index.add(extra[half:], extra_ids[half:])

    all_codes = np.concatenate([codes, extra])
    all_ids = np.concatenate([ids, extra_ids])
    assert len(index) == all_ids.shape[0]
    assert_exact(index, all_codes, all_ids, queries, radius)

    gone = all_ids[rng.random(all_ids.shape[0]) < remove_frac]
    assert index.remove(gone) == gone.shape[0]
    assert index.remove(gone) == 0  # already removed
    live = ~np.isin(all_ids, gone)
    assert len(index) == int(live.sum())
    assert_exact(index, all_codes[live], all_ids[live], queries, radius)

    index.compact()
    assert len(index) == int(live.sum())
    assert_exact(index, all_codes[live], all_ids[live], queries, radius)

    path = tmp_path_factory.mktemp("idx") / "pdq"
    index.save(path, state=f"seed {seed}")
    loaded = PdqIndex.load(path)
    assert loaded.state == f"seed {seed}"
    assert len(loaded) == int(live.sum())
    assert_exact(loaded, all_codes[live], all_ids[live], queries, radius)
    # a loaded (memory-mapped, read-only) index still takes updates
    loaded.add(queries[:3], np.array([-1, -2, -3], dtype=np.int64))
    loaded.remove(np.array([-2], dtype=np.int64))
    loaded.compact()
    assert_exact(
        loaded,
        np.concatenate([all_codes[live], queries[[0, 2]]]),
        np.concatenate([all_ids[live], np.array([-1, -3], dtype=np.int64)]),
        queries,
        radius,
    )


def test_compaction_equals_a_fresh_build() -> None:
    """Merging the delta and dropping tombstones gives the same tables as building anew."""
    rng = np.random.default_rng(5)
    codes, ids, _ = planted(rng, 20_000, 1, [])
    more = random_codes(rng, 3_000)
    index = PdqIndex.build(codes, ids, delta_limit=10**9)
    index.add(more, np.arange(3_000, dtype=np.int64) + 10**6)
    index.remove(ids[::3])
    index.compact()
    keep = np.ones(20_000, dtype=bool)
    keep[::3] = False
    fresh = PdqIndex.build(
        np.concatenate([codes[keep], more]),
        np.concatenate([ids[keep], np.arange(3_000, dtype=np.int64) + 10**6]),
    )
    assert index.layout == fresh.layout
    assert np.array_equal(index._tables.perm, fresh._tables.perm)
    assert np.array_equal(index._tables.offsets, fresh._tables.offsets)


def test_production_layout_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 10M-hash layout (11 chunks of 24/23 bits, 2**24-entry tables), on a small N."""
    layout = plan_layout(10_000_000)
    assert layout.widths == (24, 24, 24) + (23,) * 8
    monkeypatch.setattr(pdq_index_module, "plan_layout", lambda n: layout)
    rng = np.random.default_rng(8)
    codes, ids, queries = planted(rng, 20_000, 200, [31, 32, 30, 33, *range(0, 41)] * 3)
    index = PdqIndex.build(codes, ids)
    assert index.layout == layout
    for radius in (0, 8, 23, 31, 32, 33, 47):
        expect = brute_force_search(codes, ids, queries, radius)
        assert index.search(queries, radius, strategy="probe") == expect
    # delta and merge with the production layout
    extra = random_codes(rng, 500)
    extra[:50] = [near(rng, q, 31) for q in queries[100:150]]
    index.add(extra, np.arange(500, dtype=np.int64) + 10**7)
    index.compact()
    both = np.concatenate([codes, extra])
    both_ids = np.concatenate([ids, np.arange(500, dtype=np.int64) + 10**7])
    expect = brute_force_search(both, both_ids, queries, 31)
    assert index.search(queries, 31, strategy="probe") == expect
    assert set(range(100, 150)) <= set(expect.query.tolist())


def test_medium_index_all_queries_planted() -> None:
    """50k hashes (16-17 bit chunks), 300 queries, each with copies at 0..40 bits."""
    rng = np.random.default_rng(9)
    codes, ids, queries = planted(rng, 50_000, 300, list(range(41)) * 7 + [31, 32] * 5)
    index = PdqIndex.build(codes, ids)
    for radius in (31, 32):
        expect = assert_exact(index, codes, ids, queries, radius)
        assert len(expect) >= 200


@pytest.mark.parametrize("radius", [0, 1, 65, 100, 127, 128, 129, 200, 255, 256])
def test_wide_and_extreme_radii(radius: int) -> None:
    """Exact at every radius: budgets beyond the chunk width, scan above 128 bits."""
    rng = np.random.default_rng(radius)
    codes, ids, queries = planted(rng, 1_500, 12, [0, 1, 64, 100, 128, 129, 200, 255, 256])
    codes[-1] = ~queries[0]  # at distance 256 from query 0
    index = PdqIndex.build(codes, ids)
    assert_exact(index, codes, ids, queries, radius)


@pytest.mark.parametrize("radius", [0, 8, 31, 32, 64, 127, 128, 129])
def test_copies_differing_in_one_half_only(radius: int) -> None:
    """Candidates are checked on the hash's first 128 bits, then on the rest: copies
    whose flipped bits all lie in the first half (bytes 0-15) or all in the second,
    at the radius and one bit beyond, are found or left out exactly as brute force."""
    rng = np.random.default_rng(100 + radius)
    codes = random_codes(rng, 4_000)
    queries = random_codes(rng, 8)
    for i, (half, extra) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)] * 2):
        d = min(radius + extra, 128)
        bits = rng.choice(128, size=d, replace=False) + 128 * half
        codes[i] = flip(queries[i], bits)
    ids = np.arange(4_000, dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    expect = brute_force_search(codes, ids, queries, radius)
    assert index.search(queries, radius, strategy="probe") == expect
    found = set(zip(expect.query.tolist(), expect.id.tolist(), strict=True))
    for i, (_half, extra) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)] * 2):
        assert ((i, i) in found) == (min(radius + extra, 128) <= radius), i


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_thread_count_does_not_change_results(threads: int) -> None:
    rng = np.random.default_rng(10)
    codes, ids, queries = planted(rng, 10_000, 500, list(range(41)) * 5)
    index = PdqIndex.build(codes, ids, threads=threads)
    expect = brute_force_search(codes, ids, queries, 31)
    assert index.search(queries, threads=threads) == expect
    assert index.search(queries, threads=threads, strategy="probe") == expect


def test_search_one_and_input_forms() -> None:
    rng = np.random.default_rng(13)
    codes, ids, queries = planted(rng, 3_000, 5, [0, 7, 31, 32])
    index = PdqIndex.build(codes, ids)
    expect = brute_force_search(codes, ids, queries, 31)
    words = np.array(
        [[int.from_bytes(bytes(c[8 * j : 8 * j + 8]), "big") for j in range(4)] for c in queries],
        dtype=np.uint64,
    )
    assert index.search(words) == expect
    for q in range(5):
        hits = expect.for_query(q)
        assert index.search_one(bytes(queries[q])) == hits
        assert index.search_one(queries[q]) == hits
        assert index.search_one(words[q]) == hits
    assert [d for _, d in index.search_one(bytes(queries[0]))] == [0]
    assert index.search_one(bytes(queries[3])) == []
    assert index.search_one(bytes(queries[3]), radius=32)[0][1] == 32


def test_duplicate_ids_and_identical_codes() -> None:
    """Every stored row is its own match; ``remove`` drops all rows with an id."""
    code = np.full((1, 32), 0xA5, dtype=np.uint8)
    codes = np.repeat(code, 5, axis=0)
    ids = np.array([1, 1, 2, 3, 3], dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    assert index.search_one(code[0]) == [(1, 0), (1, 0), (2, 0), (3, 0), (3, 0)]
    assert index.remove(np.array([3, 99], dtype=np.int64)) == 2
    assert index.search_one(code[0]) == [(1, 0), (1, 0), (2, 0)]
    index.add(code, np.array([1], dtype=np.int64))
    assert index.remove(np.array([1], dtype=np.int64)) == 3
    assert index.search_one(code[0]) == [(2, 0)]
    assert len(index) == 1


def test_empty_index_and_empty_queries() -> None:
    empty = PdqIndex.build(np.zeros((0, 32), np.uint8), np.zeros(0, np.int64))
    q = np.ones((3, 32), np.uint8)
    assert len(empty) == 0
    assert empty.search(q, 256) == SearchResult.empty()
    assert empty.search(q[:0]) == SearchResult.empty()
    empty.add(q, np.arange(3, dtype=np.int64))
    assert len(empty.search(q, 0)) == 9
    empty.compact()
    assert len(empty.search(q, 0, strategy="probe")) == 9


@pytest.mark.parametrize(
    "call",
    [
        lambda ix: ix.search(np.zeros((2, 31), np.uint8)),
        lambda ix: ix.search(np.zeros(32, np.uint8)),
        lambda ix: ix.search(np.zeros((2, 32), np.uint8), radius=-1),
        lambda ix: ix.search(np.zeros((2, 32), np.uint8), radius=257),
        lambda ix: ix.search(np.zeros((2, 32), np.uint8), radius=None),
        lambda ix: ix.search(np.zeros((2, 32), np.uint8), strategy="fast"),
        lambda ix: ix.search_one(b"\x00" * 31),
        lambda ix: ix.search_one(np.zeros((1, 32), np.uint8)),
        lambda ix: ix.search_one("00" * 32),
        lambda ix: ix.add(np.zeros((2, 32), np.uint8), np.arange(3)),
        lambda ix: ix.add(np.zeros((2, 32), np.uint8), np.array([1.0, 2.0])),
        lambda ix: ix.add(np.zeros((2, 32), np.uint8), np.array([2**63, 1], dtype=np.uint64)),
        lambda ix: ix.remove(np.array([[1]])),
        lambda ix: ix.remove([1, 2]),
        lambda ix: ix.save(Path("/nonexistent"), state=5),
    ],
)
def test_bad_input_raises_invalid_input(call: object) -> None:
    index = PdqIndex.build(np.zeros((4, 32), np.uint8), np.arange(4, dtype=np.int64))
    with pytest.raises(InvalidInput):
        call(index)  # type: ignore[operator]


def test_inputs_are_copied() -> None:
    """Mutating the caller's arrays after build/add does not change the index."""
    codes = np.zeros((3, 32), np.uint8)
    ids = np.arange(3, dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    more = np.ones((2, 32), np.uint8)
    index.add(more, np.array([10, 11], dtype=np.int64))
    codes[:] = 0xFF
    ids[:] = 7
    more[:] = 0
    assert index.search_one(np.zeros(32, np.uint8), 0) == [(0, 0), (1, 0), (2, 0)]
    assert index.search_one(np.ones(32, np.uint8), 0) == [(10, 0), (11, 0)]
