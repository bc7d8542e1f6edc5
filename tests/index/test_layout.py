"""The pigeonhole budgets, flip masks and chunk extraction the index relies on.

Independent side: the exactness condition written out (if every probed chunk
differed by more than its budget, the distance would exceed the radius), Python
``itertools.combinations`` for the masks, and Python-int bit slicing for chunks.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.index.codes import words_from_codes
from tessera.index.layout import (
    ChunkLayout,
    chunk_keys,
    even_layout,
    flip_budgets,
    flip_masks,
    plan_layout,
    probe_plan,
    query_chunks,
    total_probes,
)

SIZES = [0, 1, 100, 2_000, 20_000, 50_000, 1_000_000, 10_000_000, 100_000_000]


@pytest.mark.parametrize("n", SIZES)
def test_budgets_guarantee_every_neighbour_is_a_candidate(n: int) -> None:
    """sum(budget + 1) > radius: no distance <= radius can exceed every budget."""
    layout = plan_layout(n)
    for radius in range(257):
        budgets = flip_budgets(layout, radius, n)
        assert sum(b + 1 for b in budgets) >= radius + 1
        assert all(b >= -1 for b in budgets)
        assert max(budgets) - min(budgets) <= 1


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_budget_condition_by_counterexample_search(data: st.DataObject) -> None:
    """No split of a distance <= r over the chunks escapes all budgets."""
    layout = even_layout(data.draw(st.integers(4, 24)), data.draw(st.integers(8, 24)))
    radius = data.draw(st.integers(0, 80))
    budgets = flip_budgets(layout, radius, 10_000)
    per_chunk = [data.draw(st.integers(0, w)) for w in layout.widths]
    if sum(per_chunk) <= radius:
        assert any(d <= b for d, b in zip(per_chunk, budgets, strict=True))


@pytest.mark.parametrize("n", SIZES)
def test_planned_layouts_are_disjoint_and_bounded(n: int) -> None:
    layout = plan_layout(n)
    bits = [b for s, w in layout.chunks for b in range(s, s + w)]
    assert len(bits) == len(set(bits)) and max(bits) < 256
    assert all(8 <= w <= 24 for w in layout.widths)
    # offsets tables (4 B per slot) stay within a few times the 32 B per hash of data
    assert sum(4 << w for w in layout.widths) <= max(64 << 20, 128 * n)


def test_ten_million_layout_and_probe_count() -> None:
    layout = plan_layout(10_000_000)
    assert layout.chunks[:3] == ((0, 24), (24, 24), (48, 24))
    assert sum(layout.widths) == 256
    budgets = flip_budgets(layout, 31, 10_000_000)
    assert sorted(budgets) == [1] + [2] * 10
    assert total_probes(layout, budgets) == 2866


@pytest.mark.parametrize(("width", "flips"), [(8, 0), (8, 8), (11, 3), (16, 1), (23, 2), (24, 2)])
def test_flip_masks_are_all_values_within_flips(width: int, flips: int) -> None:
    got = flip_masks(width, flips).tolist()
    expect = {
        sum(1 << b for b in combo)
        for k in range(flips + 1)
        for combo in itertools.combinations(range(width), k)
    }
    assert len(got) == len(expect)
    assert set(got) == expect


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), start=st.integers(0, 232), width=st.integers(8, 24))
def test_chunk_keys_match_python_ints(seed: int, start: int, width: int) -> None:
    """Chunk ``(s, w)`` is bits s..s+w-1 of the little-endian-word view of the hash bytes."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(20, 32), dtype=np.uint8)
    got = chunk_keys(words_from_codes(codes), start, width).tolist()
    expect = [(int.from_bytes(bytes(c), "little") >> start) & ((1 << width) - 1) for c in codes]
    assert got == expect


@pytest.mark.parametrize("n", [2_000, 1_000_000, 10_000_000])
def test_query_chunks_match_python_ints(n: int) -> None:
    """All chunks of a planned layout at once (the per-layout constants cached): chunks
    starting on a word boundary, inside a word and across two words, twice over."""
    layout = plan_layout(n)
    codes = np.random.default_rng(n).integers(0, 256, size=(30, 32), dtype=np.uint8)
    expect = [
        [(int.from_bytes(bytes(c), "little") >> s) & ((1 << w) - 1) for s, w in layout.chunks]
        for c in codes
    ]
    for _ in range(2):
        assert query_chunks(words_from_codes(codes), layout).tolist() == expect


@pytest.mark.parametrize(
    "chunks",
    [((0, 7),), ((0, 25),), ((0, 16), (8, 16)), ((250, 8),), ((-1, 8),)],
)
def test_bad_layouts_are_refused(chunks: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError):
        ChunkLayout(chunks)


@pytest.mark.parametrize("n", [2_000, 1_000_000, 10_000_000])
def test_plan_probes_every_mask_of_each_table_in_ascending_order(n: int) -> None:
    """Exactly the budgets' flip masks (independent: ``itertools.combinations``), each
    table's in one ascending run (probes sharing a page come one after another)."""
    layout = plan_layout(n)
    plan = probe_plan(layout, 31, n)
    bases = layout.table_bases()
    for t, (width, flips) in enumerate(zip(layout.widths, plan.budgets, strict=True)):
        run = np.flatnonzero(plan.tables == t)
        want = {
            sum(1 << b for b in bits)
            for k in range(max(flips, -1) + 1)
            for bits in itertools.combinations(range(width), k)
        }
        if not run.size:
            assert not want
            continue
        assert np.array_equal(run, np.arange(run[0], run[-1] + 1))  # one run
        masks = plan.masks[run]
        assert set(masks.tolist()) == want and len(masks) == len(want)
        assert np.all(np.diff(masks) > 0)
        assert np.all(plan.bases[run] == bases[t])
