"""Markers: regions of a media item an investigator flagged as a clue.

A marker keeps its own local features (the region's keypoints), so "find this
elsewhere" can run on any node that holds the features, without the picture.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.errors import InvalidInput, NotFound
from tessera.storage.models import MARKER_KINDS, Location, Marker, Media, Series

Box = tuple[int, int, int, int]


def parse_box(text: str) -> Box:
    """``"x0,y0,x1,y1"`` in pixels of the full picture, x1 > x0 and y1 > y0."""
    parts = text.replace(" ", "").split(",")
    try:
        x0, y0, x1, y1 = (int(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"box {text!r} must be four integers x0,y0,x1,y1") from None
    if x0 < 0 or y0 < 0 or x1 <= x0 or y1 <= y0:
        raise InvalidInput(f"box {text!r} must have 0 <= x0 < x1 and 0 <= y0 < y1")
    return (x0, y0, x1, y1)


def create_marker(
    s: Session,
    media: Media,
    box: Box,
    kind: str,
    features: bytes,
    *,
    note: str | None = None,
    series: Series | None = None,
    location: Location | None = None,
    agency_id: int | None = None,
) -> Marker:
    if kind not in MARKER_KINDS:
        raise InvalidInput(f"marker type {kind!r} is not one of {', '.join(MARKER_KINDS)}")
    x0, y0, x1, y1 = box
    if media.width and media.height and (x1 > media.width or y1 > media.height):
        raise InvalidInput(
            f"box {box} is outside the {media.width}x{media.height} picture of media {media.id}"
        )
    marker = Marker(
        media_id=media.id,
        kind=kind,
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
        note=note,
        series_id=series.id if series else None,
        location_id=location.id if location else None,
        agency_id=agency_id,
        features=features,
    )
    s.add(marker)
    s.flush()
    return marker


def get_marker(s: Session, marker_id: int) -> Marker:
    marker = s.get(Marker, marker_id)
    if marker is None:
        raise NotFound(f"no marker with id {marker_id}")
    return marker


def list_markers(
    s: Session,
    *,
    series_id: int | None = None,
    location_id: int | None = None,
    media_id: int | None = None,
) -> Sequence[Marker]:
    q = (
        select(Marker)
        .join(Media, Media.id == Marker.media_id)
        .where(Media.deleted_at.is_(None))
        .order_by(Marker.id)
    )
    if series_id is not None:
        q = q.where(Marker.series_id == series_id)
    if location_id is not None:
        q = q.where(Marker.location_id == location_id)
    if media_id is not None:
        q = q.where(Marker.media_id == media_id)
    return s.scalars(q).all()


def markers_page(
    s: Session,
    *,
    kind: str | None = None,
    limit: int = 50,
    after_id: int = 0,
    newest: bool = False,
) -> Sequence[Marker]:
    """Markers (optionally of one type) on live media, in id order after ``after_id``
    (``newest``: descending, ids below ``after_id`` when it is not 0): one page cut in SQL."""
    if kind is not None and kind not in MARKER_KINDS:
        raise InvalidInput(f"marker type {kind!r} is not one of {', '.join(MARKER_KINDS)}")
    if not 1 <= limit <= 501:
        raise InvalidInput("a page holds 1..500 markers")
    q = (
        select(Marker)
        .join(Media, Media.id == Marker.media_id)
        .where(Media.deleted_at.is_(None))
        .limit(limit)
    )
    if newest:
        q = (q.where(Marker.id < after_id) if after_id else q).order_by(Marker.id.desc())
    else:
        q = q.where(Marker.id > after_id).order_by(Marker.id)
    if kind is not None:
        q = q.where(Marker.kind == kind)
    return s.scalars(q).all()


def get_location(s: Session, location_id: int) -> Location:
    loc = s.get(Location, location_id)
    if loc is None:
        raise NotFound(f"no location with id {location_id}")
    return loc


__all__ = [
    "Box",
    "create_marker",
    "get_location",
    "get_marker",
    "list_markers",
    "markers_page",
    "parse_box",
]
