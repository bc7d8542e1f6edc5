"""Triage's second stage: local features for files no hash matched.

A file with no exact and no PDQ hit is searched in the scene index:

* a verified **copy** (one homography covering most of a picture; see
  ``tessera.features.scene``) makes the file ``near`` a known item, with the
  reason spelled out from the geometry: mirrored, rotated by so many degrees,
  cropped to a share of the known picture, or partly covered (caption, overlay,
  bars);
* a verified **scene** match (another view of the same room or object) is listed
  under "similar scenes" with the known item's series;
* stored **markers** (a poster, a sign) found in the file are listed with where
  they appear in it;
* stored media from the **same camera body** or taken **near the same GPS
  point** are listed too.

None of this changes a file to ``known``; only copies become ``near``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tessera.features.local import LocalFeatures
from tessera.features.scene import SceneMatch, match_pair
from tessera.matching.scene_store import SceneStore
from tessera.media.vpdq_file import blas_threads
from tessera.pipeline.expand import expand_members
from tessera.pipeline.fanout import member_bytes, streamed_archive
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.pool import map_ordered
from tessera.pipeline.result import FileResult
from tessera.storage import camera_links, markers
from tessera.storage.db import Database
from tessera.storage.models import Marker

TRIAGE_SHORTLIST = 15
"""Candidates verified per file in triage (an edited copy ranks first in retrieval)."""

MARKER_SCAN_MAX = 500
"""Markers verified against every new file; beyond this only scene hits' markers."""


@dataclass(frozen=True)
class Related:
    """Something stored that a file shares a scene, a marker, a camera or a place with."""

    media_id: int
    relation: str  # copy, scene, marker, same-camera, gps-near
    detail: dict[str, Any] = field(default_factory=dict)


def _round_box(box: Sequence[float] | None) -> list[int] | None:
    return [round(v) for v in box] if box is not None else None


def _frame(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)


