"""Reading stored media for people: resolve a reference, one item in full, pages of items.

``tessera media show`` and ``media list`` and ``lookup`` need the same facts in
the same shape; they live here so no interface builds its own query. Soft-deleted
media, sightings and series memberships are left out of every answer.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, select, true
from sqlalchemy.orm import Session

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.storage import prepared
from tessera.storage.models import (
    Agency,
    BlindLink,
    Case,
    FingerprintModel,
    Marker,
    Media,
    MediaMetadataModel,
    MediaText,
    Series,
    Sighting,
    series_media,
)
from tessera.storage.sorting import Column, ordered

_HEX = re.compile(r"^[0-9a-fA-F]+$")
MAX_PAGE = 1000
"""``media list`` returns at most this many items per page."""


@dataclass(frozen=True)
class MediaRow:
    """One media item as lists show it."""

    id: int
    sha256: str | None
    """None for hash-only media imported from an exchange file."""
    md5: str | None
    sha1: str | None
    kind: str
    format: str | None
    byte_size: int | None
    width: int | None
    height: int | None
    submissions: int
    first_seen_at: datetime
    series: tuple[str, ...]


@dataclass(frozen=True)
class SightingRow:
    id: int
    case_number: str
    agency_code: str
    original_path: str
    file_mtime: datetime | None
    file_ctime: datetime | None
    seen_at: datetime
    run_id: int | None


@dataclass(frozen=True)
class FingerprintRow:
    algorithm: str
    version: int
    position: int
    quality: int | None
    value: str | None
    """Hex for PDQ, the text form for Chromaprint; None for local features (large)."""
    byte_size: int


@dataclass(frozen=True)
class MarkerRow:
    id: int
    kind: str
    box: tuple[int, int, int, int]
    note: str | None
    series: str | None


@dataclass(frozen=True)
class MediaRecord:
    """Everything stored about one media item, for ``tessera media show``."""

    media: MediaRow
    sightings: tuple[SightingRow, ...]
    fingerprints: tuple[FingerprintRow, ...]
    metadata: dict[str, Any] | None
    text: tuple[str, ...]
    markers: tuple[MarkerRow, ...]


@dataclass(frozen=True)
class MediaRowPage:
    items: tuple[MediaRow, ...]
    next_after: int | None
    """Pass as ``after_id`` for the next page; None when this page is the last."""


def resolve_media(s: Session, ref: str) -> Media:
    """A live media item by id (digits), SHA-256 (64 hex), SHA-1 (40 hex) or MD5 (32 hex)."""
    ref = ref.strip()
    if ref.isdigit():
        media = s.get(Media, int(ref))
        if media is None or media.deleted_at is not None:
            raise NotFound(f"no media item with id {ref}")
        return media
    column = {64: Media.sha256, 40: Media.sha1, 32: Media.md5}.get(len(ref))
    if column is None or not _HEX.match(ref):
        raise InvalidInput(f"{ref!r} is neither a media id nor a SHA-256, SHA-1 or MD5 in hex")
    found = s.scalars(
        select(Media)
        .where(column == bytes.fromhex(ref), Media.deleted_at.is_(None))
        .order_by(Media.id)
        .limit(2)
    ).all()
    if not found:
        raise NotFound(f"no media item with digest {ref.lower()}")
    if len(found) > 1:
        raise Conflict(f"digest {ref.lower()} names several media items; use the SHA-256 or id")
    return found[0]


_SERIES_NAMES = (
    select(series_media.c.media_id, Series.name)
    .join(Series, Series.id == series_media.c.series_id)
    .where(
        series_media.c.media_id.in_(prepared.ids_param()),
        series_media.c.deleted_at.is_(None),
        Series.deleted_at.is_(None),
    )
    .order_by(Series.name)
)


def series_names(s: Session, media_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """media id -> names of the live series it is a live member of (a statement built
    once: a page's 48-96 ids cost SQLAlchemy's expanding ``IN`` ~2 ms of CPU a call)."""
    out: dict[int, list[str]] = {}
    for chunk in prepared.chunks(media_ids):
        for mid, name in prepared.rows(s, _SERIES_NAMES, ids=chunk):
            out.setdefault(int(mid), []).append(str(name))
    return {k: tuple(v) for k, v in out.items()}


def summaries(s: Session, media_ids: Sequence[int]) -> dict[int, MediaRow]:
    """Live media items by id (deleted or unknown ids are absent)."""
    ids = sorted(set(media_ids))
    names = series_names(s, ids)
    out: dict[int, MediaRow] = {}
    for i in range(0, len(ids), 500):
        for m in s.scalars(
            select(Media).where(Media.id.in_(ids[i : i + 500]), Media.deleted_at.is_(None))
        ):
            out[m.id] = summary(m, names.get(m.id, ()))
    return out


def picture_sizes(s: Session, media_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Live media items' (width, height), where both are known: one query a 500 ids."""
    ids = sorted(set(media_ids))
    out: dict[int, tuple[int, int]] = {}
    for i in range(0, len(ids), 500):
        for mid, w, h in s.execute(
            select(Media.id, Media.width, Media.height).where(
                Media.id.in_(ids[i : i + 500]), Media.deleted_at.is_(None)
            )
        ):
            if w and h:
                out[int(mid)] = (int(w), int(h))
    return out


