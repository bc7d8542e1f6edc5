"""Same-place / same-marker search: retrieval shortlist, then geometric verification.

Two questions are answered from one verification:

* **Is it an edited copy?** (crop, small rotation, mirror, caption, overlay,
  letterbox bars.) A copy maps onto the other picture by one homography that
  covers most of one of the two frames, and a large share of its keypoints are
  re-detected in the same places. :attr:`SceneMatch.relation` is then ``"copy"``;
  triage reports it as ``near``. A copy must also be the same *picture*
  (:attr:`SceneMatch.same_picture`): after alignment its keypoints sit where the
  known picture's are, to a small fraction of each keypoint's own scale, and an
  affine map explains them; another photograph of the place (a step aside, a zoom
  through a real lens, people moving) leaves parallax and perspective.
* **Is it the same place or object?** Anything else that verifies (another
  viewpoint of the room, the same poster elsewhere) is ``"scene"``; triage lists it
  under "similar scenes".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from tessera.features.local import LocalFeatures
from tessera.features.retrieval import Candidate, SceneIndex
from tessera.features.verify import Box, Verification, verify

FeatureStore = Mapping[str, LocalFeatures] | Callable[[str], LocalFeatures | None]
Relation = Literal["copy", "scene"]

SHORTLIST = 30
"""Candidates verified per query; verification costs ~10-30 ms each."""

COPY_MIN_COVERAGE = 0.4
"""A copy's homography inliers span at least this share of the query's or the
candidate's keypoint extent (a crop covers most of itself; a picture pasted into a
screenshot covers most of the original)."""

COPY_MIN_FRACTION = 0.28
"""... and at least this share of the smaller keypoint set are inliers. Other
photos of the same scene re-detect fewer keypoints at consistent places.
Measured: the 41 AugLy copies of ``dfdc_1`` 0.31-1.0 (split-and-shuffle 0.27);
own crops, rotations, mirrors and captions 0.6-1.0; other photos of one scene
0.12 (Venice roofs), 0.20 (Graffiti 1-3), 0.21 (DVD cover); but camera zooms
and turns of a flat scene (Boat 1-2/1-3, Graffiti 1-2: 0.37-0.44) are
geometrically edited copies and are called copies."""


COPY_FULL_COVERAGE = 0.9
"""... or the inliers span this share of *both* pictures' detail, whatever the
fraction: a picture downscaled by half re-detects few keypoints at the same
scales (fraction 0.12-0.28 measured), but one homography still covers it all.
Other photos of a scene in the benchmark stay under it on at least one side."""


COPY_CLEAN_MATCHES = 0.93
COPY_CLEAN_MIN_FRACTION = 0.1
"""... or >= 93 % of the ratio-test matches are homography inliers (with >= 10 %
of keypoints): copies measured 0.93-1.0, other photos of a place 0.55-0.90
(bench_robust's sweep: copy recall 0.995 on 421 edits, 0 wrong, 9 same-place)."""


SAME_PICTURE_RESIDUAL = 0.08
"""Largest median inlier residual, in keypoint sizes (``Verification.residual``), of
a copy. Measured against compact stored features (``benchmarks/bench_same_picture.py``):
edits (crop, 4-degree rotation, mirror, 90-degree turn, caption, bars, overlay, half
size) of 21 shared photos and of generated pictures from 320x240 up, and 40 of
AugLy's 42 outputs: <= 0.05 (AugLy's skew 0.085 and change_aspect_ratio 0.20, both
anisotropic stretches, are scenes for local features; PDQ is blind to them); JPEG
q40: <= 0.074 for 19 of 21 photos, 0.089 and 0.099 for two small UKBench photos
(PDQ, which runs first, finds JPEG copies); other photographs of a place: Boat
zooms >= 0.108, Graffiti >= 0.099 (and perspective), TUM office frames and Sagrada
Familia views >= 0.13. Being a ratio to each keypoint's scale, it neither grows for small
pictures (the reverted 1,024-pixel bound did) nor depends on the inlier count. With
triage's copy-check keypoints (a picture shrunk to 320 pixels) the Boat zooms read
0.049-0.075: the copy check confirms such copies with full features
(``tessera.matching.triage.copies.CONFIRM_RESIDUAL``)."""

SAME_PICTURE_PERSPECTIVE = 1.25
"""... and, with at least :data:`SAME_PICTURE_MIN_INLIERS` inliers, the best affine
map of the inliers explains them nearly as well as the homography (its median
residual at most this many times the homography's, or within
:data:`SAME_PICTURE_PERSPECTIVE_MARGIN` of it): the edits a copy goes through
(crop, rotation, rescale, mirror, quarter turns, bars) are affine, a camera that
turned adds perspective. Measured: copies <= 1.14 with >= 80 inliers (<= 1.28 with
~25); Graffiti 2.2-9.3, a pan across the rendered ICL-NUIM room (frames four
apart, residual as small as a copy's: the same render, the same light) 1.36-1.64.
A software perspective warp (AugLy ``perspective_transform``, ``skew``) is
geometrically that camera turn and is called a scene too."""

SAME_PICTURE_PERSPECTIVE_MARGIN = 0.006
"""Affine excess (keypoint sizes) below which no perspective is read into the ratio
(copies with >= 100 inliers <= 0.004; the ICL-NUIM pan >= 0.013)."""

SAME_PICTURE_PROJECTIVE = 0.003
"""... and only when the homography itself carries perspective: its projective part
changes scale across the query's frame by at least this share
(``SceneMatch.perspective``). With ~100 inliers the median residuals' ratio can read
perspective into a homography that has next to none: a JPEG q80 copy of a 2,048-pixel
picture (the 100k seizure's ``f060022-reencode.jpg``) at ratio 1.32, excess 0.0076,
its homography changing scale by 0.11 %, was taken for another shot. Measured with
triage's copy-check keypoints (and full queries) against stored features: ICL-NUIM
frames four apart that the ratio decides >= 0.005; of 3,000 edited copies of the 100k
seizure (every edit class), that re-encode is the only one the ratio and excess call
perspective."""

SAME_PICTURE_MIN_INLIERS = 100
"""Inliers needed before perspective is judged: with a few dozen, a homography's
projective part is noise (the reverted 1.5-pixel corner bound read 4.4 pixels into
a plain crop of a 450x340 picture with 36 inliers)."""


SPARSE_SPAN = 0.25
FRAME_NESTED = 0.9
"""When the inliers span less than ``SPARSE_SPAN`` of the query's frame (one object on a
plain wall: its only keypoints), the homography places that object, not the picture; a
copy's frames are then still nested (``SceneMatch.frame_nesting`` >= ``FRAME_NESTED``),
while the same object moved on the same wall leaves them offset by the move
(bench_robust low-texture: moved 20-38 % of the side)."""


def _frame_nesting(
    h: NDArray[np.float64] | None, query: LocalFeatures, cand: LocalFeatures
) -> float:
    """``SceneMatch.frame_nesting`` of homography ``h`` (query to candidate)."""
    if h is None:
        return 1.0
    qw, qh, cw, ch = float(query.width), float(query.height), float(cand.width), float(cand.height)
    corners = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], np.float32)
    try:
        placed = cv2.perspectiveTransform(corners[None], h)[0].astype(np.float32)
    except cv2.error:
        return 0.0
    if not np.all(np.isfinite(placed)) or not cv2.isContourConvex(placed):
        return 0.0
    frame = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    inter, _ = cv2.intersectConvexConvex(placed, frame)
    smaller = min(abs(float(cv2.contourArea(placed))), cw * ch)
    return float(inter) / smaller if smaller > 0 else 0.0


