"""Segment matching: where (and at what time offset) a query clip occurs in another video.

vPDQ compares two videos as bags of frame hashes: order and timestamps are
ignored, so it cannot say *where* a clip sits in a longer video, and its
percentages depend on the sampling phase (ThreatExchange ``chair-19`` vs
``chair-20``, shorter cuts of one clip: 100 % with every frame hashed, 10 %
at 1 frame/s because the two samplings fall 0.2 s apart on fast handheld
footage). This module uses the timestamps.

Method (``find_segments``):

1. Frames below ``min_quality`` (50) are dropped. Every query/compared frame
   pair within PDQ distance ``max_distance`` (31) is a *candidate pair*
   (vectorised XOR and ``np.bitwise_count``, in blocks; fine for a few thousand
   frames per side). Pairs from an index can be given instead
   (``segments_from_pairs``), so the method scales past brute force.
2. Each pair votes for the time offset ``compared_t - query_t``. Votes are
   counted in ``bin_s`` (0.5 s) bins, each query frame at most once per bin
   (a static shot that matches many compared frames does not outvote motion),
   and smoothed over neighbouring bins. The strongest bin is refined to the
   median offset of its pairs (best pair per query frame).
3. At that offset, each query frame takes its best pair whose offset is within
   ``offset_tolerance_s`` (1 s, which absorbs a sampling-phase difference of up
   to one frame interval of 1 frame/s sampling). With ``verify_distance`` set
   (default 45), query frames that had no strict pair may still match: the
   closest compared frame within ``verify_window_s`` (1 s) of the predicted
   time ``t + offset`` is accepted at that looser distance. Once strict matches
   fix the offset, an unrelated frame landing at the predicted time *and*
   within 45 bits is unlikely (random PDQ pairs are ~128 +- 8 bits apart).
4. The matched query frames are chained in time order into runs, cutting where
   two consecutive matches are more than ``max_gap_s`` (3 s) apart. A run with
   at least ``min_frames`` matched frames (3), of which at least
   ``min_strict`` (1) are strict, becomes a ``Segment``. Without verification
   all ``min_frames`` must be strict.
5. The pairs near that offset are removed and the next peak is taken, until no
   peak has ``min_strict`` votes or enough segments are found. A segment whose
   query span and compared span both lie mostly inside a stronger segment's is
   a "shadow" (static stretches also align at nearby wrong offsets) and is
   dropped; a repeat (same query material at another place of the compared
   video) is kept. Segments are returned longest first (matched duration, then
   matched frames).

Output extents are those of the *matched* frames; ``aligned_window`` gives the
stretch the offset implies, clipped to both videos' spans (what *could* match).

Measured on the ThreatExchange sample hashes (see also
``tests/fingerprints/test_segments.py``): with every frame, offsets are exact
(chair-19 in chair-20: 1.700 s, 564 of 564 frames). Of the 52 ordered pairs of
related clips that match with every frame, at 1 frame/s with sampling phases
0 and 15 (frame numbers mod 30) 19 still give a segment, all within 0.53 s of
the every-frame offset (bag-of-hashes vPDQ falls to 5-16 % there); phases 15/0:
20, phases 0/0: 31. No segment at all in 2660 runs over unrelated pairs (every
frame, 1 frame/s in three phase combinations, 10 frame/s).

Limits:

* Same playback speed only. A different frame rate is fine (times are in
  seconds), but a speed change (PAL speed-up 24 -> 25 fps = 4 %) drifts the
  offset by 2.4 s per minute; long segments then break into several pieces at
  slightly different offsets. A Hough vote over (speed, offset) would fix it.
* Evidence is per-frame PDQ: a letterbox change or crop, a mirror, heavy
  overlays remove it (crop bars first: ``tessera.fingerprints.letterbox``).
* Fast motion with sparse sampling leaves little evidence. On the handheld
  ThreatExchange clips, frames 0.2 s apart are often ~100 bits apart, so at
  1 frame/s with different phases only ~10-25 % of frames match; two such
  matches at a consistent offset suffice to find the offset, but the extents
  then cover only the stretch between the first and last matched frame.
* Static shots spread votes over many offsets; the offset of a segment that is
  static throughout is ambiguous within the static stretch.
* Looping or repeated content gives several segments at different offsets
  (that is reported, not resolved).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
HashArray = NDArray[np.uint64]

_PDQ_BYTES = 32
_BLOCK_ELEMENTS = 1 << 22
_MAX_PEAKS = 200


class TimedHash(NamedTuple):
    """One hashed frame: time in seconds, 32-byte PDQ, PDQ quality (0..100)."""

    timestamp: float
    pdq: bytes
    quality: int


@runtime_checkable
class HasTimedHash(Protocol):
    """Anything with ``timestamp``, ``pdq`` and ``quality`` (e.g. a vPDQ frame hash)."""

    @property
    def timestamp(self) -> float: ...
    @property
    def pdq(self) -> bytes: ...
    @property
    def quality(self) -> int: ...


FrameLike: TypeAlias = TimedHash | HasTimedHash | tuple[float, bytes, int]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the query found in the compared video.

    Times are seconds on each video's own clock. ``offset_s`` = compared time -
    query time (median over the matched pairs). ``matched_duration_s`` =
    ``query_end - query_start``. ``score`` is the share of the query's usable
    frames inside ``[query_start, query_end]`` that matched (0..1).
    ``strict_frames`` of the ``matched_frames`` matched within the strict
    distance; the rest were verified at the looser distance at this offset.
    """

    query_start: float
    query_end: float
    compared_start: float
    compared_end: float
    matched_duration_s: float
    matched_frames: int
    offset_s: float
    score: float
    strict_frames: int = 0
    mean_distance: float = 0.0