def summary(m: Media, series: tuple[str, ...]) -> MediaRow:
    return MediaRow(
        id=m.id,
        sha256=bytes(m.sha256).hex() if m.sha256 is not None else None,
        md5=bytes(m.md5).hex() if m.md5 is not None else None,
        sha1=bytes(m.sha1).hex() if m.sha1 is not None else None,
        kind=m.kind,
        format=m.format,
        byte_size=int(m.byte_size) if m.byte_size is not None else None,
        width=m.width,
        height=m.height,
        submissions=int(m.submissions or 0),
        first_seen_at=m.first_seen_at,
        series=series,
    )


def pdq_values(s: Session, media_id: int) -> list[bytes]:
    """The item's PDQ values (stills and frames), in ``media_detail``'s order
    (by position), the empty ones left out: one read where the whole detail is six."""
    rows = s.scalars(
        select(FingerprintModel.value)
        .where(FingerprintModel.media_id == media_id, FingerprintModel.algorithm == "pdq")
        .order_by(FingerprintModel.position)
    )
    return [bytes(v) for v in rows if v]


def media_detail(s: Session, media: Media) -> MediaRecord:
    sightings = tuple(
        SightingRow(
            id=sg.id,
            case_number=number,
            agency_code=code,
            original_path=sg.original_path,
            file_mtime=sg.file_mtime,
            file_ctime=sg.file_ctime,
            seen_at=sg.seen_at,
            run_id=sg.run_id,
        )
        for sg, number, code in s.execute(
            select(Sighting, Case.number, Agency.code)
            .join(Case, Case.id == Sighting.case_id)
            .join(Agency, Agency.id == Sighting.agency_id)
            .where(Sighting.media_id == media.id, Sighting.deleted_at.is_(None))
            .order_by(Sighting.id)
        )
    )
    fingerprints = []
    for fp in s.scalars(
        select(FingerprintModel)
        .where(FingerprintModel.media_id == media.id)
        .order_by(FingerprintModel.algorithm, FingerprintModel.position)
    ):
        raw = bytes(fp.value)
        value: str | None = None
        if fp.algorithm == "pdq":
            value = raw.hex()
        elif fp.algorithm == "chromaprint":
            value = raw.decode("ascii", "replace")
        fingerprints.append(
            FingerprintRow(fp.algorithm, fp.version, fp.position, fp.quality, value, len(raw))
        )
    md = s.get(MediaMetadataModel, media.id)
    metadata: dict[str, Any] | None = None
    if md is not None:
        metadata = {
            "make": md.make,
            "model": md.model,
            "body_serial": md.body_serial,
            "camera_key": md.camera_key,
            "lens": md.lens,
            "software": md.software,
            "captured_at": md.captured_at,
            "latitude": md.latitude,
            "longitude": md.longitude,
        }
    text = tuple(
        s.scalars(
            select(MediaText.text)
            .where(MediaText.media_id == media.id)
            .order_by(MediaText.position, MediaText.id)
        )
    )
    markers = tuple(
        MarkerRow(mk.id, mk.kind, (mk.x0, mk.y0, mk.x1, mk.y1), mk.note, name)
        for mk, name in s.execute(
            select(Marker, Series.name)
            .outerjoin(Series, Series.id == Marker.series_id)
            .where(Marker.media_id == media.id)
            .order_by(Marker.id)
        )
    )
    return MediaRecord(
        media=summary(media, series_names(s, [media.id]).get(media.id, ())),
        sightings=sightings,
        fingerprints=tuple(fingerprints),
        metadata=metadata,
        text=text,
        markers=markers,
    )


MEDIA_SORTS = ("id", "size", "kind", "agencies", "first-seen")


