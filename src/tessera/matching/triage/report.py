"""What triage returns: per-file verdicts, the series touched, the new-media groups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from tessera.pipeline.result import FileResult
from tessera.storage import repo

Status = Literal["known", "near", "new", "error", "skipped", "archive"]
"""``archive``: a container whose members are reported on their own lines; it is no
new media item itself (it is ``known`` only when its own digest is stored)."""


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
            # no PDQ distance behind a local-features match: null, never a fake -1
            "distance": None if self.via == "local-features" else self.distance,
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
        return {k: c.get(k, 0) for k in ("known", "near", "new", "error", "skipped", "archive")}

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


__all__ = ["Match", "RelatedMatch", "SeriesHit", "Status", "TriageItem", "TriageReport"]
