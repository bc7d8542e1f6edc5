"""Step 3: PDQ near matches (radius, quality, optional dihedral variants) for the rest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tessera.fingerprints.pdq import DIHEDRAL_NAMES
from tessera.matching.pdq_store import PdqHit, PdqStore
from tessera.matching.triage.exact import ExactHits
from tessera.matching.triage.grouping import pdq_codes
from tessera.matching.triage.report import TriageItem


@dataclass(frozen=True)
class NearHits:
    best: dict[int, dict[int, tuple[int, str]]] = field(default_factory=dict)
    """item index -> media id -> (smallest distance, variant that gave it)."""
    hits: dict[int, list[PdqHit]] = field(default_factory=dict)
    """item index -> every PDQ hit (frame hits tell where a still sits in a video)."""


def pdq_near(
    store: PdqStore,
    items: Sequence[TriageItem],
    exact: ExactHits,
    *,
    radius: int,
    min_quality: int,
    dihedral: bool,
) -> NearHits:
    """Search the PDQ index with every file that has no exact match and enough quality."""
    queries: list[tuple[int, str, str]] = []  # (item index, variant, hex)
    for i, it in enumerate(items):
        f = it.file
        if i in exact or f.pdq is None or (f.quality or 0) < min_quality:
            continue
        queries.append((i, "pdq", f.pdq))
        if dihedral and f.dihedral:
            for name in DIHEDRAL_NAMES[1:]:
                queries.append((i, f"pdq-{name}", f.dihedral[name]))
    found = store.search(pdq_codes([q[2] for q in queries]), radius=radius, min_quality=min_quality)
    best: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)
    hits: dict[int, list[PdqHit]] = defaultdict(list)
    for h in found:
        i, via, _ = queries[h.query]
        hits[i].append(h)
        prior = best[i].get(h.media_id)
        if prior is None or h.distance < prior[0]:
            best[i][h.media_id] = (h.distance, via)
    return NearHits(best=dict(best), hits=dict(hits))


__all__ = ["NearHits", "pdq_near"]
