"""ORB keypoints: a cheaper first tier for triage's copy check (issue 16 item 1).

Why: the copy check's RootSIFT of a 320-px picture costs 14-15 ms CPU a file, more
than the whole verdict budget at 0.6x ``tessera hash``, and most files of a seizure
are new pictures it checks for nothing. ORB (Rublee et al. 2011: FAST corners,
rotated BRIEF, 32-byte binary descriptors compared by Hamming distance) of the
picture at <= 640 px costs about a third of that, and on real photos (bench_robust's
edits of the shared originals and AugLy's outputs) it verifies as many edited copies
by homography inliers as the 320-px SIFT does (362 against 361 of 418, 0 of 95
negatives at >= 15 inliers, every stored picture tried; fewer on overlays), so a file
ORB finds nothing for could be left ``new`` without the SIFT, if a shortlist finds the
picture (``benchmarks/bench_orb_tier.py``; figures in the README, issue 16 item 1).

:func:`extract` takes a picture (RGB or grey), shrinks it so the long side is at most
``max_side`` and keeps ``nfeatures`` keypoints spread over the picture (a caption's
text would otherwise take most of them: :data:`SPREAD_CELLS`), with coordinates in the
``width`` x ``height`` frame of the full picture (the caller's decode may be reduced).
:func:`inliers` matches two sets (Hamming ratio test, one to one) and counts the
homography inliers (MAGSAC), the same rule as :func:`tessera.features.verify.verify`.

``to_bytes``/``from_bytes``: a pickle-free form, a 20-byte header (magic ``TSOB``,
version, count, width, height) then x and y in 1/65535ths of the frame (uint16) and the
descriptors: 36 bytes a keypoint (no size or angle: only homographies are fitted).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from tessera.errors import InvalidInput

try:  # faiss is a dependency; OpenCV's matcher stays as the fallback for builds without it
    import faiss

    HAVE_FAISS = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_FAISS = False

STORED_SIDE = 1024
"""Long side a stored picture's ORB is taken at."""

STORED_NFEATURES = 1000
"""Keypoints kept of a stored picture."""

QUERY_SIDE = 640
"""Long side a triaged file's ORB is taken at (measured: 3.8 ms CPU at load 18)."""

QUERY_NFEATURES = 500
"""Keypoints kept of a triaged file."""

SPREAD_CELLS = 8
"""Keypoints are spread over an 8 x 8 grid (:func:`_spread`). OpenCV's strongest
``nfeatures`` crowd onto a caption's or an overlay's text, whose corners are the
sharpest in the picture: with them a binary bag-of-words shortlist of 3 lost 14 of
45 captioned and 24 of 46 overlaid real photos that the 320-px SIFT finds; spread,
47 of 47 captions and 38 of 47 overlays were still found (benchmarks/bench_orb_tier.py,
README issue 16 item 1)."""

DETECT_FACTOR = 4
"""Corners detected per keypoint kept when spreading them."""

RATIO = 0.8
"""Hamming ratio test (nearest over second nearest)."""

DESC_BYTES = 32
_MAGIC = b"TSOB"
_VERSION = 1
_HEADER = struct.Struct("<4sHHIII")  # magic, version, reserved, count, width, height

UInt8Array = NDArray[np.uint8]
Float32Array = NDArray[np.float32]


