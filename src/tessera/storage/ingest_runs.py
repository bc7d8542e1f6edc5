"""The SQL of an ingest run's life: open or resume it, what it recorded, finish it.

A run is keyed by (case, root): an unfinished run of the same case and root is
resumed, not duplicated (the caller holds ``Database.write_session``, so two runs
started at once agree on one run).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from tessera.errors import NotFound
from tessera.storage.models import (
    BlindLink,
    ExchangeEntry,
    FingerprintModel,
    IngestItem,
    IngestRun,
    Media,
    Sighting,
    series_media,
    utcnow,
)


def open_run(
    s: Session, *, agency_id: int, case_id: int, series_id: int | None, root: str
) -> tuple[IngestRun, bool]:
    """The unfinished run of ``case_id`` and ``root`` (resumed: True), or a new one."""
    run = s.scalar(
        select(IngestRun)
        .where(
            IngestRun.case_id == case_id,
            IngestRun.root == root,
            IngestRun.finished_at.is_(None),
        )
        .order_by(IngestRun.id.desc())
        .limit(1)
    )
    if run is not None:
        return run, True
    run = IngestRun(agency_id=agency_id, case_id=case_id, series_id=series_id, root=root)
    s.add(run)
    s.flush()
    return run, False


def recorded_paths(s: Session, run_id: int, among: Sequence[str] | None = None) -> set[str]:
    """Every path the run has recorded so far (of ``among`` only, when given)."""
    query = select(IngestItem.path).where(IngestItem.run_id == run_id)
    if among is not None:
        query = query.where(IngestItem.path.in_(list(among)))
    return set(s.scalars(query))


def add_sighting(
    s: Session,
    run: IngestRun,
    media_id: int,
    path: str,
    *,
    mtime: datetime | None = None,
    ctime: datetime | None = None,
) -> bool:
    """Media ``media_id`` seen at ``path`` in ``run``'s case (once per case, path and
    media; a sighting removed by ``ingest undo`` and seen again becomes this run's).

    True when this is the agency's first live sighting of the item: the caller counts
    one more submission on the media row, which under Row-Level Security it may do
    only now that the sighting (flushed here) makes the row the agency's."""
    exists = s.scalar(
        select(Sighting).where(
            Sighting.case_id == run.case_id,
            Sighting.original_path == path,
            Sighting.media_id == media_id,
        )
    )
    if exists is not None and exists.deleted_at is None:
        return False
    first_from_agency = (
        s.scalar(
            select(Sighting.id)
            .where(
                Sighting.media_id == media_id,
                Sighting.agency_id == run.agency_id,
                Sighting.deleted_at.is_(None),
            )
            .limit(1)
        )
        is None
    )
    if exists is not None:
        exists.deleted_at, exists.deleted_by, exists.run_id = None, None, run.id
        exists.file_mtime, exists.file_ctime = mtime, ctime
    else:
        s.add(
            Sighting(
                media_id=media_id,
                case_id=run.case_id,
                agency_id=run.agency_id,
                original_path=path,
                file_mtime=mtime,
                file_ctime=ctime,
                run_id=run.id,
            )
        )
    s.flush()
    return first_from_agency


def count_submission(s: Session, media: Media) -> None:
    """One more agency submitted ``media``: one UPDATE that adds in the database, so
    two writers at once both count (a read-modify-write in Python lost one)."""
    s.execute(
        update(Media)
        .where(Media.id == media.id)
        .values(submissions=func.coalesce(Media.submissions, 0) + 1)
        .execution_options(synchronize_session=False)
    )
    s.expire(media, ["submissions"])


def new_media_ids(s: Session, n: int) -> list[int]:
    """``n`` ids from the media table's sequence (PostgreSQL), for rows inserted
    without ``RETURNING``; none elsewhere (SQLite assigns its own under the writer lock)."""
    if n <= 0 or s.get_bind().dialect.name != "postgresql":
        return []
    rows = s.execute(
        text("SELECT nextval(pg_get_serial_sequence('media', 'id')) FROM generate_series(1, :n)"),
        {"n": n},
    )
    return sorted(int(i) for (i,) in rows)


