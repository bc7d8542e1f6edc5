"""Geometric verification of a candidate: ratio-test matching, then RANSAC.

``verify(query, candidate)`` matches RootSIFT descriptors (2-NN, Lowe ratio test,
one-to-one), fits a homography with OpenCV's USAC MAGSAC++ and, if the scene is
3-D (the homography explains too few matches), a fundamental matrix. The answer
carries the inlier count, the homography (or ``None``), the bounding box of the
inliers in each image and, with a homography, the query's extent projected into
the candidate (a quad: "where the poster is in the hit").

Acceptance (``Verification.accepted``) is ``homography_inliers >= MIN_INLIERS_H``
or ``fundamental_inliers >= MIN_INLIERS_F``; the thresholds are measured on
distractors (``tests/features``, ``benchmarks/bench_scenes.py``), see the module
constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from tessera.features.local import LocalFeatures

RATIO = 0.8
"""Lowe's ratio test on (squared-root) RootSIFT distances."""

MIN_INLIERS_H = 15
"""Homography inliers needed to accept. Measured: unrelated pairs (shared photos
+ generated pictures) reach at most 8 (see bench_scenes); true pairs in the
test sets have 20 to several hundred."""

MIN_INLIERS_F = 40
"""Fundamental-matrix inliers needed to accept a 3-D (non-planar) match. The
epipolar constraint is one-dimensional, so random matches pass it far more
often than a homography: unrelated pairs reach up to ~25."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Verification:
    """Outcome of geometric verification of one (query, candidate) pair."""

    inliers: int
    homography_inliers: int
    fundamental_inliers: int
    matches: int
    homography: NDArray[np.float64] | None
    region_in_candidate: Box | None
    region_in_query: Box | None
    quad_in_candidate: NDArray[np.float32] | None
    residual: float = float("inf")
    """Median distance between where the homography puts the query's inlier keypoints
    and where the candidate's are, *in units of the candidate keypoint's size*
    (SIFT's localisation error grows with the keypoint's scale, so this is the same
    number for a picture of any resolution and a keypoint of any scale). An edited
    copy is the same pixels resampled: measured <= 0.05 (crops, rotations, mirror,
    quarter turns, captions, bars, overlays, half size, AugLy's edits, generated
    pictures from 320x240 up), JPEG q40 up to 0.1; another photograph of a place has
    parallax, lens distortion and motion: Boat zooms >= 0.108, Graffiti >= 0.099, TUM
    office frames and Sagrada Familia views >= 0.13. ``inf`` without a homography."""
    affine_residual: float = float("inf")
    """The same for the best affine map of the inliers (least median of squares):
    an edit (crop, rotation, rescale, mirror, bars) is affine, so it fits as well as
    the homography; a camera that turned or moved adds perspective the affine map
    cannot follow (Graffiti 1-2, a pan across a room)."""

    @property
    def accepted(self) -> bool:
        return self.homography_inliers >= MIN_INLIERS_H or (
            self.fundamental_inliers >= MIN_INLIERS_F
        )


NO_MATCH = Verification(0, 0, 0, 0, None, None, None, None)


def match(query: LocalFeatures, candidate: LocalFeatures, ratio: float = RATIO) -> NDArray[np.intp]:
    """Ratio-test, one-to-one matches as an M x 2 array of (query idx, candidate idx).

    Exhaustive L2 nearest and second-nearest neighbours from one matrix product
    (the same pairs as OpenCV's brute-force knnMatch, several times faster). When
    either side is a codebook's reconstruction, its ``ratio_slack`` (the larger of the
    two) comes off both squared distances before the ratio is taken: quantisation
    error adds about the same to each, so without it true matches fail the test.
    """
    if len(query) < 2 or len(candidate) < 2:
        return np.zeros((0, 2), np.intp)
    q, c = query.float_desc(), candidate.float_desc()
    d2 = (q * q).sum(axis=1)[:, None] + (c * c).sum(axis=1)[None, :] - 2.0 * (q @ c.T)
    rows = np.arange(len(q))
    first = d2.argmin(axis=1)
    d_first = d2[rows, first].copy()
    d2[rows, first] = np.inf
    d_second = d2.min(axis=1)
    slack = max(query.ratio_slack, candidate.ratio_slack)
    dist = np.sqrt(np.maximum(d_first - slack, 0.0))
    ok = dist < ratio * np.sqrt(np.maximum(d_second - slack, 0.0))
    qi, ci, dist = rows[ok], first[ok], dist[ok]
    if len(qi) == 0:
        return np.zeros((0, 2), np.intp)
    # one-to-one: for each candidate keypoint keep the closest query keypoint
    order = np.argsort(dist, kind="stable")
    _, keep_first = np.unique(ci[order], return_index=True)
    keep = np.sort(order[keep_first])
    return np.stack([qi[keep], ci[keep]], axis=1).astype(np.intp)


def _box(pts: NDArray[np.float32]) -> Box:
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def _threshold(f: LocalFeatures) -> float:
    """Reprojection threshold in original pixels: ~3 px at 1024 px long side."""
    return max(3.0, 3.0 * max(f.width, f.height) / 1024.0)


def _sane(h: NDArray[np.float64]) -> bool:
    """Reject degenerate homographies (collapse, extreme scale, reflection)."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return False
    det = float(np.linalg.det(h[:2, :2] / h[2, 2]))
    return 1e-3 < det < 1e3


