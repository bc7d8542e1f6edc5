"""Stored media: ``tessera media show`` and ``media list``.

What a caller sees of a media item follows ``tessera.app.visibility``: its digests
and series at ``status``; sightings (original paths, times), fingerprints,
camera metadata, OCR text and markers at ``full``. Items the caller may not see do
not exist for them. A list page is cut in SQL (keyset on the media id); for a
caller who does not see everything a page can hold fewer items than the limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.visibility import Level, redact, shared_at, transaction
from tessera.errors import InvalidInput, NotFound
from tessera.storage import cases_agencies, media_queries, repo, sharing
from tessera.storage.media_queries import MediaRow


class MediaSummary(Result):
    """One media item as listings show it."""

    id: int
    sha256: str | None
    """None (as md5, sha1, byte_size) for hash-only media imported from an exchange file."""
    md5: str | None
    sha1: str | None
    kind: str
    format: str | None
    byte_size: int | None
    width: int | None
    height: int | None
    submissions: int
    first_seen_at: Timestamp
    series: tuple[str, ...]

    @classmethod
    def of(cls, row: MediaRow) -> MediaSummary:
        return cls(**row.__dict__)


class MediaSighting(Result):
    """Where a media item was found."""

    id: int
    case_number: str
    agency_code: str
    original_path: str
    file_mtime: Timestamp | None
    file_ctime: Timestamp | None
    seen_at: Timestamp
    run_id: int | None


class MediaFingerprint(Result):
    algorithm: str
    version: int
    position: int
    """0 for a still; for a video frame, 1 + its time in milliseconds."""
    quality: int | None
    value: str | None
    """Hex for PDQ, the text form for Chromaprint; omitted for local features."""
    byte_size: int


class MediaMarker(Result):
    id: int
    type: str
    box: tuple[int, int, int, int]
    note: str | None
    series: str | None


class MediaDetail(Result):
    """``media show``: the item, where it was seen, what is known about it."""

    media: MediaSummary
    level: str = "full"
    sightings: tuple[MediaSighting, ...] = shared_at(Level.FULL, ())
    fingerprints: tuple[MediaFingerprint, ...] = shared_at(Level.FULL, ())
    metadata: dict[str, Any] | None = shared_at(Level.FULL, None)
    text: tuple[str, ...] = shared_at(Level.FULL, ())
    markers: tuple[MediaMarker, ...] = shared_at(Level.FULL, ())


class MediaPage(Result):
    """``media list``: one page; pass ``next_after`` as ``--after`` for the next."""

    items: tuple[MediaSummary, ...]
    next_after: int | None


def _as_recorded(summary: MediaSummary, rec: sharing.BlindRecord | None) -> MediaSummary:
    """An item the caller sees only through a blind link (``visibility`` rule 6): what
    its own record said, as a hash-only item of its own would show it; the row's
    other columns came with another agency's file."""
    if rec is None:
        return summary
    return summary.model_copy(
        update={
            "sha256": rec.sha256.hex() if rec.sha256 is not None else None,
            "sha1": rec.sha1.hex() if rec.sha1 is not None else None,
            "md5": rec.md5.hex() if rec.md5 is not None else None,
            "kind": rec.kind or "other",
            "format": None,
            "byte_size": rec.byte_size,
            "width": None,
            "height": None,
            "submissions": rec.sightings,
            "first_seen_at": rec.linked_at,
        }
    )


def _missing(ref: str) -> NotFound:
    r = ref.strip()
    what = f"id {r}" if r.isdigit() else f"digest {r.lower()}"
    return NotFound(f"no media item with {what}")


def _named(summary: MediaSummary, seen: set[str]) -> MediaSummary:
    """Only the series names the caller sees at ``status`` (a name is a status fact)."""
    keep = tuple(n for n in summary.series if n in seen)
    return summary if keep == summary.series else summary.model_copy(update={"series": keep})


