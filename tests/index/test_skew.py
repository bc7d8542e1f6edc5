"""Skewed data stays exact: blank-image hashes, low-entropy codes, tight clusters.

Real hash sets are not uniform: flat or tiny images give all-zero or near-constant
PDQ hashes, and series of edits give tight clusters. These fill a few buckets with
thousands of rows. Exactness must not depend on bucket sizes; the tests also
force the paths that only skew normally reaches (queries re-routed to a scan,
candidate expansion split into bounded groups, giant ranges cut in pieces).
"""

from __future__ import annotations

import numpy as np
import pytest

from tessera.index import PdqIndex, brute_force_search
from tessera.index import probe as probe_module
from tests.index.gen import near, random_codes


def skewed(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zeros = np.zeros((1500, 32), np.uint8)
    ones = np.full((300, 32), 0xFF, np.uint8)
    # low entropy: only the first 3 bytes vary
    low = np.zeros((1500, 32), np.uint8)
    low[:, :3] = rng.integers(0, 256, size=(1500, 3), dtype=np.uint8)
    # a tight cluster around one random code
    base = random_codes(rng, 1)[0]
    cluster = np.stack([near(rng, base, int(rng.integers(0, 6))) for _ in range(800)])
    # near-zero codes at every distance up to 40
    near_zero = np.stack([near(rng, zeros[0], d % 41) for d in range(400)])
    uniform = random_codes(rng, 2000)
    codes = np.concatenate([zeros, ones, low, cluster, near_zero, uniform])
    ids = np.arange(codes.shape[0], dtype=np.int64)
    queries = np.concatenate(
        [
            zeros[:2],
            [near(rng, zeros[0], d) for d in (1, 15, 31, 32, 40)],
            low[:5],
            [near(rng, base, d) for d in (0, 10, 26, 31, 32)],
            [near(rng, ones[0], d) for d in (3, 31)],
            random_codes(rng, 10),
            uniform[:5],
        ]
    ).astype(np.uint8)
    return codes, ids, queries


@pytest.mark.parametrize(
    "scan_cost",
    [
        pytest.param(None, id="default-routing"),
        pytest.param(1e9, id="never-reroute"),
        pytest.param(0.0, id="always-reroute"),
    ],
)
@pytest.mark.parametrize("group", [None, 64])
def test_skewed_data_is_exact(
    monkeypatch: pytest.MonkeyPatch, scan_cost: float | None, group: int | None
) -> None:
    if scan_cost is not None:
        monkeypatch.setattr(probe_module, "COST_SCAN_NS", scan_cost)
    if group is not None:
        monkeypatch.setattr(probe_module, "CANDIDATE_GROUP", group)
    codes, ids, queries = skewed(1)
    index = PdqIndex.build(codes, ids)
    for radius in (0, 5, 31, 32, 64):
        expect = brute_force_search(codes, ids, queries, radius)
        assert index.search(queries, radius, strategy="probe") == expect, radius
        assert index.search(queries, radius) == expect, radius


def test_skew_through_delta_tombstones_and_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "CANDIDATE_GROUP", 1000)
    codes, ids, queries = skewed(2)
    index = PdqIndex.build(codes[::2], ids[::2], delta_limit=10**9)
    index.add(codes[1::2], ids[1::2])
    dead = ids[::5]
    index.remove(dead)
    live = ~np.isin(ids, dead)
    expect = brute_force_search(codes[live], ids[live], queries, 31)
    assert index.search(queries, strategy="probe") == expect
    index.compact()
    assert index.search(queries, strategy="probe") == expect


def test_everything_identical() -> None:
    """One bucket holds every row in every table."""
    codes = np.zeros((5000, 32), np.uint8)
    index = PdqIndex.build(codes, np.arange(5000, dtype=np.int64))
    q = np.stack([codes[0], near(np.random.default_rng(0), codes[0], 31), np.full(32, 1, np.uint8)])
    expect = brute_force_search(codes, np.arange(5000, dtype=np.int64), q, 31)
    assert len(expect) == 10_000
    assert index.search(q, strategy="probe") == expect