@dataclass(frozen=True, slots=True)
class _Frames:
    times: FloatArray
    hashes: HashArray  # n x 4 uint64
    index: IntArray  # positions in the caller's sequence


def _as_timed(f: FrameLike) -> TimedHash:
    if isinstance(f, TimedHash):
        return f
    # attributes first: a named tuple with other fields (frame number...) is a tuple too
    if isinstance(f, HasTimedHash):
        return TimedHash(float(f.timestamp), bytes(f.pdq), int(f.quality))
    if isinstance(f, tuple) and len(f) == 3:
        t, h, q = f
        return TimedHash(float(t), bytes(h), int(q))
    raise TypeError(f"expected (timestamp, pdq, quality) or an object with them, got {f!r}")


def _prepare(frames: Sequence[FrameLike], min_quality: int) -> _Frames:
    timed = [_as_timed(f) for f in frames]
    keep = [i for i, f in enumerate(timed) if f.quality >= min_quality]
    for i in keep:
        if len(timed[i].pdq) != _PDQ_BYTES:
            raise ValueError(f"frame {i}: PDQ hash must be 32 bytes, got {len(timed[i].pdq)}")
    raw = b"".join(timed[i].pdq for i in keep)
    hashes = (
        np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4) if keep else np.zeros((0, 4), np.uint64)
    )
    times = np.asarray([timed[i].timestamp for i in keep], dtype=np.float64)
    return _Frames(times, hashes, np.asarray(keep, dtype=np.int64))


def aligned_window(
    offset_s: float, query_span: tuple[float, float], compared_span: tuple[float, float]
) -> tuple[float, float] | None:
    """The query-time stretch that has a counterpart in the compared video at ``offset_s``.

    ``query_span``/``compared_span`` are each video's first and last sampled
    time. None when they do not overlap at that offset. Compare with a
    segment's matched extent to see how much of the possible overlap matched.
    """
    start = max(query_span[0], compared_span[0] - offset_s)
    end = min(query_span[1], compared_span[1] - offset_s)
    return (start, end) if end >= start else None


