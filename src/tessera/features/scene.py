"""Same-place / same-marker search: retrieval shortlist, then geometric verification."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tessera.features.local import LocalFeatures
from tessera.features.retrieval import SceneIndex
from tessera.features.verify import Verification, verify

FeatureStore = Mapping[str, LocalFeatures] | Callable[[str], LocalFeatures | None]

SHORTLIST = 30
"""Candidates verified per query; verification costs ~10-30 ms each."""


@dataclass(frozen=True)
class SceneMatch:
    """A verified hit: which media, its retrieval rank/score, and the geometry."""

    media_id: str
    retrieval_rank: int
    retrieval_score: float
    verification: Verification
    mirrored: bool = False

    @property
    def inliers(self) -> int:
        return self.verification.inliers


def _lookup(store: FeatureStore, media_id: str) -> LocalFeatures | None:
    if callable(store):
        return store(media_id)
    return store.get(media_id)


def similar(
    query: LocalFeatures | Sequence[LocalFeatures],
    index: SceneIndex,
    feature_store: FeatureStore,
    k: int = 10,
    *,
    shortlist: int = SHORTLIST,
    accepted_only: bool = True,
) -> list[SceneMatch]:
    """Images showing the same scene or marker as ``query``, best first.

    ``query`` may be several feature sets of one query (e.g. ``extract`` and
    ``extract_mirrored`` of the same image); each is retrieved and verified and
    the best verification per media id is kept (``mirrored`` tells which won).
    Ordered by inlier count; only accepted matches unless ``accepted_only=False``.
    """
    queries = [query] if isinstance(query, LocalFeatures) else list(query)
    best: dict[str, SceneMatch] = {}
    for qi, q in enumerate(queries):
        for cand in index.search(q, shortlist):
            feats = _lookup(feature_store, cand.media_id)
            if feats is None:
                continue
            v = verify(q, feats)
            if accepted_only and not v.accepted:
                continue
            prev = best.get(cand.media_id)
            if prev is None or v.inliers > prev.inliers:
                best[cand.media_id] = SceneMatch(cand.media_id, cand.rank, cand.score, v, qi > 0)
    ranked = sorted(best.values(), key=lambda m: (-m.inliers, m.retrieval_rank))
    return ranked[:k]