def show(app: App, caller: Caller, ref: str) -> MediaDetail:
    """One media item by id, SHA-256, SHA-1 or MD5 (hex)."""
    with transaction(app, caller) as (s, vis):
        media = media_queries.resolve_media(s, ref)
        if vis.media_level(media.id) < Level.STATUS:  # worded as resolve_media's "missing"
            raise _missing(ref)
        level = vis.media_level(media.id)
        own = vis.own_records([media.id]).get(media.id)
        r = ref.strip().lower()
        if own is not None and not r.isdigit():
            said = {d.hex() for d in (own.sha256, own.sha1, own.md5) if d is not None}
            if r not in said:  # a digest only the other agency's file gave
                raise _missing(ref)
        rec = media_queries.media_detail(s, media)
        seen = set(vis.series_names_of_media([media.id]).get(media.id, []))
        # a sighting (case, path, file times) is its case's: shown where the case is full
        case_of = sharing.cases_of_sightings(s, (x.id for x in rec.sightings))
        case_levels = vis.case_levels(case_of.values())
        sightings = tuple(
            MediaSighting(**x.__dict__)
            for x in rec.sightings
            if case_levels.get(case_of.get(x.id, -1), Level.NONE) >= Level.FULL
        )
    detail = MediaDetail(
        media=_named(_as_recorded(MediaSummary.of(rec.media), own), seen),
        level=level.label,
        sightings=sightings,
        fingerprints=tuple(MediaFingerprint(**x.__dict__) for x in rec.fingerprints),
        metadata=rec.metadata,
        text=rec.text,
        markers=tuple(
            MediaMarker(
                id=m.id,
                type=m.kind,
                box=m.box,
                note=m.note,
                series=m.series if m.series in seen else None,
            )
            for m in rec.markers
        ),
    )
    return redact(detail, level)


def picture_sizes(app: App, caller: Caller, media_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(width, height) of the media items the caller sees at ``status`` (as ``show``
    gives them), in one transaction: for drawing regions on their pictures."""
    with transaction(app, caller) as (s, vis):
        seen = vis.seen_media(media_ids, Level.STATUS)
        blind = vis.own_records(seen)  # sizes came with another agency's file
        return media_queries.picture_sizes(s, [m for m in seen if m not in blind])


def list_media(
    app: App,
    caller: Caller,
    *,
    series: str | None = None,
    case: str | None = None,
    agency: str | None = None,
    limit: int = 50,
    after: int = 0,
    sort: str = "id",
    descending: bool = False,
    offset: int = 0,
) -> MediaPage:
    """Media in id order, optionally of one series, one case or one agency's sightings;
    or in another ``MEDIA_SORTS`` order (sorted in SQL, then by id), paged by ``offset``.

    ``case`` is a case number; with ``agency`` it names that agency's case, without
    it every agency's case of that number.
    """
    if series is not None and case is not None:
        raise InvalidInput("give --series or --case, not both")
    with transaction(app, caller) as (s, vis):
        series_id = None
        if series is not None:
            row = repo.get_series(s, series)
            vis.require_series(row)
            series_id = row.id
        case_ids = None
        agency_id = None
        if case is not None:
            found = cases_agencies.find_cases(s, case, agency)
            seen_cases = vis.case_levels(c.id for c in found)
            case_ids = [c.id for c in found if seen_cases[c.id] >= Level.STATUS]
            if not case_ids:  # worded as find_cases words a missing case
                where = f" of agency {agency!r}" if agency else ""
                raise NotFound(f"no case {case!r}{where}")
        elif agency is not None:
            agency_id = repo.get_agency(s, agency).id
        page = media_queries.list_media(
            s,
            series_id=series_id,
            case_ids=case_ids,
            agency_id=agency_id,
            limit=limit,
            after_id=after,
            sort=sort,
            descending=descending,
            offset=offset,
            viewer_agency=None if vis.everything else vis.agency_id,
        )
        levels = vis.media_levels(m.id for m in page.items)
        names = vis.series_names_of_media(m.id for m in page.items)
        own = vis.own_records(m.id for m in page.items)
    return MediaPage(
        items=tuple(
            _named(_as_recorded(MediaSummary.of(m), own.get(m.id)), set(names.get(m.id, [])))
            for m in page.items
            if levels[m.id] >= Level.STATUS
        ),
        next_after=page.next_after,
    )


__all__ = [
    "MediaDetail",
    "MediaFingerprint",
    "MediaMarker",
    "MediaPage",
    "MediaSighting",
    "MediaSummary",
    "list_media",
    "picture_sizes",
    "show",
]
