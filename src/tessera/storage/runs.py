"""Ingest runs as users see them, and undoing one.

Undoing a run removes what that run added and nothing else:

* its sightings (soft-deleted, with who and when);
* media the run created (an item of the run says ``new`` or ``error`` for it) that
  no live sighting of another run or agency still shows, and that no other live
  run also recorded; their fingerprints stop being read (every read path joins
  on live media) and the caller drops their index entries
  (``UndoOutcome.pdq_ids`` / ``feature_ids``);
* nothing of media that were already known: their submission counts are
  recounted from the sightings that remain.

The run is marked undone (``undone_at`` / ``undone_by``) and closed, so a later
``tessera ingest`` of the same folder starts a new run instead of resuming it.
Everything stays in the database: marked rows can be restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tessera.errors import Conflict, NotFound
from tessera.storage.models import (
    Agency,
    Case,
    FingerprintModel,
    IngestItem,
    IngestRun,
    Media,
    Series,
    Sighting,
    utcnow,
)
from tessera.storage.repo import FEATURES_ALGORITHM


@dataclass(frozen=True)
class RunRow:
    id: int
    agency_code: str
    case_number: str
    series: str | None
    root: str
    started_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None
    undone_by: str | None
    counts: dict[str, int]
    """Items by status (new, known, error, skipped) plus ``files`` and live ``sightings``."""

    @property
    def state(self) -> Literal["finished", "unfinished", "undone"]:
        if self.undone_at is not None:
            return "undone"
        return "finished" if self.finished_at is not None else "unfinished"


@dataclass(frozen=True)
class UndoOutcome:
    run_id: int
    sightings_removed: int
    media_removed: tuple[int, ...]
    pdq_ids: tuple[int, ...]
    """PDQ fingerprint row ids of the removed media: drop them from the PDQ index."""
    feature_ids: tuple[int, ...]
    """Local-features row ids of the removed media (the scene index)."""


def get_run(s: Session, run_id: int) -> IngestRun:
    run = s.get(IngestRun, run_id)
    if run is None:
        raise NotFound(f"no ingest run {run_id}; `tessera runs` lists them")
    return run


def list_runs(s: Session, *, limit: int | None = None) -> list[RunRow]:
    """Runs newest first, with item counts by status and their live sightings."""
    q = (
        select(IngestRun, Agency.code, Case.number, Series.name)
        .join(Agency, Agency.id == IngestRun.agency_id)
        .join(Case, Case.id == IngestRun.case_id)
        .outerjoin(Series, Series.id == IngestRun.series_id)
        .order_by(IngestRun.id.desc())
    )
    if limit is not None:
        q = q.limit(limit)
    rows = s.execute(q).all()
    ids = [r[0].id for r in rows]
    items: dict[int, dict[str, int]] = {i: {} for i in ids}
    sightings: dict[int, int] = {}
    if ids:
        for run_id, status, n in s.execute(
            select(IngestItem.run_id, IngestItem.status, func.count())
            .where(IngestItem.run_id.in_(ids))
            .group_by(IngestItem.run_id, IngestItem.status)
        ):
            items[int(run_id)][str(status)] = int(n)
        for sight_run, n in s.execute(
            select(Sighting.run_id, func.count())
            .where(Sighting.run_id.in_(ids), Sighting.deleted_at.is_(None))
            .group_by(Sighting.run_id)
        ):
            if sight_run is not None:
                sightings[int(sight_run)] = int(n)
    out = []
    for run, code, number, series in rows:
        by_status = items[run.id]
        counts = {k: by_status.get(k, 0) for k in ("new", "known", "error", "skipped")}
        counts["files"] = sum(by_status.values())
        counts["sightings"] = sightings.get(run.id, 0)
        out.append(
            RunRow(
                id=run.id,
                agency_code=code,
                case_number=number,
                series=series,
                root=run.root,
                started_at=run.started_at,
                finished_at=run.finished_at,
                undone_at=run.undone_at,
                undone_by=run.undone_by,
                counts=counts,
            )
        )
    return out


def undo_run(s: Session, run_id: int, by: str) -> UndoOutcome:
    """Soft-delete what run ``run_id`` added (see the module doc), in the open transaction."""
    run = get_run(s, run_id)
    if run.undone_at is not None:
        raise Conflict(f"ingest run {run_id} was already undone by {run.undone_by}")
    now = utcnow()
    touched_rows = list(
        s.scalars(
            select(Sighting.media_id).where(
                Sighting.run_id == run_id, Sighting.deleted_at.is_(None)
            )
        )
    )
    touched = set(touched_rows)
    s.execute(
        update(Sighting)
        .where(Sighting.run_id == run_id, Sighting.deleted_at.is_(None))
        .values(deleted_at=now, deleted_by=by)
    )
    removed = len(touched_rows)
    created = {
        int(m)
        for m in s.scalars(
            select(IngestItem.media_id).where(
                IngestItem.run_id == run_id,
                IngestItem.status.in_(("new", "error")),
                IngestItem.media_id.is_not(None),
            )
        )
        if m is not None
    }
    gone: list[int] = []
    for media_id in sorted(touched | created):
        still_seen = s.scalar(
            select(Sighting.id)
            .where(Sighting.media_id == media_id, Sighting.deleted_at.is_(None))
            .limit(1)
        )
        other_run = s.scalar(
            select(IngestItem.id)
            .join(IngestRun, IngestRun.id == IngestItem.run_id)
            .where(
                IngestItem.media_id == media_id,
                IngestItem.run_id != run_id,
                IngestRun.undone_at.is_(None),
            )
            .limit(1)
        )
        if media_id in created and still_seen is None and other_run is None:
            gone.append(media_id)
    pdq: list[int] = []
    features: list[int] = []
    for i in range(0, len(gone), 500):
        chunk = gone[i : i + 500]
        s.execute(
            update(Media)
            .where(Media.id.in_(chunk), Media.deleted_at.is_(None))
            .values(deleted_at=now, deleted_by=by)
        )
        for fid, algorithm in s.execute(
            select(FingerprintModel.id, FingerprintModel.algorithm).where(
                FingerprintModel.media_id.in_(chunk),
                FingerprintModel.algorithm.in_(("pdq", FEATURES_ALGORITHM)),
            )
        ):
            (pdq if algorithm == "pdq" else features).append(int(fid))
    recount_submissions(s, sorted(touched))
    run.undone_at, run.undone_by = now, by
    if run.finished_at is None:
        run.finished_at = now  # closed: a new ingest of that folder starts a new run
    s.flush()
    return UndoOutcome(run_id, removed, tuple(gone), tuple(pdq), tuple(features))


def recount_submissions(s: Session, media_ids: list[int]) -> None:
    """Set each media item's submissions to the distinct agencies of its live sightings."""
    for media_id in media_ids:
        n = s.scalar(
            select(func.count(func.distinct(Sighting.agency_id))).where(
                Sighting.media_id == media_id, Sighting.deleted_at.is_(None)
            )
        )
        s.execute(update(Media).where(Media.id == media_id).values(submissions=int(n or 0)))


def revive_media(s: Session, media: Media) -> list[FingerprintModel]:
    """Bring back a media item an undone run removed, because it was ingested again.

    Its fingerprints are written again under new row ids, so the indexes (which
    dropped the old ids) take them in as they take any new fingerprint.
    """
    media.deleted_at, media.deleted_by = None, None
    old = list(s.scalars(select(FingerprintModel).where(FingerprintModel.media_id == media.id)))
    copies = [
        FingerprintModel(
            media_id=fp.media_id,
            algorithm=fp.algorithm,
            version=fp.version,
            position=fp.position,
            value=fp.value,
            quality=fp.quality,
        )
        for fp in old
    ]
    for fp in old:
        s.delete(fp)
    s.flush()
    s.add_all(copies)
    s.flush()
    return copies


__all__ = [
    "RunRow",
    "UndoOutcome",
    "get_run",
    "list_runs",
    "recount_submissions",
    "revive_media",
    "undo_run",
]