def pair_distances(
    query: HashArray, compared: HashArray, max_distance: int
) -> tuple[IntArray, IntArray, IntArray]:
    """All ``(i, j, distance)`` with ``distance(query[i], compared[j]) <= max_distance``.

    Hashes are ``n x 4`` uint64 rows (32 bytes each, any fixed byte order on
    both sides). Brute force in blocks of rows.
    """
    qi_parts: list[IntArray] = []
    ci_parts: list[IntArray] = []
    d_parts: list[IntArray] = []
    m = compared.shape[0]
    if query.shape[0] == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    rows = max(1, _BLOCK_ELEMENTS // (4 * m))
    for r0 in range(0, query.shape[0], rows):
        block = query[r0 : r0 + rows]
        dist = np.bitwise_count(block[:, None, :] ^ compared[None, :, :]).sum(
            axis=2, dtype=np.int64
        )
        i, j = np.nonzero(dist <= max_distance)
        qi_parts.append(i.astype(np.int64) + r0)
        ci_parts.append(j.astype(np.int64))
        d_parts.append(dist[i, j])
    return np.concatenate(qi_parts), np.concatenate(ci_parts), np.concatenate(d_parts)


def find_segments(
    query: Sequence[FrameLike],
    compared: Sequence[FrameLike],
    *,
    max_distance: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
    bin_s: float = 0.5,
    offset_tolerance_s: float = 1.0,
    max_gap_s: float = 3.0,
    min_frames: int = 3,
    min_strict: int = 1,
    verify_distance: int | None = 45,
    verify_window_s: float = 1.0,
    max_segments: int = 10,
) -> list[Segment]:
    """Segments of ``query`` found in ``compared`` (brute-force candidate pairs).

    ``query``/``compared``: ``TimedHash``, ``(timestamp_s, pdq, quality)`` tuples
    or objects with those attributes, in any order. See the module doc.
    """
    q = _prepare(query, min_quality)
    c = _prepare(compared, min_quality)
    qi, ci, d = pair_distances(q.hashes, c.hashes, max_distance)
    return _segments(
        q, c, qi, ci, d,
        bin_s=bin_s,
        offset_tolerance_s=offset_tolerance_s,
        max_gap_s=max_gap_s,
        min_frames=min_frames,
        min_strict=min_strict,
        verify_distance=verify_distance,
        verify_window_s=verify_window_s,
        max_segments=max_segments,
    )  # fmt: skip


def segments_from_pairs(
    query: Sequence[FrameLike],
    compared: Sequence[FrameLike],
    pairs: Iterable[tuple[int, int, int]],
    *,
    min_quality: int = QUALITY_THRESHOLD,
    bin_s: float = 0.5,
    offset_tolerance_s: float = 1.0,
    max_gap_s: float = 3.0,
    min_frames: int = 3,
    min_strict: int = 1,
    verify_distance: int | None = 45,
    verify_window_s: float = 1.0,
    max_segments: int = 10,
) -> list[Segment]:
    """Like ``find_segments`` with candidate pairs supplied (e.g. by a PDQ index).

    ``pairs`` are ``(query_position, compared_position, distance)`` with
    positions into the given sequences. Pairs touching a frame below
    ``min_quality`` are ignored.
    """
    q = _prepare(query, min_quality)
    c = _prepare(compared, min_quality)
    qpos = np.full(len(query), -1, dtype=np.int64)
    qpos[q.index] = np.arange(len(q.index))
    cpos = np.full(len(compared), -1, dtype=np.int64)
    cpos[c.index] = np.arange(len(c.index))
    arr = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 3)
    qi, ci = qpos[arr[:, 0]], cpos[arr[:, 1]]
    ok = (qi >= 0) & (ci >= 0)
    return _segments(
        q, c, qi[ok], ci[ok], arr[ok, 2],
        bin_s=bin_s,
        offset_tolerance_s=offset_tolerance_s,
        max_gap_s=max_gap_s,
        min_frames=min_frames,
        min_strict=min_strict,
        verify_distance=verify_distance,
        verify_window_s=verify_window_s,
        max_segments=max_segments,
    )  # fmt: skip


