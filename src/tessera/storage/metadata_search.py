"""Searching stored camera metadata: by camera body serial, and by place.

Both answer one page cut in SQL. A serial with its make is the stored camera key
(indexed equality); a serial alone matches the key's serial part (``%/serial``),
a scan in media id order that stops at the page's end. On PostgreSQL that match is
written ``right(camera_key, n) = '/serial'``: the same rows, but the planner guesses
a LIKE's rows from the column's statistics (3 of 100k for a serial on 1,026) and
then reads the whole table to sort what it finds, each row first checked by the
Row-Level Security policy (15-28 s as the service role at 100k media, load 9-12);
for an equality it guesses 1 in 200 and reads the id index in order, stopping at
the page's end (~3,000 rows checked: 0.4 s at load 12). Through a connection RLS
filters (the service role), ``tessera_camera_search`` (migration 0031) does that
scan as the owner and applies the read rule to the matching rows only. A place is a radius around
a point: the indexed latitude/longitude bounding box, ordered in SQL by the
equirectangular distance (plain arithmetic, the same on SQLite and PostgreSQL),
and the exact haversine distance applied to the page's rows. Over a radius of a
few kilometres the two orders agree, so pages neither skip nor repeat points
(the corner points of the box, outside the circle, sort last and are dropped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select, text, true
from sqlalchemy.orm import Session

from tessera.errors import InvalidInput
from tessera.media.metadata import EARTH_RADIUS_M, haversine_m
from tessera.storage.models import Media, MediaMetadataModel
from tessera.storage.sorting import ordered

MAX_PAGE = 500
MAX_RADIUS_M = 1_000_000.0


@dataclass(frozen=True)
class CameraRow:
    media_id: int
    camera_key: str
    make: str | None
    model: str | None
    body_serial: str | None


@dataclass(frozen=True)
class PlaceRow:
    media_id: int
    latitude: float
    longitude: float
    distance_m: float


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE + 1 or offset < 0:
        raise InvalidInput(f"a page holds 1..{MAX_PAGE} items from offset >= 0")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def by_camera_key(
    s: Session, key: str, *, exact: bool, limit: int, after_id: int = 0, newest: bool = False
) -> list[CameraRow]:
    """Live media whose camera key is ``key`` (``exact``) or ends with it (``/serial``),
    in media id order after ``after_id`` (``newest``: descending, ids below ``after_id``
    when it is not 0)."""
    _check_page(limit, 0)
    col = MediaMetadataModel.camera_key
    if exact:
        cond = col == key
    elif s.get_bind().dialect.name == "postgresql":  # the same rows; see the module's doc
        if s.scalar(text("SELECT row_security_active('media_metadata')")):
            return _camera_rows_rls(s, key, limit=limit, after_id=after_id, newest=newest)
        cond = func.right(col, len(key)) == key
    else:
        cond = col.like("%" + _like_escape(key), escape="\\")
    q = (
        select(
            MediaMetadataModel.media_id,
            col,
            MediaMetadataModel.make,
            MediaMetadataModel.model,
            MediaMetadataModel.body_serial,
        )
        .join(Media, Media.id == MediaMetadataModel.media_id)
        .where(cond, Media.deleted_at.is_(None))
        .limit(limit)
    )
    mid = MediaMetadataModel.media_id
    if newest:
        q = q.where(mid < after_id) if after_id else q
        q = q.order_by(mid.desc())
    else:
        q = q.where(mid > after_id).order_by(mid)
    return [CameraRow(int(m), str(k), mk, md, sn) for m, k, mk, md, sn in s.execute(q)]


def _camera_rows_rls(
    s: Session, suffix: str, *, limit: int, after_id: int, newest: bool
) -> list[CameraRow]:
    """``by_camera_key``'s serial-only page where Row-Level Security filters the
    connection: ``tessera_camera_search`` (migration 0031) matches the serial before
    it applies the read rule, which the policy-filtered query checked first on every
    row it read (the same rows; see the module's doc)."""
    rows = s.execute(
        text(
            "SELECT f.media_id, f.camera_key, f.make, f.model, f.body_serial "
            "FROM tessera_camera_search(:k, :newest, :after, :n) WITH ORDINALITY f "
            "ORDER BY f.ordinality"
        ),
        {"k": suffix, "newest": newest, "after": after_id, "n": limit},
    )
    return [CameraRow(int(m), str(k), mk, md, sn) for m, k, mk, md, sn in rows]


def check_point(lat: float, lon: float, radius_m: float) -> None:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InvalidInput(f"latitude {lat} is not within -90..90")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InvalidInput(f"longitude {lon} is not within -180..180")
    if not (math.isfinite(radius_m) and 0.0 < radius_m <= MAX_RADIUS_M):
        raise InvalidInput(f"radius {radius_m} m is not within 0..{MAX_RADIUS_M:.0f} m")


def lon_window(column: Any, lon: float, dlon: float) -> Any:
    """SQL: ``column`` within ``dlon`` degrees of ``lon``, wrapping at ±180° (a box
    around Fiji spans 179°E..-179°W: two ranges, not one empty one)."""
    if dlon >= 180.0:
        return true()
    lo, hi = lon - dlon, lon + dlon
    if lo < -180.0:
        return or_(column >= lo + 360.0, column <= hi)
    if hi > 180.0:
        return or_(column >= lo, column <= hi - 360.0)
    return column.between(lo, hi)


def lon_ranges(lon: float, dlon: float) -> list[tuple[float, float]]:
    """``lon_window`` as closed ranges, a longitude in one of them (two across the
    antimeridian; every longitude when ``dlon >= 180``)."""
    if dlon >= 180.0:
        return [(-math.inf, math.inf)]
    lo, hi = lon - dlon, lon + dlon
    if lo < -180.0:
        return [(lo + 360.0, math.inf), (-math.inf, hi)]
    if hi > 180.0:
        return [(lo, math.inf), (-math.inf, hi - 360.0)]
    return [(lo, hi)]


def in_boxes_rls(
    s: Session, boxes: list[tuple[float, float, float, float]]
) -> list[tuple[int, int, float | None, float | None]]:
    """(box index, media id, latitude, longitude) of live media whose metadata lies in
    each (lat, dlat, lon, dlon) box, where Row-Level Security filters the connection:
    ``tessera_metadata_in_boxes`` (migration 0031) reads each box through the
    latitude/longitude index as the owner and checks the read rule once a row, where
    the policy-filtered join checked it twice (the metadata row's policy and the media
    row's). The same rows, for a caller's every box in one statement."""
    cols: list[list[float]] = [[], [], [], [], []]
    for j, (lat, dlat, lon, dlon) in enumerate(boxes):
        for lo, hi in lon_ranges(lon, dlon):
            for col, v in zip(cols, (j, lat - dlat, lat + dlat, lo, hi), strict=True):
                col.append(v)
    rows = s.execute(
        text(
            "SELECT f.j, f.media_id, f.latitude, f.longitude "
            "FROM tessera_metadata_in_boxes(CAST(:j AS bigint[]), :a, :b, :c, :d) f"
        ),
        dict(zip(("j", "a", "b", "c", "d"), cols, strict=True)),
    )
    return [(int(j), int(m), lat, lon) for j, m, lat, lon in rows]


def rls_filters(s: Session, table: str) -> bool:
    """True where Row-Level Security filters this connection's reads of ``table`` (the
    service role on PostgreSQL); False for the owner and on SQLite."""
    if s.get_bind().dialect.name != "postgresql":
        return False
    known: dict[str, bool] = s.info.setdefault(_RLS_ACTIVE, {})
    if table not in known:  # the session's role does not change: asked once a session
        known[table] = bool(s.scalar(text("SELECT row_security_active(:t)"), {"t": table}))
    return known[table]


_RLS_ACTIVE = "tessera.rls_active"


def lon_delta(column: Any, lon: float) -> Any:
    """SQL: the signed difference ``column - lon`` in degrees, wrapped into -180..180."""
    raw = column - lon
    return case((raw > 180.0, raw - 360.0), (raw < -180.0, raw + 360.0), else_=raw)


PLACE_SORTS = ("distance", "media")
"""Sort keys of a place search: nearest first (ties by media id), or media id
(oldest first); ``descending`` reverses either, the tie-break included."""


def near(
    s: Session,
    lat: float,
    lon: float,
    radius_m: float,
    *,
    limit: int,
    offset: int = 0,
    sort: str = "distance",
    descending: bool = False,
) -> list[PlaceRow]:
    """Live media with GPS within ``radius_m`` metres of (lat, lon), nearest first or
    in another ``PLACE_SORTS`` order.

    A page of ``limit`` rows of the box around the circle from ``offset``, in SQL.
    Nearest first, the box's corners (outside the circle) sort last and are dropped:
    a page holds fewer than ``limit`` rows only at the end. In any other order the
    corners are interleaved, so every row of the page is returned (``offset``
    arithmetic stays exact) and the caller drops those beyond ``radius_m``
    (``PlaceRow.distance_m``).
    """
    check_point(lat, lon, radius_m)
    _check_page(limit, offset)
    if sort not in PLACE_SORTS:
        raise InvalidInput(f"place search: sort {sort!r} is not one of {', '.join(PLACE_SORTS)}")
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(dlat / coslat, 360.0)
    la, lo = MediaMetadataModel.latitude, MediaMetadataModel.longitude
    # equirectangular squared distance in degrees of latitude: monotone with the
    # true distance at these scales, and plain SQL arithmetic on both backends
    dx = lon_delta(lo, lon)
    order = (la - lat) * (la - lat) + dx * dx * (coslat * coslat)
    q = (
        select(MediaMetadataModel.media_id, la, lo)
        .join(Media, Media.id == MediaMetadataModel.media_id)
        .where(
            Media.deleted_at.is_(None),
            la.between(lat - dlat, lat + dlat),
            lo.isnot(None),
            lon_window(lo, lon, dlon),
        )
        .limit(limit)
        .offset(offset)
    )
    keys = {"distance": order, "media": MediaMetadataModel.media_id}
    q = ordered(
        q, keys, sort, descending=descending, tie=MediaMetadataModel.media_id, what="place search"
    )
    nearest_first = sort == "distance" and not descending
    out = []
    for media_id, mlat, mlon in s.execute(q):
        at = (float(mlat or 0.0), float(mlon or 0.0))  # never NULL: see the WHERE
        d = haversine_m((lat, lon), at)
        if d > radius_m and nearest_first:
            continue  # the box's corners, after every point of the circle
        out.append(PlaceRow(int(media_id), at[0], at[1], d))
    return out


__all__ = [
    "MAX_PAGE",
    "MAX_RADIUS_M",
    "PLACE_SORTS",
    "CameraRow",
    "PlaceRow",
    "by_camera_key",
    "check_point",
    "lon_delta",
    "lon_window",
    "near",
]