@dataclass(frozen=True)
class OrbFeatures:
    """ORB keypoints of one picture: centres in full-picture pixels and descriptors."""

    xy: Float32Array
    desc: UInt8Array
    width: int
    height: int

    def __post_init__(self) -> None:
        n = self.xy.shape[0]
        if self.xy.shape != (n, 2) or self.desc.shape != (n, DESC_BYTES):
            raise InvalidInput("ORB features: xy must be N x 2 and desc N x 32")

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def to_bytes(self) -> bytes:
        n = len(self)
        w1, h1 = max(1, self.width - 1), max(1, self.height - 1)
        frac = self.xy.astype(np.float64) / np.array([w1, h1], np.float64)
        xy = np.clip(np.rint(frac * 65535.0), 0, 65535).astype("<u2")
        header = _HEADER.pack(_MAGIC, _VERSION, 0, n, self.width, self.height)
        return b"".join((header, xy.tobytes(), np.ascontiguousarray(self.desc).tobytes()))

    @classmethod
    def from_bytes(cls, data: bytes) -> OrbFeatures:
        if len(data) < _HEADER.size or data[:4] != _MAGIC:
            raise InvalidInput("ORB features: bad header", reason="invalid-features")
        _, version, _, n, width, height = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise InvalidInput(
                f"ORB features: unsupported version {version}", reason="invalid-features"
            )
        if len(data) != _HEADER.size + n * (4 + DESC_BYTES):
            raise InvalidInput(
                f"ORB features: {len(data)} bytes for {n} keypoints", reason="invalid-features"
            )
        xy_q = np.frombuffer(data, "<u2", n * 2, _HEADER.size).reshape(n, 2).astype(np.float32)
        w1, h1 = max(1, width - 1), max(1, height - 1)
        xy = (xy_q / np.float32(65535.0) * np.array([w1, h1], np.float32)).astype(np.float32)
        desc = np.frombuffer(data, np.uint8, n * DESC_BYTES, _HEADER.size + n * 4).reshape(
            n, DESC_BYTES
        )
        return cls(xy, desc.copy(), int(width), int(height))


def empty(width: int = 0, height: int = 0) -> OrbFeatures:
    return OrbFeatures(
        np.zeros((0, 2), np.float32), np.zeros((0, DESC_BYTES), np.uint8), width, height
    )


_ORB: dict[int, cv2.ORB] = {}


def _detector(nfeatures: int) -> cv2.ORB:
    orb = _ORB.get(nfeatures)
    if orb is None:
        orb = _ORB[nfeatures] = cv2.ORB.create(nfeatures=nfeatures)
    return orb


def extract(
    pixels: UInt8Array,
    *,
    max_side: int,
    nfeatures: int,
    width: int | None = None,
    height: int | None = None,
    cells: int = SPREAD_CELLS,
) -> OrbFeatures:
    """ORB of an RGB or grey picture at <= ``max_side`` px; coordinates in the
    ``width`` x ``height`` frame (default: the picture's own). ``cells``: keypoints
    spread over a grid of that many cells a side (0: OpenCV's strongest)."""
    if pixels.ndim == 3:
        if pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
            raise InvalidInput("ORB needs an H x W x 3 uint8 RGB or an H x W grey array")
        grey = np.asarray(cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), cv2.COLOR_RGB2GRAY))
    elif pixels.ndim == 2:
        grey = np.ascontiguousarray(pixels, dtype=np.uint8)
    else:
        raise InvalidInput("ORB needs an H x W x 3 uint8 RGB or an H x W grey array")
    h, w = grey.shape
    full_w, full_h = width or w, height or h
    if h < 32 or w < 32:
        return empty(full_w, full_h)
    scale = min(1.0, max_side / max(h, w))
    small = grey
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    det = _detector(nfeatures * DETECT_FACTOR if cells else nfeatures)
    kps = det.detect(small, None)
    if cells and len(kps) > nfeatures:
        kps = _spread(kps, small.shape, nfeatures, cells)
    kps, desc = det.compute(small, kps)
    if desc is None or len(kps) == 0:
        return empty(full_w, full_h)
    pts = np.array([kp.pt for kp in kps], np.float32).reshape(-1, 2)
    s = np.array([full_w / small.shape[1], full_h / small.shape[0]], np.float32)
    xy = ((pts + 0.5) * s - 0.5).astype(np.float32)
    return OrbFeatures(xy, np.asarray(desc, np.uint8), full_w, full_h)


