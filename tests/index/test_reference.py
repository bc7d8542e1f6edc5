"""``brute_force_search`` and the byte-order contract, against independent popcounts.

The brute force is the oracle for every other index test, so it is itself checked
against Python-int arithmetic (``int.from_bytes`` / ``bin(x).count("1")``) and
``tessera.fingerprints.value.hamming``, which share no code with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidInput
from tessera.fingerprints.value import hamming
from tessera.index import SearchResult, brute_force_search, codes_from_hex
from tests.index.gen import near, planted


def popcount_oracle(
    codes: np.ndarray, ids: np.ndarray, queries: np.ndarray, radius: int
) -> set[tuple[int, int, int]]:
    stored = [int.from_bytes(bytes(c), "big") for c in codes]
    out = set()
    for qi, q in enumerate(queries):
        qv = int.from_bytes(bytes(q), "big")
        for row, v in enumerate(stored):
            d = bin(qv ^ v).count("1")
            if d <= radius:
                out.add((qi, int(ids[row]), d))
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 120),
    radius=st.integers(0, 256),
    distances=st.lists(st.integers(0, 256), max_size=12),
)
def test_brute_force_matches_python_ints(
    seed: int, n: int, radius: int, distances: list[int]
) -> None:
    """Every pair within the radius, with its exact distance, and nothing else."""
    rng = np.random.default_rng(seed)
    codes, ids, queries = planted(rng, n, 6, distances)
    got = brute_force_search(codes, ids, queries, radius)
    assert got.triples() == popcount_oracle(codes, ids, queries, radius)
    assert len(got) == len(got.triples())


def test_brute_force_result_is_sorted_by_query_distance_id() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, size=32, dtype=np.uint8)
    codes = np.stack([near(rng, base, d) for d in (5, 0, 5, 31, 2, 32)])
    ids = np.array([9, 8, 1, 4, 7, 6], dtype=np.int64)
    res = brute_force_search(codes, ids, np.stack([base, base]), 31)
    assert res.query.tolist() == [0] * 5 + [1] * 5
    assert res.distance.tolist() == [0, 2, 5, 5, 31] * 2
    assert res.id.tolist() == [8, 7, 1, 9, 4] * 2
    assert res.for_query(1) == [(8, 0), (7, 2), (1, 5), (9, 5), (4, 31)]
    assert res.for_query(5) == []


def test_distance_is_the_fingerprint_hamming_on_hex_bytes() -> None:
    """``codes_from_hex`` rows are exactly ``bytes.fromhex``; distances agree with ``hamming``."""
    rng = np.random.default_rng(11)
    hexes = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(30)]
    codes = codes_from_hex(hexes)
    assert [bytes(r) for r in codes] == [bytes.fromhex(h) for h in hexes]
    res = brute_force_search(codes, np.arange(30, dtype=np.int64), codes[:5], 256)
    for q, i, d in res.triples():
        assert d == hamming(bytes.fromhex(hexes[q]), bytes.fromhex(hexes[i]))
    assert len(res) == 5 * 30


def test_uint64_words_are_the_big_endian_integer() -> None:
    """``(N, 4) uint64`` input means the 256-bit integer as four big-endian words."""
    rng = np.random.default_rng(12)
    codes = rng.integers(0, 256, size=(40, 32), dtype=np.uint8)
    words = np.array(
        [[int.from_bytes(bytes(c[8 * j : 8 * j + 8]), "big") for j in range(4)] for c in codes],
        dtype=np.uint64,
    )
    ids = np.arange(40, dtype=np.int64)
    a = brute_force_search(codes, ids, codes[:7], 120)
    b = brute_force_search(words, ids, words[:7], 120)
    c = brute_force_search(codes, ids, words[:7], 120)
    assert a == b == c
    assert a.triples() == popcount_oracle(codes, ids, codes[:7], 120)


@pytest.mark.parametrize(
    "bad",
    [
        "ab" * 31,
        "ab" * 33,
        "zz" * 32,
    ],
)
def test_codes_from_hex_rejects_malformed(bad: str) -> None:
    with pytest.raises(InvalidInput):
        codes_from_hex(["00" * 32, bad])


def test_codes_from_hex_accepts_surrounding_whitespace_and_empty_list() -> None:
    assert codes_from_hex([" " + "0f" * 32 + "\n"])[0, 0] == 0x0F
    assert codes_from_hex([]).shape == (0, 32)


@pytest.mark.parametrize(
    ("codes", "ids", "queries", "radius"),
    [
        (np.zeros((3, 31), np.uint8), np.arange(3), np.zeros((1, 32), np.uint8), 31),
        (np.zeros((3, 32), np.int8), np.arange(3), np.zeros((1, 32), np.uint8), 31),
        (np.zeros((3, 4), np.uint32), np.arange(3), np.zeros((1, 32), np.uint8), 31),
        (np.zeros(32, np.uint8), np.arange(1), np.zeros((1, 32), np.uint8), 31),
        (np.zeros((3, 32), np.uint8), np.arange(4), np.zeros((1, 32), np.uint8), 31),
        (np.zeros((3, 32), np.uint8), np.zeros(3, np.float64), np.zeros((1, 32), np.uint8), 31),
        (np.zeros((3, 32), np.uint8), np.arange(3), np.zeros((1, 33), np.uint8), 31),
        (np.zeros((3, 32), np.uint8), np.arange(3), np.zeros((1, 32), np.uint8), -1),
        (np.zeros((3, 32), np.uint8), np.arange(3), np.zeros((1, 32), np.uint8), 257),
        (np.zeros((3, 32), np.uint8), np.arange(3), np.zeros((1, 32), np.uint8), True),
        (np.zeros((3, 32), np.uint8), np.arange(3), np.zeros((1, 32), np.uint8), 3.0),
        ([[0] * 32], np.arange(1), np.zeros((1, 32), np.uint8), 3),
    ],
)
def test_brute_force_rejects_bad_input(
    codes: object, ids: object, queries: object, radius: object
) -> None:
    with pytest.raises(InvalidInput):
        brute_force_search(codes, ids, queries, radius)  # type: ignore[arg-type]


def test_empty_inputs_give_empty_results() -> None:
    z = np.zeros((0, 32), np.uint8)
    assert len(brute_force_search(z, np.zeros(0, np.int64), np.ones((3, 32), np.uint8), 256)) == 0
    assert (
        brute_force_search(np.ones((3, 32), np.uint8), np.arange(3), z, 5) == SearchResult.empty()
    )