def _peak_offset(qi: IntArray, delta: FloatArray, d: IntArray, bin_s: float) -> tuple[float, int]:
    """The most-voted offset (refined) and its smoothed vote count."""
    b = np.floor(delta / bin_s).astype(np.int64)
    lo = int(b.min())
    b -= lo
    n_q = int(qi.max()) + 1
    uniq = np.unique(b * n_q + qi)  # one vote per (bin, query frame)
    votes = np.bincount(uniq // n_q, minlength=int(b.max()) + 1)
    smooth = np.convolve(votes, np.ones(3, dtype=np.int64), mode="same")
    peak = int(np.argmax(smooth))
    centre = (peak + lo + 0.5) * bin_s
    near = np.abs(delta - centre) <= 1.5 * bin_s
    # best pair per query frame near the peak: smallest distance, then closest offset
    order = np.lexsort((np.abs(delta[near] - centre), d[near], qi[near]))
    sel_q = qi[near][order]
    first = np.ones(len(sel_q), dtype=bool)
    first[1:] = sel_q[1:] != sel_q[:-1]
    offset = float(np.median(delta[near][order][first]))
    return offset, int(smooth[peak])


def _segments(
    q: _Frames,
    c: _Frames,
    qi: IntArray,
    ci: IntArray,
    d: IntArray,
    *,
    bin_s: float,
    offset_tolerance_s: float,
    max_gap_s: float,
    min_frames: int,
    min_strict: int,
    verify_distance: int | None,
    verify_window_s: float,
    max_segments: int,
) -> list[Segment]:
    if bin_s <= 0 or offset_tolerance_s <= 0 or max_gap_s < 0:
        raise ValueError("bin_s and offset_tolerance_s must be > 0, max_gap_s >= 0")
    if min_strict < 1 or min_frames < min_strict:
        raise ValueError("need 1 <= min_strict <= min_frames")
    if verify_distance is None:
        min_strict = min_frames  # nothing else can add frames
    out: list[Segment] = []
    delta = c.times[ci] - q.times[qi]
    alive = np.ones(len(qi), dtype=bool)
    for _ in range(_MAX_PEAKS):
        if len(out) >= 4 * max_segments or not alive.any():
            break
        offset, votes = _peak_offset(qi[alive], delta[alive], d[alive], bin_s)
        if votes < min_strict:
            break
        near = alive & (np.abs(delta - offset) <= offset_tolerance_s)
        if not near.any():  # cannot happen (the peak's own pairs are near); never spin
            break
        alive &= ~near
        out.extend(
            _chain(
                q,
                c,
                qi[near],
                ci[near],
                d[near],
                offset=offset,
                max_gap_s=max_gap_s,
                min_frames=min_frames,
                min_strict=min_strict,
                verify_distance=verify_distance,
                verify_window_s=verify_window_s,
            )
        )
    # strongest first; drop "shadows": a weaker alignment of material that a
    # stronger segment already pairs up (both its query and its compared span
    # mostly inside the stronger one's), as static stretches produce
    out.sort(key=lambda s: (-s.strict_frames, -s.matched_frames, s.query_start))
    kept: list[Segment] = []
    for seg in out:
        if not any(_is_shadow(seg, k) for k in kept):
            kept.append(seg)
    kept.sort(key=lambda s: (-s.matched_duration_s, -s.matched_frames, s.query_start))
    return kept[:max_segments]


def _covered(a0: float, a1: float, b0: float, b1: float) -> bool:
    """At least half of [a0, a1] lies inside [b0, b1] (a point: inside)."""
    inter = min(a1, b1) - max(a0, b0)
    if a1 - a0 <= 0:
        return inter >= 0
    return inter >= 0.5 * (a1 - a0)


def _is_shadow(seg: Segment, stronger: Segment) -> bool:
    return _covered(
        seg.query_start, seg.query_end, stronger.query_start, stronger.query_end
    ) and _covered(
        seg.compared_start, seg.compared_end, stronger.compared_start, stronger.compared_end
    )


def _chain(
    q: _Frames,
    c: _Frames,
    qi: IntArray,
    ci: IntArray,
    d: IntArray,
    *,
    offset: float,
    max_gap_s: float,
    min_frames: int,
    min_strict: int,
    verify_distance: int | None,
    verify_window_s: float,
) -> list[Segment]:
    """Segments at one offset from its strict pairs (plus verified frames)."""
    # best strict pair per query frame: smallest distance, then closest to the offset
    order = np.lexsort((np.abs(c.times[ci] - q.times[qi] - offset), d, qi))
    qi, ci, d = qi[order], ci[order], d[order]
    first = np.ones(len(qi), dtype=bool)
    first[1:] = qi[1:] != qi[:-1]
    m_q, m_c, m_d = qi[first], ci[first], d[first]
    strict = np.ones(len(m_q), dtype=bool)
    if verify_distance is not None and verify_distance > 0:
        v_q, v_c, v_d = _verify(
            q, c, m_q, offset=offset, verify_distance=verify_distance, window_s=verify_window_s
        )
        m_q = np.concatenate([m_q, v_q])
        m_c = np.concatenate([m_c, v_c])
        m_d = np.concatenate([m_d, v_d])
        strict = np.concatenate([strict, np.zeros(len(v_q), dtype=bool)])
    order = np.argsort(q.times[m_q], kind="stable")
    m_q, m_c, m_d, strict = m_q[order], m_c[order], m_d[order], strict[order]
    cuts = np.flatnonzero(np.diff(q.times[m_q]) > max_gap_s) + 1
    segments: list[Segment] = []
    for run in np.split(np.arange(len(m_q)), cuts):
        n_strict = int(strict[run].sum())
        if n_strict < min_strict or len(run) < min_frames:
            continue
        rq, rc = m_q[run], m_c[run]
        q0, q1 = float(q.times[rq].min()), float(q.times[rq].max())
        inside = int(np.count_nonzero((q.times >= q0) & (q.times <= q1)))
        segments.append(
            Segment(
                query_start=q0,
                query_end=q1,
                compared_start=float(c.times[rc].min()),
                compared_end=float(c.times[rc].max()),
                matched_duration_s=q1 - q0,
                matched_frames=len(run),
                offset_s=float(np.median(c.times[rc] - q.times[rq])),
                score=len(run) / max(inside, 1),
                strict_frames=n_strict,
                mean_distance=float(m_d[run].mean()),
            )
        )
    return segments


def _verify(
    q: _Frames,
    c: _Frames,
    matched_q: IntArray,
    *,
    offset: float,
    verify_distance: int,
    window_s: float,
) -> tuple[IntArray, IntArray, IntArray]:
    """Query frames without a strict pair that match near ``t + offset`` loosely."""
    rest = np.setdiff1d(np.arange(len(q.times)), matched_q)
    if rest.size == 0 or c.times.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    order = np.argsort(c.times, kind="stable")
    ct = c.times[order]
    target = q.times[rest] + offset
    lo = np.searchsorted(ct, target - window_s, side="left")
    hi = np.searchsorted(ct, target + window_s, side="right")
    vq: list[int] = []
    vc: list[int] = []
    vd: list[int] = []
    for k, i in enumerate(rest):
        if hi[k] <= lo[k]:
            continue
        cand = order[lo[k] : hi[k]]
        dist = np.bitwise_count(c.hashes[cand] ^ q.hashes[i]).sum(axis=1, dtype=np.int64)
        best = int(np.argmin(dist))
        if dist[best] <= verify_distance:
            vq.append(int(i))
            vc.append(int(cand[best]))
            vd.append(int(dist[best]))
    return (
        np.asarray(vq, dtype=np.int64),
        np.asarray(vc, dtype=np.int64),
        np.asarray(vd, dtype=np.int64),
    )