def _blind_keys(agency_id: int) -> dict[str, Column]:
    """What an item the agency links blind (``BlindLink``, joined) sorts by: what its
    own record said, as ``tessera.app.media`` shows it (its recorded size and kind,
    its own live sightings, the time it linked). The row's values came with another
    agency's file; sorting by them would hint at them. (Where that agency's series
    shows the item at status the row's values are shown, and it still sorts by the
    record's: an order never tells more than the record.)"""
    own_sightings = (
        select(func.count())
        .where(
            Sighting.media_id == Media.id,
            Sighting.agency_id == agency_id,
            Sighting.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    return {
        "size": BlindLink.byte_size,
        "kind": func.coalesce(BlindLink.kind, "other"),
        "agencies": own_sightings,
        "first-seen": BlindLink.linked_at,
    }


def _merged_page(
    s: Session,
    q: Select[Any],
    keys: dict[str, Column],
    sort: str,
    *,
    descending: bool,
    viewer_agency: int,
    upto: int,
) -> list[Media]:
    """The first ``upto`` items in ``sort`` order where the viewer's blind items count
    with their own record's values: two ordered reads merged, the items it does not
    link blind (in the row's order, which its index gives: a page reads a page) and
    those it does (in the record's order), so a sorted page never sorts the whole
    table (a CASE over both would: 21 s a page through RLS at 100k)."""
    linked = and_(BlindLink.media_id == Media.id, BlindLink.agency_id == viewer_agency)
    plain = ordered(
        select(Media, keys[sort]).where(
            q.whereclause if q.whereclause is not None else true(),
            ~exists().where(linked),
        ),
        keys,
        sort,
        descending=descending,
        tie=Media.id,
        what="media",
    )
    blind_keys = _blind_keys(viewer_agency)
    blind = ordered(
        select(Media, blind_keys[sort])
        .join(BlindLink, linked)
        .where(q.whereclause if q.whereclause is not None else true()),
        blind_keys,
        sort,
        descending=descending,
        tie=Media.id,
        what="media",
    )
    # SQL's order of NULLs: PostgreSQL puts them after every value, SQLite before
    nulls_last = s.get_bind().dialect.name == "postgresql"

    def rank(row: Any) -> tuple[int, Any, int]:
        value = row[1]
        return (
            (1 if nulls_last else 0) if value is None else (0 if nulls_last else 1),
            value,
            row[0].id,
        )

    streams = [s.execute(part.limit(upto)).all() for part in (plain, blind)]
    return [row[0] for row in heapq.merge(*streams, key=rank, reverse=descending)][:upto]


def list_media(
    s: Session,
    *,
    series_id: int | None = None,
    case_ids: Sequence[int] | None = None,
    agency_id: int | None = None,
    limit: int = 50,
    after_id: int = 0,
    sort: str = "id",
    descending: bool = False,
    offset: int = 0,
    viewer_agency: int | None = None,
) -> MediaRowPage:
    """Live media in id order, one page (keyset pagination in SQL), optionally filtered
    by series membership, by a sighting in one of ``case_ids``, or by a sighting
    submitted by ``agency_id``. In another ``MEDIA_SORTS`` order (then by id) the
    page is chosen by ``offset``; ``viewer_agency``'s blind links sort by what its
    own record said (``_sort_keys``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    if after_id < 0 or offset < 0:
        raise InvalidInput("after and offset must not be negative")
    q = select(Media).where(Media.deleted_at.is_(None), Media.id > after_id)
    if series_id is not None:
        q = q.where(
            exists().where(
                series_media.c.media_id == Media.id,
                series_media.c.series_id == series_id,
                series_media.c.deleted_at.is_(None),
            )
        )
    if case_ids is not None or agency_id is not None:
        cond = [Sighting.media_id == Media.id, Sighting.deleted_at.is_(None)]
        if case_ids is not None:
            cond.append(Sighting.case_id.in_(list(case_ids) or [-1]))
        if agency_id is not None:
            cond.append(Sighting.agency_id == agency_id)
        q = q.where(exists().where(*cond))
    keys: dict[str, Column] = {
        "id": Media.id,
        "size": Media.byte_size,
        "kind": Media.kind,
        "agencies": Media.submissions,
        "first-seen": Media.first_seen_at,
    }
    if viewer_agency is not None and sort in keys and sort != "id":
        upto = offset + limit + 1
        rows: Sequence[Media] = _merged_page(
            s, q, keys, sort, descending=descending, viewer_agency=viewer_agency, upto=upto
        )[offset:]
    else:
        q = ordered(q, keys, sort, descending=descending, tie=Media.id, what="media")
        rows = s.scalars(q.limit(limit + 1).offset(offset)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    names = series_names(s, [m.id for m in rows])
    items = tuple(summary(m, names.get(m.id, ())) for m in rows)
    return MediaRowPage(items, items[-1].id if more and items else None)


__all__ = [
    "MAX_PAGE",
    "MEDIA_SORTS",
    "FingerprintRow",
    "MarkerRow",
    "MediaRecord",
    "MediaRow",
    "MediaRowPage",
    "SightingRow",
    "list_media",
    "media_detail",
    "pdq_values",
    "picture_sizes",
    "resolve_media",
    "series_names",
    "summaries",
    "summary",
]
