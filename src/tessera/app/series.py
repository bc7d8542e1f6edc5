"""Series: media of the same victim(s), owned by an agency, with identification status."""

from __future__ import annotations

from typing import Literal

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.storage import camera_links, markers, repo


class SeriesSummary(Result):
    """A series' owner, identification status, category and size."""

    series_id: int
    name: str
    owner_code: str
    owner_country: str
    owner_name: str
    contact: str | None
    victim_identified: bool
    victim_identified_by: str | None
    victim_identified_at: Timestamp | None
    offender_identified: bool
    offender_identified_by: str | None
    offender_identified_at: Timestamp | None
    baseline: bool
    category_profile: str | None
    category: int | None
    media_count: int

    @classmethod
    def of(cls, st: repo.SeriesStatus) -> SeriesSummary:
        return cls(**st.__dict__)


class SeriesMarker(Result):
    """A marker recorded for the series (see ``tessera.app.markers`` for the full form)."""

    id: int
    media_id: int
    type: str
    note: str | None


class LinkedMedia(Result):
    """Media linked to the series through metadata (same camera body, GPS nearby)."""

    media_id: int
    via_media: int
    reason: str
    detail: str


class SeriesDetail(SeriesSummary):
    """``series show``: the summary, the series' markers and metadata-linked media."""

    markers: tuple[SeriesMarker, ...] = ()
    linked_media: tuple[LinkedMedia, ...] = ()


def create(
    app: App,
    caller: Caller,
    name: str,
    agency_code: str,
    *,
    baseline: bool = False,
    category_profile: str | None = None,
    category: int | None = None,
    notes: str | None = None,
) -> SeriesSummary:
    """Create series ``name`` owned by ``agency_code``."""
    with app.transaction() as s:
        agency = repo.get_agency(s, agency_code)
        series = repo.create_series(
            s,
            name,
            agency,
            baseline=baseline,
            category_profile=category_profile,
            category=category,
            notes=notes,
        )
        return SeriesSummary.of(repo.series_status(s, series))


def list_series(app: App, caller: Caller) -> list[SeriesSummary]:
    """Every series with its status, by name."""
    with app.transaction() as s:
        return [SeriesSummary.of(repo.series_status(s, x)) for x in repo.list_series(s)]


def show(app: App, caller: Caller, name: str) -> SeriesDetail:
    """One series: status, markers, and media linked to it by camera or GPS."""
    with app.transaction() as s:
        series = repo.get_series(s, name)
        st = repo.series_status(s, series)
        marks = tuple(
            SeriesMarker(id=m.id, media_id=m.media_id, type=m.kind, note=m.note)
            for m in markers.list_markers(s, series_id=series.id)
        )
        links = tuple(
            LinkedMedia(media_id=ln.media_id, via_media=mid, reason=ln.reason, detail=ln.detail)
            for mid, ln in camera_links.series_links(s, series.id)
        )
    return SeriesDetail(**st.__dict__, markers=marks, linked_media=links)


def set_status(
    app: App,
    caller: Caller,
    name: str,
    *,
    victim_identified: bool | None = None,
    offender_identified: bool | None = None,
    by_code: str | None = None,
) -> SeriesSummary:
    """Record whether the series' victim / offender is identified, and by which agency."""
    with app.transaction() as s:
        series = repo.get_series(s, name)
        by = repo.get_agency(s, by_code) if by_code else None
        changes: list[tuple[Literal["victim", "offender"], bool | None]] = [
            ("victim", victim_identified),
            ("offender", offender_identified),
        ]
        for who, value in changes:
            if value is not None:
                repo.set_identified(s, series, who, value, by=by)
        return SeriesSummary.of(repo.series_status(s, series))


__all__ = [
    "LinkedMedia",
    "SeriesDetail",
    "SeriesMarker",
    "SeriesSummary",
    "create",
    "list_series",
    "set_status",
    "show",
]
