"""Letterbox / pillarbox detection: find the black (or any flat colour) bars of a video.

Why: PDQ hashes the whole frame, so a copy of a video that gained or lost bars
(a 9:16 phone clip padded into 16:9 or a square, a 4:3 transfer letterboxed for
widescreen) hashes to something unrelated: every vPDQ frame match is lost (0 %
on the ThreatExchange ``*-sd-bar`` vs ``hd-no-bar`` pairs). Cropping the bars
off before hashing brings them back (``pattern-sd-grey-bar`` vs
``pattern-hd-no-bar``: 0 % -> 100 % query and compared match, see
``tests/fingerprints/test_letterbox.py``).

Method. Every frame is reduced to luma and, for each row and each column, to a
*level* (the median along the line) and a *spread* (the 90th minus the 10th
percentile along the line; percentiles so that a channel logo covering under
~10 % of a bar line does not break the bar). Lines are judged over SEVERAL
frames, because one frame cannot tell a bar from a dark or flat scene:

* A frame whose every line is flat (black frame, fade) carries no evidence and
  is ignored.
* From each edge inwards, a line is *bar-like in a frame* when it is flat
  (``spread <= spread_tolerance``) and its level is within ``colour_tolerance``
  of the bar colour (the median level of the outermost line over the frames).
  It is a *bar line* when it is bar-like in at least ``bar_fraction`` (90 %) of
  the informative frames. The bar is the run of bar lines from the edge.
* The bar must end at content: one of the first three lines past it must vary
  (``spread > spread_tolerance``) in at least ``content_fraction`` of the
  frames; a bar wider than ``max_fraction`` of the side (40 %) or narrower than
  ``min_bar`` pixels is not trusted. In every unsure case that side is left
  uncropped: the full frame is the safe answer (it is what vPDQ hashes anyway).
* Opposite bars are NOT forced to be equal. Only when one side is found
  shorter than the other and the lines in between are bar-like in at least
  ``symmetric_fraction`` (50 %) of the frames (e.g. subtitles burnt into the
  lower bar in some frames) is the short side extended to match.

Rows are measured across the full width and columns down the full height, so
a frame boxed on all four sides is handled when all bars share one colour (the
usual case); differently coloured letterbox and pillarbox bars are found on one
axis only. A flat region of the picture that touches the edge and never changes
(a static shot of a white wall at the top, edges that are near-black in every
sampled frame) is indistinguishable from a bar and is cropped; that is
harmless for matching when both copies go through the same detector.
Everything is numpy on decoded ``H x W x 3`` uint8 RGB arrays; no I/O.

Static logos (optional step): ``static_overlay_mask`` finds the pixels that
stay constant while the rest of the picture moves (a broadcaster's bug, a
drawn-on overlay), and ``fill_mask`` paints them over from their surroundings
before hashing. On the ThreatExchange clips (bars cropped; every 4th frame),
the vPDQ query match goes from 0 % to 98 % for
``pattern-sd-with-large-logo-bar`` vs ``pattern-hd-no-bar`` and from 85 % to
100 % for the small logo; ``chair-22-with-large-logo-bar`` vs
``chair-orig-22-sd-bar`` from 9 % to 100 % (small logo 91 % -> 100 %). It
returns None (leave the frames alone) for static scenes, for still areas over
10 % of the frame and, on these samples, for every video without an overlay,
so it can run on every video; the decision is per video, from its own frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

UInt8Array = NDArray[np.uint8]
FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]

_LUMA = np.asarray((0.299, 0.587, 0.114), dtype=np.float32)
_MAX_SAMPLES_PER_LINE = 512
_CONTENT_LOOKAHEAD = 3
_MIN_STILL_NEIGHBOURS = 3


@dataclass(frozen=True, slots=True)
class CropBox:
    """Pixels to remove from each side of a frame (all zero = the full frame)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    def __post_init__(self) -> None:
        if min(self.top, self.bottom, self.left, self.right) < 0:
            raise ValueError(f"crop margins must be >= 0, got {self}")

    @property
    def is_full_frame(self) -> bool:
        """True when nothing is cropped."""
        return not (self.top or self.bottom or self.left or self.right)

    def content_shape(self, height: int, width: int) -> tuple[int, int]:
        """The ``(height, width)`` left after cropping a frame of the given size."""
        h = height - self.top - self.bottom
        w = width - self.left - self.right
        if h <= 0 or w <= 0:
            raise ValueError(f"{self} leaves nothing of a {height}x{width} frame")
        return h, w


