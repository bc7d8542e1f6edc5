"""Step 4 (verdicts): the copy check, local features only where the hashes found nothing.

The cascade's cheap global checks (digests, PDQ and its dihedral variants) come first;
a still none of them matched is checked here with the few hundred keypoints the
hashing worker took from its already-decoded, shrunk picture
(``FileResult.copy_features``): retrieval's top ``COPY_SHORTLIST`` candidates are
verified in rank order, and the first verified **copy** (``SceneMatch.relation``)
makes the file ``near``. An edited copy ranks first in retrieval, so the other
candidates are rarely needed; scenes, markers, camera and GPS leads are the leads
stage's work (``tessera.matching.scene_triage.leads_stage``).

:func:`copy_check` takes a chunk of files at once: their shortlists first, then every
candidate's stored features in one database query, each decoded once however many
files' shortlists it is in. Read one at a time (a session and a query per candidate,
three a file) the reads cost about as much CPU as the verification itself, and most
of a seizure is new pictures whose three candidates are all read for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tessera.features.local import LocalFeatures
from tessera.features.retrieval import Candidate
from tessera.features.scene import SAME_PICTURE_RESIDUAL, SceneMatch, match_pair
from tessera.matching.scene_store import SceneStore, doc_key, parse_key
from tessera.matching.scene_triage import Related, describe_copy, match_detail
from tessera.pipeline.result import FileResult

COPY_SHORTLIST = 3
"""Candidates verified per file by the copy check (the leads stage verifies more)."""

CONFIRM_RESIDUAL = 0.045
"""A copy the 320-pixel keypoints verify with a median residual above this (in
keypoint sizes, ``Verification.residual``) counts only once the file's full local
features, read again (``Confirm``), do not show another shot. A keypoint of a picture
shrunk to 320 pixels spans several of the stored picture's pixels, so the parallax of
another shot hides under it: camera zooms and turns of the Boat scene verify as copies
at residual 0.049-0.075 with these keypoints (0.11-0.14 with full features, where
copies stay <= 0.05). Measured (``benchmarks/bench_same_picture.py``): 576 of 2,670
copy-check copies of the 100k seizure's edited copies lie above it (crops and 3-degree
rotations most), and full features confirm all 576."""

CONFIRM_OTHER_RESIDUAL = 0.105
"""Full features take a copy for another shot only with positive evidence: not the
same picture (``SceneMatch.same_picture``) by perspective, or by a residual above
this. Between ``SAME_PICTURE_RESIDUAL`` (0.08) and this lie copies whose full
features are a little off, which stay copies as the 320-pixel check found them: the
100k seizure's ``f071454-rotate3.jpg`` (a 3-degree rotation of a picture with 198
stored keypoints) reads 0.0825, JPEG q40 copies of small photos up to 0.104
(``bench_same_picture.py``); the Boat zooms read 0.110-0.145. Nor does a copy fall
for a low inlier share alone (``f036578-crop.jpg``: 27 % of 136 keypoints, same
picture): measured on the 100k verdicts, those two were the only copies of 3,422
confirmations that a plain ``relation == "scene"`` would have dropped."""

CONFIRMED = "full-features"
"""``detail["confirmed"]`` of a copy the file's full features confirmed."""

UNCONFIRMED = "not-read-again"
"""``detail["confirmed"]`` of a copy that needed confirming but whose file could not be
read again (gone, changed, or a member of a compressed tar, 7z or compressed stream
over 64 MiB: see ``tessera.pipeline.reread``): found by the 320-pixel keypoints
alone, it may be another shot of the place."""

Stored = Callable[[str], LocalFeatures | None]
"""A candidate's stored features by its document key (None: none stored any more)."""

Confirm = Callable[[FileResult], LocalFeatures | None]
"""A file's full local features (the picture as it is, as the leads stage takes them),
read again; None when it cannot be read again (the copy found stands, marked
``UNCONFIRMED``)."""


def _query(
    scene: SceneStore, f: FileResult, shortlist: int
) -> tuple[LocalFeatures, list[Candidate]] | None:
    """``f``'s copy-check keypoints and retrieval's top ``shortlist`` for them."""
    if not f.copy_features:
        return None
    q = LocalFeatures.from_bytes(f.copy_features)
    if len(q) == 0:
        return None
    return q, scene.candidates(q, shortlist)[: max(shortlist, 1)]


class _Full:
    """A file's full features, read again at most once however many candidates ask."""

    def __init__(self, f: FileResult, confirm: Confirm | None) -> None:
        self._f, self._confirm = f, confirm
        self._done = confirm is None
        self._feats: LocalFeatures | None = None

    @property
    def asked(self) -> bool:
        """Whether there is a way to read the file again (a confirmation to make)."""
        return self._confirm is not None

    def __call__(self) -> LocalFeatures | None:
        if not self._done:
            self._done = True
            assert self._confirm is not None
            feats = self._confirm(self._f)
            self._feats = feats if feats is not None and len(feats) else None
        return self._feats


