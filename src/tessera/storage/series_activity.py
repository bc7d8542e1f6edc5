"""Who submitted a series' media and what agencies said of them, counted in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from tessera.storage.db import Session
from tessera.storage.models import Agency, MediaVerdict, Sighting, series_media
from tessera.storage.sorting import ordered


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


SUBMISSION_SORTS = ("media", "agency", "first-seen", "last-seen")


def submissions(
    s: Session, series_id: int, *, sort: str = "media", descending: bool = True
) -> list[SubmissionRow]:
    """Per submitting agency: how many of the series' media it has seen, first and
    last; in ``sort`` order (``SUBMISSION_SORTS``), then by agency code."""
    per_agency = (
        select(
            Sighting.agency_id,
            func.count(func.distinct(Sighting.media_id)).label("n"),
            func.min(Sighting.seen_at).label("lo"),
            func.max(Sighting.seen_at).label("hi"),
        )
        .select_from(series_media)
        # A join from the series' members, grouped on the bare agency id (the agency
        # joined once per group): ~25% less CPU than IN (members) at 100k media.
        .join(Sighting, Sighting.media_id == series_media.c.media_id)
        .where(
            series_media.c.series_id == series_id,
            series_media.c.deleted_at.is_(None),
            Sighting.deleted_at.is_(None),
        )
        .group_by(Sighting.agency_id)
        .subquery()
    )
    keys = {
        "media": per_agency.c.n,
        "agency": Agency.code,
        "first-seen": per_agency.c.lo,
        "last-seen": per_agency.c.hi,
    }
    q = select(Agency.code, Agency.country, per_agency.c.n, per_agency.c.lo, per_agency.c.hi).join(
        per_agency, per_agency.c.agency_id == Agency.id
    )
    q = ordered(q, keys, sort, descending=descending, tie=Agency.code, what="submissions")
    rows = s.execute(q)
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
        # Driven from the (few) verdicts, each checked by the membership key: an
        # IN over a 100k-media series' members cost ~40 ms even with no verdict.
        .where(
            select(series_media.c.media_id)
            .where(
                series_media.c.series_id == series_id,
                series_media.c.media_id == MediaVerdict.media_id,
                series_media.c.deleted_at.is_(None),
            )
            .exists()
        )
        .group_by(Agency.code, Agency.country, MediaVerdict.verdict, MediaVerdict.reason)
        .order_by(MediaVerdict.verdict, Agency.code)
    )
    return [VerdictRow(str(a), str(c), str(v), r, int(n)) for a, c, v, r, n in rows]


__all__ = ["SUBMISSION_SORTS", "SubmissionRow", "VerdictRow", "submissions", "verdicts"]
