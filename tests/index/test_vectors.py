"""Real PDQ hashes: ThreatExchange's MIH regression lists (haystack and needles).

``pdq/hashlists/haystack.txt`` holds 1,350 PDQ hashes of real images in clusters
of near-duplicates; ``needles.txt`` 100 hashes to look up (upstream runs its
multi-index hashing test at radius 32). Real hashes are not uniform, unlike the
benchmark's random ones. Expected answers come from ``brute_force_search`` and,
independently, from ``tessera.fingerprints.value.hamming`` on the hex bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tessera.fingerprints.value import hamming
from tessera.index import PdqIndex, brute_force_search, codes_from_hex
from tessera.index import pdq_index as pdq_index_module
from tessera.index.layout import plan_layout


def read_hashes(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def lists(vectors_dir: Path) -> tuple[list[str], list[str]]:
    folder = vectors_dir / "pdq" / "hashlists"
    return read_hashes(folder / "haystack.txt"), read_hashes(folder / "needles.txt")


@pytest.mark.parametrize("layout_n", [None, 10_000_000], ids=["planned", "10M-layout"])
@pytest.mark.parametrize("radius", [31, 32])
def test_needles_in_haystack(
    lists: tuple[list[str], list[str]],
    radius: int,
    layout_n: int | None,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    haystack, needles = lists
    assert (len(haystack), len(needles)) == (1350, 100)
    if layout_n is not None:
        layout = plan_layout(layout_n)
        monkeypatch.setattr(pdq_index_module, "plan_layout", lambda n: layout)
    codes = codes_from_hex(haystack)
    queries = codes_from_hex(needles)
    ids = np.arange(len(haystack), dtype=np.int64)
    index = PdqIndex.build(codes, ids)
    expect = brute_force_search(codes, ids, queries, radius)
    assert index.search(queries, radius, strategy="probe") == expect
    assert index.search(queries, radius) == expect

    oracle = {
        (q, i, d)
        for q, n in enumerate(needles)
        for i, h in enumerate(haystack)
        if (d := hamming(bytes.fromhex(n), bytes.fromhex(h))) <= radius
    }
    assert expect.triples() == oracle

    matched = len(set(expect.query.tolist()))
    record_property("needles_matched", matched)
    record_property("pairs", len(expect))
    print(f"radius {radius}: {matched}/100 needles match, {len(expect)} pairs")
    assert matched > 0


def test_haystack_against_itself(lists: tuple[list[str], list[str]]) -> None:
    """Every haystack hash finds itself and its cluster, with a delta and a merge."""
    haystack, _ = lists
    codes = codes_from_hex(haystack)
    ids = np.arange(len(haystack), dtype=np.int64)
    index = PdqIndex.build(codes[:1000], ids[:1000])
    index.add(codes[1000:], ids[1000:])
    expect = brute_force_search(codes, ids, codes, 31)
    assert index.search(codes, strategy="probe") == expect
    index.compact()
    assert index.search(codes, strategy="probe") == expect
    assert {(q, i) for q, i, d in expect.triples() if d == 0} >= {(i, i) for i in range(1350)}