def _spread(
    kps: Sequence[cv2.KeyPoint], shape: tuple[int, ...], n: int, cells: int
) -> list[cv2.KeyPoint]:
    """``n`` keypoints spread over a ``cells`` x ``cells`` grid: each cell's strongest,
    then each cell's second strongest, and so on (the strongest first at each rank)."""
    pts = np.array([kp.pt for kp in kps], np.float32).reshape(-1, 2)
    resp = np.array([kp.response for kp in kps], np.float64)
    cx = np.minimum((pts[:, 0] * cells / shape[1]).astype(np.int64), cells - 1)
    cy = np.minimum((pts[:, 1] * cells / shape[0]).astype(np.int64), cells - 1)
    cell = cy * cells + cx
    order = np.lexsort((-resp, cell))  # by cell, strongest first within it
    starts = np.flatnonzero(np.r_[True, cell[order][1:] != cell[order][:-1]])
    rank = np.empty(len(kps), np.int64)
    rank[order] = np.arange(len(kps)) - np.repeat(starts, np.diff(np.r_[starts, len(kps)]))
    keep = np.lexsort((-resp, rank))[:n]
    return [kps[int(i)] for i in keep]


def _two_nearest(query: UInt8Array, stored: UInt8Array) -> tuple[NDArray[np.int64], ...]:
    """Each query descriptor's nearest and second-nearest stored descriptor and their
    Hamming distances: (first, d_first, d_second). faiss's binary flat index on one
    thread (0.4 ms CPU for 500 x 1,000 descriptors, measured; OpenCV's brute-force
    matcher 1.6 ms, most of it building a Python object per match; faiss's OpenMP
    threads spin on a busy machine), else OpenCV's."""
    if HAVE_FAISS:
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            index = faiss.IndexBinaryFlat(DESC_BYTES * 8)
            index.add(np.ascontiguousarray(stored))
            dist, idx = index.search(np.ascontiguousarray(query), 2)
        finally:
            faiss.omp_set_num_threads(threads)
        return idx[:, 0].astype(np.int64), dist[:, 0].astype(np.int64), dist[:, 1].astype(np.int64)
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query, stored, k=2)  # pragma: no cover
    first = np.array([m[0].trainIdx for m in knn], np.int64)  # pragma: no cover
    d1 = np.array([m[0].distance for m in knn], np.int64)  # pragma: no cover
    d2 = np.array([m[1].distance for m in knn], np.int64)  # pragma: no cover
    return first, d1, d2  # pragma: no cover


def match(query: OrbFeatures, candidate: OrbFeatures, ratio: float = RATIO) -> NDArray[np.intp]:
    """Ratio-test, one-to-one matches as an M x 2 array of (query idx, candidate idx):
    for each candidate keypoint the closest query keypoint that passes the test."""
    if len(query) < 2 or len(candidate) < 2:
        return np.zeros((0, 2), np.intp)
    first, d1, d2 = _two_nearest(query.desc, candidate.desc)
    ok = np.flatnonzero(d1 < ratio * d2)
    if len(ok) == 0:
        return np.zeros((0, 2), np.intp)
    order = ok[np.argsort(d1[ok], kind="stable")]
    _, keep_first = np.unique(first[order], return_index=True)
    keep = np.sort(order[keep_first])
    return np.stack([keep, first[keep]], axis=1).astype(np.intp)


MIN_MATCHES = 6
"""Fewer ratio-test matches than this are not fitted (0 inliers)."""


def inliers(query: OrbFeatures, candidate: OrbFeatures) -> int:
    """Homography inliers (MAGSAC) of the two pictures' matches; 0 when too few."""
    pairs = match(query, candidate)
    if len(pairs) < MIN_MATCHES:
        return 0
    src = query.xy[pairs[:, 0]]
    dst = candidate.xy[pairs[:, 1]]
    thr = max(3.0, 3.0 * max(candidate.width, candidate.height) / 1024.0)
    found, mask = cv2.findHomography(
        src, dst, cv2.USAC_MAGSAC, thr, maxIters=2000, confidence=0.999
    )
    if found is None or mask is None:
        return 0
    return int(mask.sum())


__all__ = [
    "QUERY_NFEATURES",
    "QUERY_SIDE",
    "STORED_NFEATURES",
    "STORED_SIDE",
    "OrbFeatures",
    "extract",
    "inliers",
    "match",
]