FULL_FRAME = CropBox()


@dataclass(frozen=True, slots=True)
class BorderParams:
    """Tuning of the bar detector (defaults suit 8-bit decoded video)."""

    spread_tolerance: float = 8.0
    """Largest 10..90 percentile luma range along a line that still counts as flat."""
    colour_tolerance: float = 16.0
    """How far (luma levels) a bar line's level may be from the outermost line's."""
    bar_fraction: float = 0.9
    """Share of informative frames in which a line must be bar-like to be a bar."""
    content_fraction: float = 0.1
    """Share of frames in which the first content line must vary."""
    symmetric_fraction: float = 0.5
    """Relaxed share used only to extend a short side to match its opposite."""
    max_fraction: float = 0.4
    """Never crop more than this share of the height (width) from one side."""
    min_bar: int = 2
    """Bars narrower than this many pixels are ignored."""

    def __post_init__(self) -> None:
        if not 0.0 < self.max_fraction < 0.5:
            raise ValueError("max_fraction must be in (0, 0.5)")
        for name in ("bar_fraction", "content_fraction", "symmetric_fraction"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.min_bar < 1:
            raise ValueError("min_bar must be >= 1")


@dataclass
class _AxisStats:
    levels: list[FloatArray] = field(default_factory=list)
    spreads: list[FloatArray] = field(default_factory=list)


def _luma(rgb: UInt8Array) -> FloatArray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 array, got {rgb.dtype} {rgb.shape}")
    luma: FloatArray = rgb.astype(np.float32) @ _LUMA
    return luma


def _line_stats(luma: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median and 10..90 percentile range along axis 1, for each line (axis 0)."""
    step = max(1, luma.shape[1] // _MAX_SAMPLES_PER_LINE)
    q = np.quantile(luma[:, ::step], (0.1, 0.5, 0.9), axis=1).astype(np.float32)
    return q[1], q[2] - q[0]


class BorderDetector:
    """Accumulates per-line statistics of sampled frames; ``result()`` gives the crop.

    Feed frames spread over the whole video (e.g. 20-40 frames, one every few
    seconds): the decision is only as good as the variety of scenes it sees.
    Only two small arrays per frame are kept, never the frames.
    """

    def __init__(self, params: BorderParams | None = None) -> None:
        self.params = params or BorderParams()
        self._shape: tuple[int, int] | None = None
        self._rows = _AxisStats()
        self._cols = _AxisStats()

    @property
    def frames_seen(self) -> int:
        return len(self._rows.levels)

    @property
    def shape(self) -> tuple[int, int] | None:
        """``(height, width)`` of the frames seen so far."""
        return self._shape

    def add(self, rgb: UInt8Array) -> None:
        """Add one decoded ``H x W x 3`` uint8 RGB frame (all frames must share a size)."""
        shape = (int(rgb.shape[0]), int(rgb.shape[1]))
        if self._shape is None:
            self._shape = shape
        elif shape != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {shape}")
        luma = _luma(rgb)
        lv, sp = _line_stats(luma)
        self._rows.levels.append(lv)
        self._rows.spreads.append(sp)
        lv, sp = _line_stats(np.ascontiguousarray(luma.T))
        self._cols.levels.append(lv)
        self._cols.spreads.append(sp)

    def result(self) -> CropBox:
        """The crop box, or ``FULL_FRAME`` when there is no convincing bar."""
        if self._shape is None:
            return FULL_FRAME
        p = self.params
        row_l, row_s = np.stack(self._rows.levels), np.stack(self._rows.spreads)
        col_l, col_s = np.stack(self._cols.levels), np.stack(self._cols.spreads)
        # a frame in which every row and every column is flat says nothing
        informative = (row_s.max(axis=1) > p.spread_tolerance) | (
            col_s.max(axis=1) > p.spread_tolerance
        )
        if not informative.any():
            return FULL_FRAME
        top, bottom = _axis_pair(row_l[informative], row_s[informative], p)
        left, right = _axis_pair(col_l[informative], col_s[informative], p)
        return CropBox(top, bottom, left, right)


def _barlike(levels: FloatArray, spreads: FloatArray, p: BorderParams) -> FloatArray | None:
    """Per-line share of frames in which the line looks like the edge's bar.

    ``levels``/``spreads`` are frames x lines, line 0 at the edge. None when the
    edge line itself is not a bar.
    """
    flat = spreads <= p.spread_tolerance
    if flat[:, 0].mean() < p.bar_fraction:
        return None
    ref = float(np.median(levels[flat[:, 0], 0]))
    like = flat & (np.abs(levels - ref) <= p.colour_tolerance)
    share: FloatArray = like.mean(axis=0).astype(np.float32)
    return share


def _has_content_at(spreads: FloatArray, k: int, p: BorderParams) -> bool:
    ahead = spreads[:, k : k + _CONTENT_LOOKAHEAD]
    if ahead.shape[1] == 0:
        return False
    varies = (ahead > p.spread_tolerance).mean(axis=0)
    return bool((varies >= p.content_fraction).any())


def _run_length(share: FloatArray, threshold: float, limit: int) -> int:
    """Number of leading lines with ``share >= threshold``, looking at most limit+1."""
    below = np.flatnonzero(share[: limit + 1] < threshold)
    return int(below[0]) if below.size else limit + 1


def _side(
    levels: FloatArray, spreads: FloatArray, p: BorderParams
) -> tuple[int, FloatArray | None]:
    n = levels.shape[1]
    limit = int(p.max_fraction * n)
    share = _barlike(levels, spreads, p)
    if share is None:
        return 0, None
    k = _run_length(share, p.bar_fraction, limit)
    if k > limit or k < p.min_bar or not _has_content_at(spreads, k, p):
        return 0, share
    return k, share


def _extend(
    k: int, other: int, share: FloatArray | None, spreads: FloatArray, p: BorderParams
) -> int:
    """Extend a short side to its opposite's width if the lines between mostly are bar."""
    if share is None or other <= k:
        return k
    if bool((share[k:other] >= p.symmetric_fraction).all()) and _has_content_at(spreads, other, p):
        return other
    return k


def _axis_pair(levels: FloatArray, spreads: FloatArray, p: BorderParams) -> tuple[int, int]:
    """Bars at the start and end of one axis (rows: top/bottom; columns: left/right)."""
    rev_l, rev_s = levels[:, ::-1], spreads[:, ::-1]
    a, share_a = _side(levels, spreads, p)
    b, share_b = _side(rev_l, rev_s, p)
    a2 = _extend(a, b, share_a, spreads, p)
    b2 = _extend(b, a, share_b, rev_s, p)
    return a2, b2


def detect_borders(frames: Iterable[UInt8Array], params: BorderParams | None = None) -> CropBox:
    """Bars shared by a set of frames of one video (see the module doc)."""
    det = BorderDetector(params)
    for f in frames:
        det.add(f)
    return det.result()


def crop(rgb: UInt8Array, box: CropBox) -> UInt8Array:
    """The frame without its bars (a view; no copy)."""
    h, w = box.content_shape(int(rgb.shape[0]), int(rgb.shape[1]))
    return rgb[box.top : box.top + h, box.left : box.left + w]


# --- static overlays (logos) -------------------------------------------------------


def _box_sum(a: NDArray[np.float64], r: int) -> NDArray[np.float64]:
    """Sum over the (2r+1) x (2r+1) window around each pixel (zero outside), same shape."""
    pad = ((r + 1, r), (r + 1, r)) + ((0, 0),) * (a.ndim - 2)
    c = np.pad(a, pad).cumsum(axis=0).cumsum(axis=1)
    k = 2 * r + 1
    out: NDArray[np.float64] = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return out


def static_overlay_mask(
    frames: Iterable[UInt8Array],
    *,
    still_tolerance: float = 8.0,
    moving_tolerance: float = 12.0,
    max_area: float = 0.1,
    grow: int = 2,
) -> BoolArray | None:
    """Pixels of a static overlay (logo, bug, watermark) on a moving picture, or None.

    A pixel is *still* when its luma varies over the frames (standard
    deviation) by at most ``still_tolerance`` while the typical pixel varies
    by more than ``moving_tolerance`` (a static scene has no basis for calling
    anything an overlay), and at least 3 pixels of its 3 x 3 neighbourhood
    (itself included) are still (isolated pixels are chance). The still
    pixels, grown by ``grow`` pixels to cover anti-aliased edges, are the
    mask; if they exceed ``max_area`` of the frame
    (a tripod shot's background, not a logo) the answer is None. Crop bars
    first (they are static too), and feed frames from the whole video (10-30).
    Running sums only: memory is two float64 planes, whatever the frame count.
    """
    total: NDArray[np.float64] | None = None
    squares: NDArray[np.float64] | None = None
    n = 0
    for f in frames:
        luma = _luma(f).astype(np.float64)
        if total is None or squares is None:
            total, squares = np.zeros_like(luma), np.zeros_like(luma)
        elif luma.shape != total.shape:
            raise ValueError("frames differ in size")
        total += luma
        squares += luma * luma
        n += 1
    if total is None or squares is None or n < 3:
        return None
    mean = total / n
    sd = np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
    if float(np.median(sd)) <= moving_tolerance:
        return None
    still = sd <= still_tolerance
    # drop speckle: pixels that happen to hold still alone, not as part of a shape
    still &= _box_sum(still.astype(np.float64), 1) >= _MIN_STILL_NEIGHBOURS - 0.5
    if grow > 0:
        still = _box_sum(still.astype(np.float64), grow) > 0.5
    area = float(still.mean())
    if area == 0.0 or area > max_area:
        return None
    return still


def fill_mask(rgb: UInt8Array, mask: BoolArray, *, radius: int = 6, rounds: int = 8) -> UInt8Array:
    """A copy of ``rgb`` with the masked pixels painted from their surroundings.

    Normalised box averaging: each masked pixel takes the mean of the known
    pixels within ``radius``; pixels still unknown after a round use the ones
    filled before, up to ``rounds`` rounds (thin strokes fill in one round).
    Whatever is left takes the median colour of the frame. Only the mask's
    bounding box (plus ``radius``) is touched.
    """
    if mask.shape != rgb.shape[:2]:
        raise ValueError("mask and frame sizes differ")
    out = rgb.copy()
    if not mask.any():
        return out
    ys, xs = np.nonzero(mask)
    y0, y1 = max(0, int(ys.min()) - radius), min(rgb.shape[0], int(ys.max()) + radius + 1)
    x0, x1 = max(0, int(xs.min()) - radius), min(rgb.shape[1], int(xs.max()) + radius + 1)
    region = rgb[y0:y1, x0:x1].astype(np.float64)
    todo = mask[y0:y1, x0:x1].copy()
    known = (~todo).astype(np.float64)
    for _ in range(rounds):
        if not todo.any():
            break
        weight = _box_sum(known, radius)
        sums = _box_sum(region * known[..., None], radius)
        now = todo & (weight > 0)
        region[now] = sums[now] / weight[now][:, None]
        known[now] = 1.0
        todo &= ~now
    if todo.any():
        region[todo] = np.median(rgb.reshape(-1, 3), axis=0)
    out[y0:y1, x0:x1] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return out
