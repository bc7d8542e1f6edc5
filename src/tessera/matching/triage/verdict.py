"""Step 5: each file's status and matches, and the series the seizure touches.

Exact beats near; near (PDQ, video frames and segments, audio) beats an edited
copy found by local features; other second-stage relations (scene, marker, camera,
place) are kept beside the verdict as leads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tessera.matching.av_match import AvHit, still_in_video
from tessera.matching.scene_triage import Related
from tessera.matching.triage.exact import ExactHits
from tessera.matching.triage.near import NearHits
from tessera.matching.triage.report import Match, RelatedMatch, SeriesHit, TriageItem
from tessera.storage.repo import SeriesStatus


@dataclass(frozen=True)
class Context:
    """What the database says about the matched media."""

    series_of: Mapping[int, list[int]]
    """media id -> series ids."""
    statuses: Mapping[int, SeriesStatus]
    """series id -> status."""
    submissions: Mapping[int, int]
    """media id -> submitting agencies."""

    def names(self, mid: int) -> tuple[str, ...]:
        return tuple(
            sorted(
                self.statuses[sid].name
                for sid in self.series_of.get(mid, [])
                if sid in self.statuses
            )
        )

    def match(self, mid: int, via: str, distance: int, detail: dict[str, object]) -> Match:
        return Match(mid, via, distance, self.submissions.get(mid, 0), self.names(mid), detail)


def decide(
    items: Sequence[TriageItem],
    *,
    exact: ExactHits,
    near: NearHits,
    av: Mapping[int, list[AvHit]],
    related: Mapping[int, list[Related]],
    ctx: Context,
) -> list[SeriesHit]:
    """Set each item's status, matches and leads; return the series hits, biggest first."""
    series_hits: dict[int, SeriesHit] = {}
    for i, it in enumerate(items):
        copies = [r for r in related.get(i, []) if r.relation == "copy"]
        it.related = [
            RelatedMatch(r.media_id, r.relation, ctx.names(r.media_id), r.detail)
            for r in related.get(i, [])
            if r.relation != "copy"
        ]
        if i in exact:
            mid, via = exact[i]
            it.status = "known"
            it.matches = [ctx.match(mid, via, 0, {})]
        elif near.best.get(i) or av.get(i):
            it.status = "near"
            times = still_in_video(near.hits.get(i, []))
            still = [
                ctx.match(mid, via, d, {"compared_times": times[mid]} if mid in times else {})
                for mid, (d, via) in near.best.get(i, {}).items()
            ]
            moving = [ctx.match(a.media_id, a.via, a.distance, a.detail) for a in av.get(i, [])]
            it.matches = sorted(still, key=lambda m: (m.distance, m.media_id)) + moving
        elif copies:
            it.status = "near"
            it.matches = [
                ctx.match(r.media_id, str(r.detail.get("via", "local-features")), -1, r.detail)
                for r in copies
            ]
        else:
            continue
        seen_series: set[int] = set()
        for match in it.matches:
            for sid in ctx.series_of.get(match.media_id, []):
                if sid in seen_series or sid not in ctx.statuses:
                    continue
                seen_series.add(sid)
                hit = series_hits.setdefault(sid, SeriesHit(ctx.statuses[sid]))
                hit.paths.append(it.path)
                if it.status == "known":
                    hit.exact += 1
                else:
                    hit.near += 1
    return sorted(series_hits.values(), key=lambda h: (-len(h.paths), h.status.name))


__all__ = ["Context", "decide"]