def _perspective(h: NDArray[np.float64] | None, query: LocalFeatures) -> float:
    """``SceneMatch.perspective`` of homography ``h`` (query to candidate)."""
    if h is None or not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return 0.0
    row = h[2] / h[2, 2]
    w, hh = float(query.width), float(query.height)
    corners = np.array([[0, 0], [w, 0], [w, hh], [0, hh]], np.float64)
    denom = corners @ row[:2] + 1.0
    centre = float(np.array([w / 2, hh / 2]) @ row[:2] + 1.0)
    if abs(centre) < 1e-12:
        return float("inf")
    return float(np.max(np.abs(denom / centre - 1.0)))


def _area(box: Box) -> float:
    x0, y0, x1, y1 = box
    return max(0.0, (x1 - x0) * (y1 - y0))


def _area_share(box: Box | None, f: LocalFeatures) -> float:
    """Area of ``box`` over the area the picture's keypoints span (not the whole
    frame: a picture with flat regions has keypoints only where there is texture)."""
    if box is None or len(f) == 0:
        return 0.0
    lo, hi = f.xy.min(axis=0), f.xy.max(axis=0)
    span = _area((float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
    return min(1.0, _area(box) / span) if span > 0 else 0.0


@dataclass(frozen=True)
class SceneMatch:
    """A verified hit: which media, its retrieval rank/score, and the geometry."""

    media_id: str
    retrieval_rank: int
    retrieval_score: float
    verification: Verification
    mirrored: bool = False
    coverage_query: float = 0.0
    """Share of the query's keypoint extent spanned by the inliers."""
    coverage_candidate: float = 0.0
    """Share of the candidate's keypoint extent spanned by the inliers."""
    inlier_fraction: float = 0.0
    """Inliers over the smaller of the two keypoint counts."""
    inlier_span: float = 1.0
    """Share of the query's frame the inliers' bounding box spans."""
    frame_nesting: float = 1.0
    """Overlap of the query's frame, placed by the homography, and the candidate's frame,
    over the smaller of the two: 1 when one holds the other (a crop inside its
    original; an original inside bars, rotation corners or a screenshot)."""
    perspective: float = 0.0
    """How much the homography's projective part changes scale across the query's
    frame (largest relative change of its denominator from the centre to a corner):
    0 for an affine map, >= 0.005 for ICL-NUIM frames four apart (a camera pan)."""

    @property
    def inliers(self) -> int:
        return self.verification.inliers

    @property
    def same_picture(self) -> bool:
        """After alignment the two pictures agree where they overlap: the inliers sit
        where the homography puts them, to a small fraction of each keypoint's scale,
        and an affine map does as well (an edit adds no perspective). Another
        photograph of the place (parallax, lens, motion, a turned camera) does not."""
        v = self.verification
        if v.homography is None or v.residual > SAME_PICTURE_RESIDUAL:
            return False
        if (
            v.homography_inliers < SAME_PICTURE_MIN_INLIERS
            or self.perspective < SAME_PICTURE_PROJECTIVE
        ):
            return True
        excess = v.affine_residual - v.residual
        return (
            v.affine_residual <= SAME_PICTURE_PERSPECTIVE * v.residual
            or excess <= SAME_PICTURE_PERSPECTIVE_MARGIN
        )

    @property
    def other_shot(self) -> bool:
        """Strong evidence of another photograph, enough to overrule a global hash
        (PDQ) that calls the pair near: a homography with at least
        :data:`SAME_PICTURE_MIN_INLIERS` inliers that either carries perspective no
        affine edit makes (a camera pan across one render, PDQ 28 bits apart) or
        leaves twice a copy's residual, or places one object of a plain picture with
        the frames offset (the object moved). A JPEG-damaged copy (residual up to 0.1),
        an anisotropic stretch that verifies on few inliers, or a low-texture picture
        that does not verify keep the hash's verdict."""
        v = self.verification
        if v.homography is None or v.homography_inliers < SAME_PICTURE_MIN_INLIERS:
            return False
        if self.inlier_span < SPARSE_SPAN and self.frame_nesting < FRAME_NESTED:
            return True  # one object on a plain wall, moved: PDQ barely sees it
        return v.residual > 2 * SAME_PICTURE_RESIDUAL or (
            v.residual <= SAME_PICTURE_RESIDUAL and not self.same_picture
        )

    @property
    def relation(self) -> Relation | None:
        """``"copy"``, ``"scene"``, or ``None`` when verification did not accept."""
        v = self.verification
        if not v.accepted:
            return None
        if v.homography is None or not self.same_picture:
            return "scene"
        if self.inlier_span < SPARSE_SPAN and self.frame_nesting < FRAME_NESTED:
            return "scene"  # one object placed, not the picture: moved on the same wall
        if (
            max(self.coverage_query, self.coverage_candidate) >= COPY_MIN_COVERAGE
            and self.inlier_fraction >= COPY_MIN_FRACTION
        ):
            return "copy"
        if min(self.coverage_query, self.coverage_candidate) >= COPY_FULL_COVERAGE:
            return "copy"  # one homography over all of both: the same picture, resized
        if (
            v.matches
            and v.inliers / v.matches >= COPY_CLEAN_MATCHES
            and (self.inlier_fraction >= COPY_CLEAN_MIN_FRACTION)
        ):
            return "copy"  # nearly every descriptor match obeys the homography
        return "scene"


def match_pair(
    query: LocalFeatures,
    candidate: LocalFeatures,
    media_id: str,
    cand: Candidate | None = None,
) -> SceneMatch:
    """Verify one pair and measure what the copy/scene decision needs."""
    v = verify(query, candidate)
    smaller = max(1, min(len(query), len(candidate)))
    return SceneMatch(
        media_id,
        cand.rank if cand else 0,
        cand.score if cand else 0.0,
        v,
        query.mirrored,
        _area_share(v.region_in_query, query),
        _area_share(v.region_in_candidate, candidate),
        v.inliers / smaller,
        _area(v.region_in_query) / max(1.0, float(query.width * query.height))
        if v.region_in_query
        else 0.0,
        _frame_nesting(v.homography, query, candidate),
        _perspective(v.homography, query),
    )


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
    Verified hits come first by inlier count; with ``accepted_only=False`` the
    unverified rest of the shortlist follows in retrieval order (spatial
    re-ranking), so recall never drops below retrieval's.
    """
    queries = [query] if isinstance(query, LocalFeatures) else list(query)
    best: dict[str, SceneMatch] = {}
    for q in queries:
        for cand in index.search(q, shortlist):
            feats = _lookup(feature_store, cand.media_id)
            if feats is None:
                continue
            m = match_pair(q, feats, cand.media_id, cand)
            if accepted_only and not m.verification.accepted:
                continue
            prev = best.get(cand.media_id)
            if prev is None or m.inliers > prev.inliers:
                best[cand.media_id] = m
    ranked = sorted(
        best.values(),
        key=lambda m: (
            not m.verification.accepted,
            -m.inliers if m.verification.accepted else 0,
            m.retrieval_rank,
            -m.retrieval_score,
        ),
    )
    return ranked[:k]