def clear_blind(s: Session, media_id: int, agency_id: int) -> None:
    """The agency ingested the content itself: no longer a blind link (migration 0019)."""
    s.execute(
        delete(BlindLink).where(BlindLink.media_id == media_id, BlindLink.agency_id == agency_id)
    )


def cap_other_records(s: Session, media_id: int, agency_id: int) -> int:
    """Agency ``agency_id``'s ingest is about to complete the hash-only item
    ``media_id`` with its file: every other agency's record of it, from an agency
    that does not hold the file, becomes a blind link keeping what the row said so
    far (migration 0027). Returns how many records were capped."""
    if s.get_bind().dialect.name == "postgresql":  # under RLS, as the table owner
        q = text("SELECT tessera_cap_other_records(:m, :a)")
        return int(s.execute(q, {"m": media_id, "a": agency_id}).scalar_one())
    media = s.get(Media, media_id)
    if media is None or media.has_content:
        return 0
    held = select(Sighting.agency_id).where(
        Sighting.media_id == media_id, Sighting.deleted_at.is_(None)
    )
    linked = select(BlindLink.agency_id).where(BlindLink.media_id == media_id)
    agencies = s.scalars(
        select(ExchangeEntry.agency_id).where(
            ExchangeEntry.media_id == media_id,
            ExchangeEntry.agency_id != agency_id,
            ExchangeEntry.agency_id.not_in(held),
            ExchangeEntry.agency_id.not_in(linked),
        )
    ).all()
    if not agencies:
        return 0
    fps = s.execute(
        select(FingerprintModel.algorithm, FingerprintModel.version, FingerprintModel.value)
        .where(FingerprintModel.media_id == media_id, FingerprintModel.position == 0)
        .order_by(FingerprintModel.id)
    ).all()
    hashes = [
        [a, bytes(v).hex() if ver == 1 else bytes(v).decode()]
        for a, ver, v in fps
        if (a == "pdq" and ver == 1) or (ver == 0 and a not in ("pdq", "chromaprint"))
    ]
    for agency in agencies:
        s.add(
            BlindLink(
                media_id=media_id,
                agency_id=int(agency),
                sha256=media.sha256,
                sha1=media.sha1,
                md5=media.md5,
                kind=media.kind,
                byte_size=media.byte_size,
                hashes=hashes or None,
            )
        )
    s.flush()
    return len(agencies)


def link_series(s: Session, series_id: int, media_id: int) -> None:
    """``media_id`` in series ``series_id`` (nothing if it already is)."""
    exists = s.execute(
        select(series_media).where(
            series_media.c.series_id == series_id, series_media.c.media_id == media_id
        )
    ).first()
    if not exists:
        s.execute(insert(series_media).values(series_id=series_id, media_id=media_id))


def status_counts(s: Session, run_id: int) -> list[tuple[str, str | None, int]]:
    """``(status, reason, count)`` over the run's items."""
    rows = s.execute(
        select(IngestItem.status, IngestItem.reason, func.count())
        .where(IngestItem.run_id == run_id)
        .group_by(IngestItem.status, IngestItem.reason)
    )
    return [(status, reason, int(n)) for status, reason, n in rows]


def problems(s: Session, run_id: int) -> list[dict[str, Any]]:
    """The run's failed and skipped paths, in the order they were recorded."""
    rows = s.execute(
        select(IngestItem.path, IngestItem.status, IngestItem.reason, IngestItem.message)
        .where(IngestItem.run_id == run_id, IngestItem.status.in_(("error", "skipped")))
        .order_by(IngestItem.id)
    )
    return [
        {"path": path, "status": status, "reason": reason, "message": message}
        for path, status, reason, message in rows
    ]


def finish_run(s: Session, run_id: int, counts: dict[str, Any]) -> None:
    """Mark the run finished with its summary (a later run of the root starts afresh)."""
    run = s.get(IngestRun, run_id)
    if run is None:
        raise NotFound(f"no ingest run {run_id}")
    run.finished_at = utcnow()
    run.counts = counts


__all__ = [
    "add_sighting",
    "cap_other_records",
    "clear_blind",
    "count_submission",
    "finish_run",
    "link_series",
    "new_media_ids",
    "open_run",
    "problems",
    "recorded_paths",
    "status_counts",
]
