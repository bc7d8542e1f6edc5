"""Who submitted a series' media and what agencies said of them, counted in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from tessera.storage.db import Session
from tessera.storage.models import Agency, MediaVerdict, Sighting, series_media


@dataclass(frozen=True)
class SubmissionRow:
    agency: str
    country: str
    media: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class VerdictRow:
    agency: str
    country: str
    verdict: str
    reason: str | None
    media: int


def _members(series_id: int):  # type: ignore[no-untyped-def]
    return (
        select(series_media.c.media_id)
        .where(series_media.c.series_id == series_id, series_media.c.deleted_at.is_(None))
        .scalar_subquery()
    )


def submissions(s: Session, series_id: int) -> list[SubmissionRow]:
    """Per submitting agency: how many of the series' media it has seen, first and last."""
    rows = s.execute(
        select(
            Agency.code,
            Agency.country,
            func.count(func.distinct(Sighting.media_id)),
            func.min(Sighting.seen_at),
            func.max(Sighting.seen_at),
        )
        .join(Agency, Agency.id == Sighting.agency_id)
        .where(Sighting.media_id.in_(_members(series_id)), Sighting.deleted_at.is_(None))
        .group_by(Agency.code, Agency.country)
        .order_by(func.count(func.distinct(Sighting.media_id)).desc(), Agency.code)
    )
    return [SubmissionRow(str(a), str(c), int(n), lo, hi) for a, c, n, lo, hi in rows]


def verdicts(s: Session, series_id: int) -> list[VerdictRow]:
    """Per agency and verdict (confirm / dispute, with reason): how many of the series' media."""
    rows = s.execute(
        select(
            Agency.code,
            Agency.country,
            MediaVerdict.verdict,
            MediaVerdict.reason,
            func.count(MediaVerdict.media_id),
        )
        .join(Agency, Agency.id == MediaVerdict.agency_id)
        .where(MediaVerdict.media_id.in_(_members(series_id)))
        .group_by(Agency.code, Agency.country, MediaVerdict.verdict, MediaVerdict.reason)
        .order_by(MediaVerdict.verdict, Agency.code)
    )
    return [VerdictRow(str(a), str(c), str(v), r, int(n)) for a, c, v, r, n in rows]


__all__ = ["SubmissionRow", "VerdictRow", "submissions", "verdicts"]
