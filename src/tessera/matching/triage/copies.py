"""Step 4 (verdicts): the copy check, local features only where the hashes found nothing.

The cascade's cheap global checks (digests, PDQ and its dihedral variants) come first;
a still none of them matched is checked here with the few hundred keypoints the
hashing worker took from its already-decoded, shrunk picture
(``FileResult.copy_features``): retrieval's top ``COPY_SHORTLIST`` candidates are
verified in rank order, and the first verified **copy** (``SceneMatch.relation``)
makes the file ``near``. An edited copy ranks first in retrieval, so the other
candidates are rarely needed; scenes, markers, camera and GPS leads are the leads
stage's work (``tessera.matching.scene_triage.leads_stage``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tessera.features.local import LocalFeatures
from tessera.features.scene import match_pair
from tessera.matching.scene_store import SceneStore, parse_key
from tessera.matching.scene_triage import Related, describe_copy, match_detail
from tessera.pipeline.result import FileResult

COPY_SHORTLIST = 3
"""Candidates verified per file by the copy check (the leads stage verifies more)."""


def copy_of(scene: SceneStore, f: FileResult, shortlist: int = COPY_SHORTLIST) -> Related | None:
    """The first verified copy among retrieval's top ``shortlist`` for ``f``, or None."""
    if not f.copy_features:
        return None
    q = LocalFeatures.from_bytes(f.copy_features)
    if len(q) == 0:
        return None
    for cand in scene.candidates(q, shortlist)[: max(shortlist, 1)]:
        feats = scene.features_of(*parse_key(cand.media_id))
        if feats is None:
            continue
        m = match_pair(q, feats, cand.media_id, cand)
        if m.relation != "copy":
            continue
        media_id, position = parse_key(cand.media_id)
        detail = match_detail(m)
        if position:
            detail["time_s"] = round((position - 1) / 1000, 3)
        detail["reason"] = describe_copy(m, q, (feats.width, feats.height))
        detail["stage"] = "verdicts"
        return Related(media_id, "copy", detail)
    return None


def copy_check(
    scene: SceneStore,
    files: Sequence[tuple[int, FileResult]],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[dict[int, list[Related]], frozenset[int]]:
    """Copies found per item index, and the items the check failed on (their hash
    verdict stands; the leads stage still searches them)."""
    found: dict[int, list[Related]] = {}
    failed: set[int] = set()
    for i, f in files:
        try:
            hit = copy_of(scene, f)
        except Exception:  # OpenCV or a damaged stored blob: this file, not the run
            failed.add(i)
            hit = None
        if hit is not None:
            found[i] = [hit]
        if on_progress:
            on_progress(1)
    return found, frozenset(failed)


__all__ = ["COPY_SHORTLIST", "copy_check", "copy_of"]
