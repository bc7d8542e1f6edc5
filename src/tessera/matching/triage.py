"""Triage: for every file of a seizure, known, near a known item, or new.

* **known**: its SHA-256 (or MD5 / SHA-1) is in the database;
* **near**: its PDQ hash is within the radius (31) of a stored fingerprint of
  enough quality (both >= 50), optionally also through the 8 dihedral variants
  (rotated and mirrored copies);
* **near** also: a file no hash matched that local features show to be an edited
  copy (crop, rotation, mirror, caption, overlay, bars) of a known item, with the
  reason (second stage, ``tessera.matching.scene_triage``);
* **new**: none of these. New files are clustered among themselves (same content, or
  PDQ within the radius) so that an investigator sees each new picture once, not
  once per copy.

Hits are grouped by series with the series' status: victim and offender
identified or not, by which agency and when, the owning agency's contact, and how
many agencies submitted the matched media. Files that are not known are also
listed with what they share with stored media: the same scene, a marker, the same
camera body, a nearby GPS point ("similar scenes"). Nothing is written to the
database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from tessera.fingerprints.pdq import DIHEDRAL_NAMES, MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.index import PdqIndex
from tessera.ingest.expand import ExpandOptions, expand_path
from tessera.ingest.filehash import FileResult
from tessera.ingest.parallel import map_ordered
from tessera.ingest.walk import iter_files
from tessera.matching.av_match import AvHit, audio_hits, still_in_video, video_hits
from tessera.matching.pdq_store import PdqHit, PdqStore
from tessera.matching.scene_store import SceneStore
from tessera.matching.scene_triage import Related, second_stage
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.models import Media, Series

Status = Literal["known", "near", "new", "error", "skipped"]


@dataclass(frozen=True)
class Match:
    """A stored media item a file matched, and how."""

    media_id: int
    via: str  # sha256, md5, sha1, pdq, pdq-rot90, ..., pdq-frame, vpdq-segment, audio,
    # local-features (an edited copy found by the second stage)
    distance: int  # PDQ bits; -1 for local-features matches (inliers in detail)
    submissions: int
    series: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)  # times, segments, offsets

    def to_json(self) -> dict[str, Any]:
        out = {
            "media_id": self.media_id,
            "via": self.via,
            "distance": self.distance,
            "submissions": self.submissions,
            "series": list(self.series),
        }
        if self.detail:
            out.update(self.detail)
        return out


@dataclass
class TriageItem:
    """The verdict for one file."""

    file: FileResult
    status: Status
    matches: list[Match] = field(default_factory=list)
    group: int | None = None  # new-media group (near-copies of one new picture)
    related: list[RelatedMatch] = field(default_factory=list)  # similar scenes, markers...

    @property
    def path(self) -> str:
        return self.file.path

    def to_json(self) -> dict[str, Any]:
        f = self.file
        return {
            "path": f.path,
            "status": self.status,
            "sha256": f.sha256,
            "md5": f.md5,
            "sha1": f.sha1,
            "pdq": f.pdq,
            "quality": f.quality,
            "format": f.format,
            "width": f.width,
            "height": f.height,
            "flags": f.flags,
            "error": None if f.status == "ok" else {"reason": f.reason, "message": f.message},
            "matches": [m.to_json() for m in self.matches],
            "new_group": self.group,
            "similar": [r.to_json() for r in self.related],
        }


@dataclass(frozen=True)
class RelatedMatch:
    """A stored item sharing a scene, a marker, a camera or a place with a file."""

    media_id: int
    relation: str  # scene, marker, same-camera, gps-near
    series: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "media_id": self.media_id,
            "relation": self.relation,
            "series": list(self.series),
            **self.detail,
        }


@dataclass
class SeriesHit:
    """A series the seizure touches, its status and the files that hit it."""

    status: repo.SeriesStatus
    paths: list[str] = field(default_factory=list)
    exact: int = 0
    near: int = 0

    def to_json(self) -> dict[str, Any]:
        st = self.status

        def when(v: Any) -> str | None:
            return v.isoformat() if v is not None else None

        return {
            "name": st.name,
            "owner": {
                "agency": st.owner_code,
                "country": st.owner_country,
                "unit": st.owner_name,
                "contact": st.contact,
            },
            "victim_identified": st.victim_identified,
            "victim_identified_by": st.victim_identified_by,
            "victim_identified_at": when(st.victim_identified_at),
            "offender_identified": st.offender_identified,
            "offender_identified_by": st.offender_identified_by,
            "offender_identified_at": when(st.offender_identified_at),
            "baseline": st.baseline,
            "category_profile": st.category_profile,
            "category": st.category,
            "media_in_series": st.media_count,
            "files_matched": len(self.paths),
            "exact": self.exact,
            "near": self.near,
            "paths": self.paths,
        }


@dataclass
class TriageReport:
    items: list[TriageItem]
    series: list[SeriesHit]
    groups: list[list[str]]  # new media groups, each a list of paths

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = defaultdict(int)
        for it in self.items:
            c[it.status] += 1
        return {k: c.get(k, 0) for k in ("known", "near", "new", "error", "skipped")}

    @property
    def anything_known(self) -> bool:
        return any(it.status in ("known", "near") for it in self.items)

    def similar_scenes(self) -> list[dict[str, Any]]:
        """Files not matched by hash that share a scene, marker, camera or place."""
        out = []
        for it in self.items:
            if it.related and it.status in ("new", "near"):
                series = sorted({n for r in it.related for n in r.series})
                out.append(
                    {
                        "path": it.path,
                        "status": it.status,
                        "series": series,
                        "related": [r.to_json() for r in it.related],
                    }
                )
        return out

    def to_json(self) -> dict[str, Any]:
        counts = self.counts()
        similar = self.similar_scenes()
        return {
            "summary": {
                "files": len(self.items),
                **counts,
                "series_touched": len(self.series),
                "new_groups": len(self.groups),
                "files_with_similar_scenes": len(similar),
            },
            "series": [s.to_json() for s in self.series],
            "new_groups": self.groups,
            "similar_scenes": similar,
            "results": [it.to_json() for it in self.items],
        }


def _crash(path: Path) -> list[FileResult]:
    return [FileResult(str(path), "error", reason="worker-crashed", message="decoder died")]


def fingerprint_paths(
    paths: Sequence[Path],
    options: ExpandOptions,
    *,
    workers: int,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> list[FileResult]:
    """Walk and fingerprint everything under ``paths`` (archives opened)."""
    found = list(iter_files(paths))
    if on_total:
        on_total(len(found))
    out: list[FileResult] = []
    todo = []
    for f in found:
        if f.missing:
            out.append(FileResult(str(f.path), "error", reason="not-found", message="no such file"))
        elif f.skip_reason is not None:
            out.append(FileResult(str(f.path), "skipped", reason="skipped", message=f.skip_reason))
        else:
            todo.append(f.path)
    if on_progress and out:
        on_progress(len(out))
    work = partial(expand_path, options=options)
    for group in map_ordered(work, todo, workers=workers, on_crash=_crash):
        out.extend(group)
        if on_progress:
            on_progress(1)
    return out


def _codes(hexes: Sequence[str]) -> NDArray[np.uint8]:
    if not hexes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, 32)


def triage(
    db: Database,
    store: PdqStore,
    files: Sequence[FileResult],
    *,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
    dihedral: bool = False,
    scene: SceneStore | None = None,
    on_scene_total: Callable[[int], None] | None = None,
    on_scene_progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> TriageReport:
    """Classify fingerprinted files against the database; see the module doc.

    With ``scene`` (the scene index), files no hash matched go through the second
    stage: local features (copies become ``near``), markers, camera and GPS links.
    """
    items = [
        TriageItem(
            f, "error" if f.status == "error" else "skipped" if f.status == "skipped" else "new"
        )
        for f in files
    ]
    hashed = [it for it in items if it.file.sha256 and it.file.size]
    with db.session() as s:
        by_sha = repo.media_by_digest(
            s, "sha256", [bytes.fromhex(it.file.sha256 or "") for it in hashed]
        )
        exact: dict[int, tuple[Media, str]] = {}
        for idx, it in enumerate(items):
            f = it.file
            if f.sha256 and f.size and (m := by_sha.get(bytes.fromhex(f.sha256))) is not None:
                exact[idx] = (m, "sha256")
        rest = [
            i for i, it in enumerate(items) if i not in exact and it.file.sha256 and it.file.size
        ]
        by_md5 = repo.media_by_digest(
            s, "md5", [bytes.fromhex(items[i].file.md5 or "") for i in rest]
        )
        by_sha1 = repo.media_by_digest(
            s, "sha1", [bytes.fromhex(items[i].file.sha1 or "") for i in rest]
        )
        for i in rest:
            f = items[i].file
            m = by_md5.get(bytes.fromhex(f.md5 or "")) or by_sha1.get(bytes.fromhex(f.sha1 or ""))
            if m is not None:
                exact[i] = (m, "md5" if bytes.fromhex(f.md5 or "") in by_md5 else "sha1")
    # near: PDQ for files without an exact hit
    queries: list[tuple[int, str, str]] = []  # (item index, variant, hex)
    for i, it in enumerate(items):
        f = it.file
        if i in exact or f.pdq is None or (f.quality or 0) < min_quality:
            continue
        queries.append((i, "pdq", f.pdq))
        if dihedral and f.dihedral:
            for name in DIHEDRAL_NAMES[1:]:
                queries.append((i, f"pdq-{name}", f.dihedral[name]))
    hits = store.search(_codes([q[2] for q in queries]), radius=radius, min_quality=min_quality)
    near: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)  # item -> media -> (d, via)
    hits_of: dict[int, list[PdqHit]] = defaultdict(list)
    for h in hits:
        i, via, _ = queries[h.query]
        hits_of[i].append(h)
        best = near[i].get(h.media_id)
        if best is None or h.distance < best[0]:
            near[i][h.media_id] = (h.distance, via)
    # videos (frames, segments) and audio
    open_files = [
        it.file if i not in exact else FileResult(it.path, "skipped") for i, it in enumerate(items)
    ]
    av: dict[int, list[AvHit]] = defaultdict(list)
    for i, found in video_hits(
        db, store, open_files, radius=radius, min_quality=min_quality
    ).items():
        av[i].extend(found)
    for i, found in audio_hits(db, open_files).items():
        av[i].extend(found)
    related: dict[int, list[Related]] = {}
    if scene is not None:
        open_items = [
            (i, it.file)
            for i, it in enumerate(items)
            if i not in exact and not near.get(i) and not av.get(i) and it.file.status == "ok"
        ]
        if on_scene_total:
            on_scene_total(len(open_items))
        related = second_stage(
            db, scene, open_items, on_progress=on_scene_progress, workers=workers
        )
    media_ids = (
        {m.id for m, _ in exact.values()}
        | {mid for d in near.values() for mid in d}
        | {a.media_id for found in av.values() for a in found}
        | {r.media_id for found in related.values() for r in found}
    )
    with db.session() as s:
        series_map = repo.series_of_media(s, media_ids)
        all_series = {sid for ids in series_map.values() for sid in ids}
        statuses = {}
        for sid in all_series:
            row = s.get(Series, sid)
            if row is not None:
                statuses[sid] = repo.series_status(s, row)
        submissions = {
            m.id: m.submissions
            for m in s.scalars(select(Media).where(Media.id.in_(list(media_ids) or [-1])))
        }
    series_hits: dict[int, SeriesHit] = {}

    def names(mid: int) -> tuple[str, ...]:
        return tuple(
            sorted(statuses[sid].name for sid in series_map.get(mid, []) if sid in statuses)
        )

    for i, it in enumerate(items):
        copies = [r for r in related.get(i, []) if r.relation == "copy"]
        it.related = [
            RelatedMatch(r.media_id, r.relation, names(r.media_id), r.detail)
            for r in related.get(i, [])
            if r.relation != "copy"
        ]
        if i in exact:
            m, via = exact[i]
            it.status = "known"
            it.matches = [Match(m.id, via, 0, submissions.get(m.id, 0), names(m.id))]
        elif near.get(i) or av.get(i):
            it.status = "near"
            times = still_in_video(hits_of.get(i, []))
            still = [
                Match(
                    mid,
                    via,
                    d,
                    submissions.get(mid, 0),
                    names(mid),
                    {"compared_times": times[mid]} if mid in times else {},
                )
                for mid, (d, via) in near.get(i, {}).items()
            ]
            moving = [
                Match(
                    a.media_id,
                    a.via,
                    a.distance,
                    submissions.get(a.media_id, 0),
                    names(a.media_id),
                    a.detail,
                )
                for a in av.get(i, [])
            ]
            it.matches = sorted(still, key=lambda m: (m.distance, m.media_id)) + moving
        elif copies:
            it.status = "near"
            it.matches = [
                Match(
                    r.media_id,
                    "local-features",
                    -1,
                    submissions.get(r.media_id, 0),
                    names(r.media_id),
                    r.detail,
                )
                for r in copies
            ]
        else:
            continue
        seen_series: set[int] = set()
        for match in it.matches:
            for sid in series_map.get(match.media_id, []):
                if sid in seen_series or sid not in statuses:
                    continue
                seen_series.add(sid)
                hit = series_hits.setdefault(sid, SeriesHit(statuses[sid]))
                hit.paths.append(it.path)
                if it.status == "known":
                    hit.exact += 1
                else:
                    hit.near += 1
    groups = _group_new(items, radius)
    ordered = sorted(series_hits.values(), key=lambda h: (-len(h.paths), h.status.name))
    return TriageReport(items=items, series=ordered, groups=groups)


def _group_new(items: list[TriageItem], radius: int) -> list[list[str]]:
    """Union-find over new files: same SHA-256, or PDQ within ``radius``."""
    new = [i for i, it in enumerate(items) if it.status == "new"]
    parent = {i: i for i in new}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_sha: dict[str, int] = {}
    for i in new:
        sha = items[i].file.sha256
        if sha is None:
            continue
        if sha in by_sha:
            union(by_sha[sha], i)
        else:
            by_sha[sha] = i
    with_pdq = [i for i in new if items[i].file.pdq is not None]
    if with_pdq:
        codes = _codes([items[i].file.pdq or "" for i in with_pdq])
        index = PdqIndex.build(codes, np.arange(len(with_pdq), dtype=np.int64))
        res = index.search(codes, radius=radius)
        for q, other in zip(res.query, res.id, strict=True):
            union(with_pdq[int(q)], with_pdq[int(other)])
    groups: dict[int, list[int]] = defaultdict(list)
    for i in new:
        groups[find(i)].append(i)
    ordered = sorted(groups.values(), key=lambda g: g[0])
    for n, g in enumerate(ordered, start=1):
        for i in g:
            items[i].group = n
    return [[items[i].path for i in g] for g in ordered]


__all__ = [
    "Match",
    "RelatedMatch",
    "SeriesHit",
    "TriageItem",
    "TriageReport",
    "fingerprint_paths",
    "triage",
]