def _overlap_share(h: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> float:
    """Share of the ``dst`` frame covered by the ``src`` frame mapped through ``h``."""
    try:
        quad = cv2.perspectiveTransform(_frame(*src)[None], h)[0].astype(np.float32)
        inter, _ = cv2.intersectConvexConvex(quad, _frame(*dst))
    except cv2.error:
        return 1.0
    return float(inter) / float(dst[0] * dst[1]) if dst[0] * dst[1] else 1.0


def describe_copy(m: SceneMatch, query: LocalFeatures, known: tuple[int, int]) -> str:
    """Words for how a copy differs from the known picture, from the fitted geometry."""
    v = m.verification
    parts: list[str] = []
    if m.mirrored:
        parts.append("mirrored")
    h = v.homography
    if h is not None:
        a = h[:2, :2] / h[2, 2]
        if m.mirrored:
            a = a @ np.array([[-1.0, 0.0], [0.0, 1.0]])
        angle = math.degrees(math.atan2(a[1, 0], a[0, 0]))
        if abs(angle) >= 1.0:
            parts.append(f"rotated {abs(angle):.0f} degrees")
        scale = math.sqrt(abs(float(np.linalg.det(a))))
        if abs(scale - 1.0) > 0.05:
            parts.append(f"rescaled x{1 / scale:.2f}")
        size = (query.width, query.height)
        shows = _overlap_share(h, size, known)
        if shows < 0.95:
            parts.append(f"shows {100 * shows:.0f}% of the known picture (cropped)")
        filled = _overlap_share(np.linalg.inv(h), known, size)
        if filled < 0.95:
            parts.append(
                f"the known picture fills {100 * filled:.0f}% of it "
                "(caption, overlay, padding, bars or rotation corners)"
            )
        elif m.coverage_query < 0.85:
            parts.append(
                f"matches over {100 * m.coverage_query:.0f}% of its detail "
                "(the rest covered: caption or overlay)"
            )
    return ", ".join(parts) or "re-encoded or lightly edited copy"


def match_detail(m: SceneMatch) -> dict[str, Any]:
    v = m.verification
    return {
        "inliers": v.inliers,
        "geometry": "homography" if v.homography is not None else "fundamental",
        "mirrored": m.mirrored,
        "region_in_file": _round_box(v.region_in_query),
        "region_in_known": _round_box(v.region_in_candidate),
    }


def _queries(f: FileResult) -> list[LocalFeatures]:
    out = []
    # triage's verdict stage carries only the copy check's keypoints
    blobs = (f.features, f.features_mirrored) if f.features else (f.copy_features,)
    for blob in blobs:
        if blob:
            feats = LocalFeatures.from_bytes(blob)
            if len(feats):
                out.append(feats)
    return out


def _related(
    db: Database,
    scene: SceneStore,
    all_markers: Sequence[Marker],
    f: FileResult,
    gps_radius_m: float,
) -> list[Related]:
    """What one file shares with stored media: copies first, then scenes, markers, links."""
    found: list[Related] = []
    queries = _queries(f)
    if queries:
        hits = scene.similar(queries[:1], k=10, shortlist=TRIAGE_SHORTLIST)
        if len(queries) > 1 and not any(h.match.relation == "copy" for h in hits):
            # the mirror image only when the picture itself is no copy (half the work)
            seen = {h.media_id: h for h in hits}
            for h in scene.similar(queries[1:], k=10, shortlist=TRIAGE_SHORTLIST):
                if h.media_id not in seen or h.match.inliers > seen[h.media_id].match.inliers:
                    seen[h.media_id] = h
            hits = sorted(seen.values(), key=lambda h: (-h.match.inliers, h.media_id))[:10]
        for hit in hits:
            m = hit.match
            detail = match_detail(m)
            if hit.timestamp is not None:
                detail["time_s"] = round(hit.timestamp, 3)  # key frame of a known video
            if m.relation == "copy":
                known = scene.frame_of(hit.media_id, hit.position)
                q = queries[1] if m.mirrored and len(queries) > 1 else queries[0]
                detail["reason"] = describe_copy(m, q, known)
            found.append(Related(hit.media_id, m.relation or "scene", detail))
        hit_media = {r.media_id for r in found}
        scan = len(all_markers) <= MARKER_SCAN_MAX
        for mk in all_markers:
            if not scan and mk.media_id not in hit_media:
                continue
            best: SceneMatch | None = None
            marker_feats = LocalFeatures.from_bytes(mk.features)
            for q in queries:
                pm = match_pair(marker_feats, q, str(mk.media_id))
                if pm.verification.accepted and (best is None or pm.inliers > best.inliers):
                    best = pm
            if best is not None:
                quad = best.verification.quad_in_candidate
                found.append(
                    Related(
                        mk.media_id,
                        "marker",
                        {
                            "marker_id": mk.id,
                            "kind": mk.kind,
                            "note": mk.note,
                            "inliers": best.inliers,
                            "region_in_file": _round_box(best.verification.region_in_candidate),
                            "quad_in_file": quad.round().astype(int).tolist()
                            if quad is not None
                            else None,
                        },
                    )
                )
    md = f.metadata or {}
    gps = (
        (float(md["latitude"]), float(md["longitude"]))
        if md.get("latitude") is not None and md.get("longitude") is not None
        else None
    )
    if md.get("camera_key") or gps:
        with db.session() as s:
            for link in camera_links.links_for(s, md.get("camera_key"), gps, radius_m=gps_radius_m):
                found.append(Related(link.media_id, link.reason, {"detail": link.detail}))
    return found


_WORKER: dict[tuple[str, str], tuple[Database, SceneStore, list[Marker]]] = {}


def _in_worker(
    item: tuple[int, FileResult], *, url: str, folder: str, gps_radius_m: float
) -> list[Related] | None:
    """Pool-worker entry: the database and a read-only scene store, opened once per process."""
    db, scene, all_markers = _worker_state(None, url, folder)
    return _guarded(db, scene, all_markers, item[1], gps_radius_m)


def _guarded(
    db: Database,
    scene: SceneStore,
    all_markers: Sequence[Marker],
    f: FileResult,
    gps_radius_m: float,
) -> list[Related] | None:
    """``_related``, or None when it fails on this file (the batch goes on)."""
    try:
        return _related(db, scene, all_markers, f, gps_radius_m)
    except Exception:  # OpenCV or a damaged stored blob: flag this file, not the run
        return None


def _one_thread(
    db: Database,
    scene: SceneStore,
    all_markers: Sequence[Marker],
    f: FileResult,
    gps_radius_m: float,
) -> list[Related] | None:
    with blas_threads(1):  # as in pool workers (verification's products spin otherwise)
        return _guarded(db, scene, all_markers, f, gps_radius_m)


def _crashed(item: tuple[int, FileResult]) -> None:
    return None  # the worker died on this file; it keeps its hash verdict and is flagged


def other_shots(
    scene: SceneStore, hits: Sequence[tuple[int, FileResult, int]]
) -> set[tuple[int, int]]:
    """The ``(item index, media id)`` PDQ hits that local features show to be another
    photograph of the place, not the same picture (``SceneMatch.other_shot``: frames
    of a camera pan, a burst). Such a hit is no ``near``; the second stage lists the
    place as a scene lead instead. Without features on either side, or when nothing
    verifies (a low-texture picture), the PDQ verdict stands. Cost: one stored-blob
    read and one verification (~10-30 ms) per PDQ hit, none for files without one."""
    out: set[tuple[int, int]] = set()
    for i, f, media_id in hits:
        queries = _queries(f)
        stored = scene.features_of(media_id) if queries else None
        if stored is None or not queries:
            continue
        if match_pair(queries[0], stored, str(media_id)).other_shot:
            out.add((i, media_id))
    return out


@dataclass(frozen=True)
class SecondStage:
    """What the second stage found: related media per item index, and the items the
    search failed on."""

    related: dict[int, list[Related]]
    failed: frozenset[int]


SEARCH_FAILED = "similar-search-failed"
"""Flag of a file the second stage could not search (its hash verdict stands)."""


def second_stage(
    db: Database,
    scene: SceneStore,
    files: Sequence[tuple[int, FileResult]],
    *,
    gps_radius_m: float = camera_links.DEFAULT_RADIUS_M,
    on_progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> SecondStage:
    """Related stored media for each ``(item index, file)``; copies first.

    A file the search fails on is named in ``failed`` (it keeps its hash verdict and
    gets the flag ``similar-search-failed``); the other files go on.

    With ``workers > 1`` the files are spread over processes, each with its own
    read-only view of the scene index (saved by ``scene`` beforehand).
    """
    out: dict[int, list[Related]] = {}
    if workers > 1 and len(files) >= 2 * workers:
        scene.save()  # the workers open the files as they are now
        work = partial(_in_worker, url=db.url, folder=str(scene.folder), gps_radius_m=gps_radius_m)
        results = map_ordered(work, list(files), workers=workers, on_crash=_crashed)
    else:
        with db.session() as s:
            all_markers = list(markers.list_markers(s))
        results = (_one_thread(db, scene, all_markers, f, gps_radius_m) for _, f in files)
    failed: set[int] = set()
    for (i, _), found in zip(files, results, strict=True):
        if found is None:
            failed.add(i)
        elif found:
            out[i] = found
        if on_progress:
            on_progress(1)
    return SecondStage(out, frozenset(failed))


LeadJob = tuple[str, tuple[tuple[int, str], ...]]
"""A top-level path to read again and the (item index, label) of its files to search."""


@dataclass(frozen=True)
class _MemberLead:
    """One member of an archive read by ``fanout.member_bytes``: its bytes to search."""

    item: int
    label: str
    data: bytes


@dataclass(frozen=True)
class _Unread:
    """Files of an archive its reader did not give (unreadable now): no leads."""

    items: tuple[int, ...]


_Work = tuple[str, tuple[tuple[int, str], ...]] | _MemberLead | _Unread


def _lead_work(job: _Work, **kw: Any) -> list[tuple[int, list[Related] | None]]:
    """A leads job of any kind, in a worker (``_Unread`` in the main process)."""
    if isinstance(job, _Unread):
        return [(i, None) for i in job.items]
    if isinstance(job, _MemberLead):
        db, scene, all_markers = _worker_state(kw["state"], kw["url"], kw["folder"])
        f = hash_bytes(job.data, job.label, kw["options"].hash)
        if f.status != "ok" or "features-failed" in f.flags:
            return [(job.item, None)]
        return [(job.item, _guarded(db, scene, all_markers, f, kw["gps_radius_m"]))]
    return _lead_job(job, **kw)


def _is_unread(job: _Work) -> bool:
    return isinstance(job, _Unread)


def _spread(jobs: Sequence[LeadJob], options: ExpandOptions) -> Iterator[_Work]:
    """The jobs, an archive without random access (a compressed tar, a 7z) with more
    open members than ``STREAM_OVER`` read once by a reader process and each member
    a job of its own (one worker would otherwise read and search them all)."""
    for job in jobs:
        path, wanted = job
        if len(wanted) <= STREAM_OVER or not streamed_archive(Path(path)):
            yield job
            continue
        index = {label: i for i, label in wanted}
        for label, data in member_bytes(Path(path), list(index), options):
            i = index.pop(label, None)
            if i is None:
                continue
            yield (path, ((i, label),)) if data is None else _MemberLead(i, label, data)
        if index:
            yield _Unread(tuple(index.values()))


STREAM_OVER = 16
"""Open members of one archive above which the leads stage spreads them over the
workers (``_spread``)."""


def _worker_state(
    state: tuple[Database, SceneStore, list[Marker]] | None, url: str, folder: str
) -> tuple[Database, SceneStore, list[Marker]]:
    """``state``, or this worker's database and read-only scene store, opened once."""
    if state is None:
        state = _WORKER.get((url, folder))
        if state is None:
            db = Database(url)
            scene = SceneStore(db, Path(folder), read_only=True)
            with db.session() as s:
                state = _WORKER[(url, folder)] = (db, scene, list(markers.list_markers(s)))
    return state


def _lead_job(
    job: LeadJob,
    *,
    state: tuple[Database, SceneStore, list[Marker]] | None,
    url: str,
    folder: str,
    gps_radius_m: float,
    options: ExpandOptions,
) -> list[tuple[int, list[Related] | None]]:
    """Read one top-level path again (features, metadata; no PDQ) and search the files
    of it that the verdicts left open."""
    db, scene, all_markers = _worker_state(state, url, folder)
    path, wanted = job
    labels = [label for _, label in wanted]
    found: dict[str, list[Related] | None] = {}
    try:  # searched as read: one file's features in memory at a time
        for f in expand_members(Path(path), labels, options):
            if f.status == "ok" and "features-failed" not in f.flags:
                found[f.path] = _guarded(db, scene, all_markers, f, gps_radius_m)
    except Exception:  # never expected (expand_members reports instead of raising)
        pass
    # a file not found: changed or unreadable since the verdicts
    return [(i, found.get(label)) for i, label in wanted]


def leads_stage(
    db: Database,
    scene: SceneStore,
    jobs: Sequence[LeadJob],
    options: ExpandOptions,
    *,
    gps_radius_m: float = camera_links.DEFAULT_RADIUS_M,
    on_found: Callable[[int, list[Related]], None] | None = None,
    on_searched: Callable[[int, list[Related]], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> SecondStage:
    """Triage's leads stage, after the verdicts: every job's files are read again with
    local features (uncompressed, not stored) and metadata, then searched as in the
    second stage (copies, scenes, markers, camera, GPS). ``on_found(item index,
    related)`` is called as each file's leads come (in job order), so they can be
    streamed; ``on_searched(item index, related)`` for every file searched, with or
    without leads (not for one the search failed on); ``on_progress`` counts files.

    With ``workers > 1`` the jobs are spread over processes, each with its own
    read-only view of the scene index (saved by ``scene`` beforehand).
    """
    results: Iterator[list[tuple[int, list[Related] | None]]]
    if workers > 1 and sum(len(wanted) for _, wanted in jobs) >= 2 * workers:
        scene.save()  # the workers open the files as they are now
        work = partial(
            _lead_work,
            state=None,
            url=db.url,
            folder=str(scene.folder),
            gps_radius_m=gps_radius_m,
            options=options,
        )
        results = map_ordered(
            work, _spread(jobs, options), workers=workers, on_crash=_crashed_job, here=_is_unread
        )
    else:
        with db.session() as s:
            state = (db, scene, list(markers.list_markers(s)))
        results = (
            _lead_job_one_thread(
                job,
                state=state,
                url=db.url,
                folder=str(scene.folder),
                gps_radius_m=gps_radius_m,
                options=options,
            )
            for job in jobs
        )
    out: dict[int, list[Related]] = {}
    failed: set[int] = set()
    for found_per_file in results:
        for i, found in found_per_file:
            if found is None:
                failed.add(i)
            else:
                if found:
                    out[i] = found
                    if on_found:
                        on_found(i, found)
                if on_searched:
                    on_searched(i, found)
            if on_progress:
                on_progress(1)
    return SecondStage(out, frozenset(failed))


def _lead_job_one_thread(job: LeadJob, **kw: Any) -> list[tuple[int, list[Related] | None]]:
    """``_lead_job`` in this process, numpy's BLAS on one thread (as in pool workers:
    verification's small matrix products run ~30x slower on threads that spin)."""
    with blas_threads(1):
        return _lead_job(job, **kw)


def _crashed_job(job: _Work) -> list[tuple[int, list[Related] | None]]:
    """The worker died: its files flagged, their verdicts stand."""
    if isinstance(job, _Unread):
        return [(i, None) for i in job.items]
    if isinstance(job, _MemberLead):
        return [(job.item, None)]
    return [(i, None) for i, _ in job[1]]


__all__ = [
    "MARKER_SCAN_MAX",
    "SEARCH_FAILED",
    "LeadJob",
    "Related",
    "SecondStage",
    "describe_copy",
    "leads_stage",
    "match_detail",
    "other_shots",
    "second_stage",
]