def shows_another_shot(full: SceneMatch) -> bool:
    """Whether the full features' match shows another photograph of the place (see
    ``CONFIRM_OTHER_RESIDUAL``), not merely a weaker verification."""
    v = full.verification
    if v.homography is None or full.same_picture:
        return False
    return v.residual <= SAME_PICTURE_RESIDUAL or v.residual > CONFIRM_OTHER_RESIDUAL


def _first_copy(
    q: LocalFeatures, cands: Sequence[Candidate], stored: Stored, full: _Full
) -> Related | None:
    """The first candidate, in rank order, that verifies as an edited copy of ``q``
    (above ``CONFIRM_RESIDUAL``, and not shown to be another shot by ``full``)."""
    for cand in cands:
        feats = stored(cand.media_id)
        if feats is None:
            continue
        m = match_pair(q, feats, cand.media_id, cand)
        if m.relation != "copy":
            continue
        query, confirmed = q, ""
        if m.verification.residual > CONFIRM_RESIDUAL and full.asked:
            confirmed = UNCONFIRMED
            if (fq := full()) is not None:
                fm = match_pair(fq, feats, cand.media_id, cand)
                if shows_another_shot(fm):
                    continue  # the same place, another shot: a lead, not a copy
                confirmed = ""
                if fm.relation == "copy":
                    m, query, confirmed = fm, fq, CONFIRMED
        media_id, position = parse_key(cand.media_id)
        detail = match_detail(m)
        if position:
            detail["time_s"] = round((position - 1) / 1000, 3)
        detail["reason"] = describe_copy(m, query, (feats.width, feats.height))
        detail["stage"] = "verdicts"
        if confirmed:
            detail["confirmed"] = confirmed
        return Related(media_id, "copy", detail)
    return None


def copy_of(
    scene: SceneStore,
    f: FileResult,
    shortlist: int = COPY_SHORTLIST,
    confirm: Confirm | None = None,
) -> Related | None:
    """The first verified copy among retrieval's top ``shortlist`` for ``f``, or None."""
    found = _query(scene, f, shortlist)
    if found is None:
        return None
    q, cands = found
    return _first_copy(q, cands, lambda key: scene.features_of(*parse_key(key)), _Full(f, confirm))


class _ChunkStore:
    """The stored features of a chunk's candidates: read in one query, each decoded
    when first needed (a file that is a copy of its first candidate never decodes the
    other two) and kept for the chunk only."""

    def __init__(self, scene: SceneStore, keys: Sequence[str]) -> None:
        self._blobs = {
            doc_key(m, p): blob
            for (m, p), blob in scene.blobs_of(sorted({parse_key(k) for k in keys})).items()
        }
        self._decoded: dict[str, LocalFeatures] = {}

    def __call__(self, key: str) -> LocalFeatures | None:
        feats = self._decoded.get(key)
        if feats is None:
            blob = self._blobs.get(key)
            if blob is None:
                return None
            feats = self._decoded[key] = LocalFeatures.from_bytes(blob)
        return feats


def copy_check(
    scene: SceneStore,
    files: Sequence[tuple[int, FileResult]],
    *,
    on_progress: Callable[[int], None] | None = None,
    shortlist: int = COPY_SHORTLIST,
    confirm: Confirm | None = None,
) -> tuple[dict[int, list[Related]], frozenset[int]]:
    """Copies found per item index, and the items the check failed on (their hash
    verdict stands; the leads stage still searches them). ``confirm`` reads a file's
    full features again for a copy found above ``CONFIRM_RESIDUAL``; without it such a
    copy stands as found."""
    found: dict[int, list[Related]] = {}
    failed: set[int] = set()
    queries: list[tuple[int, LocalFeatures, list[Candidate]]] = []
    for i, f in files:
        try:
            query = _query(scene, f, shortlist)
        except Exception:  # a damaged keypoint blob: this file, not the run
            failed.add(i)
            continue
        if query is not None:
            queries.append((i, *query))
    try:
        stored: Stored = _ChunkStore(scene, [c.media_id for _, _, cs in queries for c in cs])
    except Exception:  # the database read: every file of the chunk, as one by one
        failed.update(i for i, _, _ in queries)
        queries = []
    by_index = dict(files)
    for i, q, cands in queries:
        try:
            hit = _first_copy(q, cands, stored, _Full(by_index[i], confirm))
        except Exception:  # OpenCV or a damaged stored blob: this file, not the run
            failed.add(i)
            hit = None
        if hit is not None:
            found[i] = [hit]
    if on_progress:
        on_progress(len(files))
    return found, frozenset(failed)


__all__ = [
    "CONFIRMED",
    "CONFIRM_OTHER_RESIDUAL",
    "CONFIRM_RESIDUAL",
    "COPY_SHORTLIST",
    "UNCONFIRMED",
    "Confirm",
    "copy_check",
    "copy_of",
    "shows_another_shot",
]
