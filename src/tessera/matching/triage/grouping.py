"""Last step: new files clustered so near-copies of one new picture form one group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tessera.index import PdqIndex
from tessera.matching.triage.report import TriageItem


def pdq_codes(hexes: Sequence[str]) -> NDArray[np.uint8]:
    if not hexes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, 32)


def group_new(items: list[TriageItem], radius: int) -> list[list[str]]:
    """Union-find over new files: same SHA-256, or PDQ within ``radius``."""
    new = [i for i, it in enumerate(items) if it.status == "new"]
    parent = {i: i for i in new}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_sha: dict[str, int] = {}
    for i in new:
        sha = items[i].file.sha256
        if sha is None:
            continue
        if sha in by_sha:
            union(by_sha[sha], i)
        else:
            by_sha[sha] = i
    with_pdq = [i for i in new if items[i].file.pdq is not None]
    if with_pdq:
        codes = pdq_codes([items[i].file.pdq or "" for i in with_pdq])
        index = PdqIndex.build(codes, np.arange(len(with_pdq), dtype=np.int64))
        res = index.search(codes, radius=radius)
        for q, other in zip(res.query, res.id, strict=True):
            union(with_pdq[int(q)], with_pdq[int(other)])
    groups: dict[int, list[int]] = defaultdict(list)
    for i in new:
        groups[find(i)].append(i)
    ordered = sorted(groups.values(), key=lambda g: g[0])
    for n, g in enumerate(ordered, start=1):
        for i in g:
            items[i].group = n
    return [[items[i].path for i in g] for g in ordered]


__all__ = ["group_new", "pdq_codes"]
