"""Who submitted a series' media and what agencies said of them, counted in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, case, func, select

from tessera.storage.db import Session
from tessera.storage.models import (
    Agency,
    MediaVerdict,
    Sighting,
    series_agency_submissions,
    series_media,
)
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
    last; in ``sort`` order (``SUBMISSION_SORTS``), then by agency code.

    Read from ``series_agency_submissions``, kept by triggers (migration 0023): every
    agency's live sightings of live members, whoever asks (a ``status`` fact of the
    series). A row whose first / last time a removal made inexact gets the two
    times recounted over that agency's sightings of the series only."""
    agg = series_agency_submissions.c
    exact_first, exact_last = _recounted(series_id)
    lo = case((agg.exact, agg.first_seen), else_=exact_first).label("lo")
    hi = case((agg.exact, agg.last_seen), else_=exact_last).label("hi")
    per_agency = (
        select(agg.agency_id, agg.media.label("n"), lo, hi)
        .where(agg.series_id == series_id, agg.media > 0)
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


def _recounted(series_id: int) -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """The first and last live sighting, by the aggregate row's agency, of the series'
    live members: correlated, so only the (rare) inexact rows pay for it."""
    agg = series_agency_submissions.c

    def one(fn: Any) -> ScalarSelect[Any]:
        return (
            select(fn(Sighting.seen_at))
            .select_from(series_media)
            .join(Sighting, Sighting.media_id == series_media.c.media_id)
            .where(
                series_media.c.series_id == series_id,
                series_media.c.deleted_at.is_(None),
                Sighting.deleted_at.is_(None),
                Sighting.agency_id == agg.agency_id,
            )
            .scalar_subquery()
        )

    return one(func.min), one(func.max)


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