def _residuals(
    src: NDArray[np.float32],
    dst: NDArray[np.float32],
    h: NDArray[np.float64],
    size: NDArray[np.float64],
) -> tuple[float, float]:
    """Median reprojection error of the inliers under ``h`` and under their best
    affine map, each point's error over its keypoint size."""
    size = np.maximum(size, 0.5)
    proj = cv2.perspectiveTransform(src[None].astype(np.float64), h)[0]
    res = float(np.median(np.linalg.norm(proj - dst, axis=1) / size))
    a, _ = cv2.estimateAffine2D(src, dst, method=cv2.LMEDS)
    if a is None:
        return res, float("inf")
    fit = src.astype(np.float64) @ a[:, :2].T + a[:, 2]
    return res, float(np.median(np.linalg.norm(fit - dst, axis=1) / size))


def verify(query: LocalFeatures, candidate: LocalFeatures) -> Verification:
    """Match and geometrically verify ``query`` against ``candidate``."""
    pairs = match(query, candidate)
    n = len(pairs)
    if n < MIN_INLIERS_H:  # cannot reach the threshold: skip RANSAC (most negatives)
        return Verification(0, 0, 0, n, None, None, None, None)
    src = query.xy[pairs[:, 0]].astype(np.float32)
    dst = candidate.xy[pairs[:, 1]].astype(np.float32)
    thr = _threshold(candidate)
    # A mirrored query maps by a reflection; USAC rejects orientation-reversing
    # models, so fit on reflected query points and compose the reflection back.
    refl = np.eye(3)
    if query.mirrored != candidate.mirrored:
        refl = np.array([[-1.0, 0.0, query.width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    fit_src = cv2.perspectiveTransform(src[None], refl)[0].astype(np.float32)
    found, mask_h = cv2.findHomography(
        fit_src, dst, cv2.USAC_MAGSAC, thr, maxIters=2000, confidence=0.999
    )
    n_h = 0
    h: NDArray[np.float64] | None = None
    if found is not None and mask_h is not None and _sane(np.asarray(found, np.float64)):
        n_h = int(mask_h.sum())
        h = np.asarray(found, np.float64) @ refl
    n_f = 0
    mask_f: NDArray[np.uint8] | None = None
    if n >= MIN_INLIERS_F and (n_h < MIN_INLIERS_H or n_h < 0.5 * n):
        f, found_f = cv2.findFundamentalMat(src, dst, cv2.USAC_MAGSAC, thr, 0.999, 2000)
        if f is not None and found_f is not None and f.shape == (3, 3):
            mask_f = np.asarray(found_f, np.uint8)
            n_f = int(mask_f.sum())
    mask: NDArray[np.uint8] | None
    if n_h >= MIN_INLIERS_H or n_f < MIN_INLIERS_F:
        mask = None if mask_h is None else np.asarray(mask_h, np.uint8)
        best = n_h
    else:
        mask = mask_f
        best = n_f
    if mask is None or best == 0:
        return Verification(0, n_h, n_f, n, h, None, None, None)
    inl = mask.ravel().astype(bool)
    res, res_affine = float("inf"), float("inf")
    if h is not None and n_h >= MIN_INLIERS_H and best == n_h:
        size = candidate.size[pairs[inl, 1]].astype(np.float64)
        res, res_affine = _residuals(src[inl], dst[inl], h, size)
    quad = None
    if h is not None and n_h >= MIN_INLIERS_H:
        qb = _box(src[inl]) if best == n_h else (0.0, 0.0, query.width - 1.0, query.height - 1.0)
        corners = np.array(
            [[qb[0], qb[1]], [qb[2], qb[1]], [qb[2], qb[3]], [qb[0], qb[3]]], np.float32
        )
        quad = cv2.perspectiveTransform(corners[None], h)[0].astype(np.float32)
    return Verification(
        inliers=best,
        homography_inliers=n_h,
        fundamental_inliers=n_f,
        matches=n,
        homography=h if n_h >= MIN_INLIERS_H else None,
        region_in_candidate=_box(dst[inl]),
        region_in_query=_box(src[inl]),
        quad_in_candidate=quad,
        residual=res,
        affine_residual=res_affine,
    )
