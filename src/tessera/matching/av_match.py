"""Triage for video and audio: segments with offsets, stills inside videos, shared audio.

Video frame hashes live in the same PDQ index as still images (position = time in
the video), so one search serves every direction:

* a still image that hits a stored video's frame is reported with the time in
  that video where it appears;
* a video whose sampled frames hit a stored video is aligned with
  ``tessera.fingerprints.segments``: where the query clip occurs inside the stored
  video (start and end on both clocks, matched duration), robust to sampling phase;
* a video frame that hits a stored still image is reported with the query time.

Audio fingerprints (Chromaprint) are compared with offset alignment
(``tessera.fingerprints.audio_match``) against every stored recording.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.fingerprints.audio_match import AudioIndex
from tessera.fingerprints.chromaprint import AudioFingerprint
from tessera.fingerprints.segments import Segment, TimedHash, find_segments
from tessera.matching.pdq_search import PdqSearcher
from tessera.matching.pdq_store import PdqHit
from tessera.pipeline.result import FileResult
from tessera.storage import repo
from tessera.storage.db import Database


@dataclass(frozen=True)
class AvHit:
    """A stored media item linked to a query file through frames or audio."""

    media_id: int
    via: str  # pdq-frame, vpdq-segment, audio
    distance: int
    detail: dict[str, Any]


def _segment_json(s: Segment) -> dict[str, Any]:
    return {
        "query_start": round(s.query_start, 3),
        "query_end": round(s.query_end, 3),
        "compared_start": round(s.compared_start, 3),
        "compared_end": round(s.compared_end, 3),
        "matched_duration": round(s.matched_duration_s, 3),
        "offset": round(s.offset_s, 3),
        "matched_frames": s.matched_frames,
        "score": round(s.score, 3),
    }


def _stored_frames(db: Database, media_ids: Sequence[int]) -> dict[int, list[TimedHash]]:
    out: dict[int, list[TimedHash]] = defaultdict(list)
    with db.session() as s:
        for mid, rows in repo.video_frames_of(s, media_ids).items():
            out[mid] = [TimedHash((pos - 1) / 1000, value, q) for pos, value, q in rows]
    return out


def video_hits(
    db: Database,
    store: PdqSearcher,
    files: Sequence[FileResult],
    *,
    radius: int,
    min_quality: int,
) -> dict[int, list[AvHit]]:
    """For each file with sampled frames (a video): hits found through its frames."""
    queries: list[tuple[int, int]] = []  # (file index, frame index)
    codes: list[bytes] = []
    for i, f in enumerate(files):
        for j, fr in enumerate(f.frames or []):
            if fr.quality >= min_quality:
                queries.append((i, j))
                codes.append(fr.pdq)
    if not codes:
        return {}
    arr = np.frombuffer(b"".join(codes), dtype=np.uint8).reshape(-1, 32)
    hits = store.search(arr, radius=radius, min_quality=min_quality)
    by_file: dict[int, dict[int, list[tuple[int, PdqHit]]]] = defaultdict(lambda: defaultdict(list))
    for h in hits:
        i, j = queries[h.query]
        by_file[i][h.media_id].append((j, h))
    video_ids = sorted(
        {
            mid
            for per in by_file.values()
            for mid, hs in per.items()
            if any(h.position for _, h in hs)
        }
    )
    stored = _stored_frames(db, video_ids)
    out: dict[int, list[AvHit]] = {}
    for i, per_media in by_file.items():
        frames = files[i].frames or ()
        found: list[AvHit] = []
        for mid, pairs in per_media.items():
            best = min(h.distance for _, h in pairs)
            if mid in stored:
                segs = find_segments(
                    [TimedHash(f.timestamp, f.pdq, f.quality) for f in frames],
                    stored[mid],
                    max_distance=radius,
                    min_quality=min_quality,
                )
                if segs:
                    found.append(
                        AvHit(
                            mid,
                            "vpdq-segment",
                            best,
                            {"segments": [_segment_json(s) for s in segs]},
                        )
                    )
                    continue
                # too few frames for a segment: still report where frames met
                times = sorted({round(frames[j].timestamp, 3) for j, _ in pairs})
                found.append(AvHit(mid, "pdq-frame", best, {"query_times": times[:20]}))
            else:  # a stored still image appears in this video
                times = sorted({round(frames[j].timestamp, 3) for j, _ in pairs})
                found.append(AvHit(mid, "pdq-frame", best, {"query_times": times[:20]}))
        out[i] = sorted(found, key=lambda a: (a.via != "vpdq-segment", a.distance))
    return out


def still_in_video(hits: Sequence[PdqHit]) -> dict[int, list[float]]:
    """media id -> times (s) in that video where a still image query was found."""
    out: dict[int, list[float]] = defaultdict(list)
    for h in hits:
        if h.timestamp is not None:
            out[h.media_id].append(round(h.timestamp, 3))
    return {k: sorted(set(v))[:20] for k, v in out.items()}


def audio_hits(db: Database, files: Sequence[FileResult]) -> dict[int, list[AvHit]]:
    """For each file with an audio fingerprint: stored recordings sharing audio with it."""
    wanted = [(i, f) for i, f in enumerate(files) if f.audio]
    if not wanted:
        return {}
    index = AudioIndex()
    with db.session() as s:
        stored = repo.audio_fingerprints(s)
    for mid, text in stored:
        index.add(str(mid), AudioFingerprint.parse(text))
    if len(index) == 0:
        return {}
    out: dict[int, list[AvHit]] = {}
    for i, f in wanted:
        query = AudioFingerprint.parse(f.audio or "")
        found = []
        for hit in index.search(query):
            for m in hit.comparison.matches:
                found.append(
                    AvHit(
                        int(hit.key),
                        "audio",
                        0,
                        {
                            "query_start": round(m.query_start_s, 3),
                            "query_end": round(m.query_end_s, 3),
                            "compared_start": round(m.compared_start_s, 3),
                            "compared_end": round(m.compared_end_s, 3),
                            "matched_duration": round(m.matched_duration_s, 3),
                            "offset": round(m.offset_s, 3),
                            "bit_error_rate": round(m.ber, 3),
                        },
                    )
                )
        if found:
            out[i] = found
    return out


__all__ = ["AvHit", "audio_hits", "still_in_video", "video_hits"]
