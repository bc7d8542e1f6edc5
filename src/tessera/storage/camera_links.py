"""Media linked by their metadata: the same camera body, or GPS points close together.

The camera key (normalised make + body serial, ``tessera.media.metadata.camera_key``)
is indexed, so "other media from this camera" is one indexed lookup. GPS
neighbours use a latitude/longitude bounding box on the indexed columns, then the
exact haversine distance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, func, literal, select, union, union_all
from sqlalchemy.dialects.postgresql import array as sa_array
from sqlalchemy.orm import Session

from tessera.media.metadata import EARTH_RADIUS_M, haversine_m
from tessera.storage import prepared
from tessera.storage.metadata_search import in_boxes_rls, lon_window, rls_filters
from tessera.storage.models import (
    Media,
    MediaMetadataModel,
    camera_media,
    series_camera_members,
    series_media,
)

DEFAULT_RADIUS_M = 100.0
"""GPS points this close are shown as "taken near each other"."""


@dataclass(frozen=True)
class MetadataLink:
    """Another media item that shares a camera or a place with the one asked about."""

    media_id: int
    reason: str  # "same-camera" or "gps-near"
    detail: str  # the camera key, or the distance


def metadata_of(s: Session, media_ids: Iterable[int]) -> dict[int, MediaMetadataModel]:
    ids = sorted(set(media_ids))
    out: dict[int, MediaMetadataModel] = {}
    for i in range(0, len(ids), 500):
        for row in s.scalars(
            select(MediaMetadataModel)
            .join(Media, Media.id == MediaMetadataModel.media_id)
            .where(MediaMetadataModel.media_id.in_(ids[i : i + 500]), Media.deleted_at.is_(None))
        ):
            out[row.media_id] = row
    return out


def same_camera(s: Session, camera_key: str, limit: int = 200) -> list[int]:
    return [
        int(m)
        for m in s.scalars(
            select(MediaMetadataModel.media_id)
            .join(Media, Media.id == MediaMetadataModel.media_id)
            .where(MediaMetadataModel.camera_key == camera_key, Media.deleted_at.is_(None))
            .order_by(MediaMetadataModel.media_id)
            .limit(limit)
        )
    ]


def near_point(
    s: Session, lat: float, lon: float, radius_m: float = DEFAULT_RADIUS_M, limit: int = 200
) -> list[tuple[int, float]]:
    """(media id, metres) of media with GPS within ``radius_m`` of (lat, lon), nearest first."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    if rls_filters(s, "media_metadata"):
        rows: Iterable[Any] = [
            (m, mlat, mlon) for _, m, mlat, mlon in in_boxes_rls(s, [(lat, dlat, lon, dlon)])
        ]
    else:
        rows = s.execute(
            select(
                MediaMetadataModel.media_id,
                MediaMetadataModel.latitude,
                MediaMetadataModel.longitude,
            )
            .join(Media, Media.id == MediaMetadataModel.media_id)
            .where(
                Media.deleted_at.is_(None),
                MediaMetadataModel.latitude.between(lat - dlat, lat + dlat),
                lon_window(MediaMetadataModel.longitude, lon, dlon),
            )
        )
    hits = []
    for media_id, mlat, mlon in rows:
        if mlat is None or mlon is None:
            continue
        d = haversine_m((lat, lon), (float(mlat), float(mlon)))
        if d <= radius_m:
            hits.append((int(media_id), d))
    hits.sort(key=lambda h: (h[1], h[0]))
    return hits[:limit]


def links_for(
    s: Session,
    camera_key: str | None,
    gps: tuple[float, float] | None,
    *,
    exclude: int | None = None,
    radius_m: float = DEFAULT_RADIUS_M,
    limit: int = 200,
) -> list[MetadataLink]:
    """Stored media sharing this camera key, or within ``radius_m`` of this point
    (at most ``limit`` of each kind, lowest ids / nearest first)."""
    out: list[MetadataLink] = []
    if camera_key:
        out.extend(
            MetadataLink(m, "same-camera", camera_key)
            for m in same_camera(s, camera_key, limit + 1)
            if m != exclude
        )
    if gps is not None:
        out.extend(
            MetadataLink(m, "gps-near", f"{d:.0f} m")
            for m, d in near_point(s, gps[0], gps[1], radius_m, limit + 1)
            if m != exclude
        )
    return out


SERIES_SCAN = 10
"""How many of a series' cameras, and of its members' GPS points (lowest ids first),
are compared with other media: a series of 100k media must not cost 100k queries
(or a 100k-row join) on its page."""


def _whole_cameras(s: Session, series_id: int, keys: list[str]) -> set[str]:
    """The keys among ``keys`` whose media all belong to the series: nothing outside it
    to list (kept counts, migration 0024). ``camera_media`` counts every agency's media
    and has no read policy, so on PostgreSQL a connection under RLS reads it empty and
    asks the SECURITY DEFINER ``tessera_whole_cameras`` (migration 0028, for a series it
    may read) instead; the owner reads the counts directly."""
    scm, cm = series_camera_members, camera_media
    direct = (
        select(scm.c.camera_key)
        .join(cm, cm.c.camera_key == scm.c.camera_key)
        .where(
            scm.c.series_id == series_id,
            scm.c.camera_key.in_(keys),
            scm.c.members == cm.c.media,
        )
    )
    if s.get_bind().dialect.name == "postgresql":
        fn = func.tessera_whole_cameras(series_id, sa_array(keys, type_=String())).table_valued(
            "camera_key"
        )
        return set(s.scalars(union(direct, select(fn.c.camera_key))))
    return set(s.scalars(direct))


_MEMBERS = select(series_media.c.media_id).where(
    series_media.c.series_id == bindparam("series"),
    series_media.c.deleted_at.is_(None),
    series_media.c.media_id.in_(prepared.ids_param()),
)
"""Which of ``ids`` are live members of the series (built once: a page's ~100 GPS
neighbours cost SQLAlchemy's expanding ``IN`` a few ms of CPU a call)."""


def series_links(
    s: Session, series_id: int, *, radius_m: float = DEFAULT_RADIUS_M, limit: int = 200
) -> list[tuple[int, MetadataLink]]:
    """(series media id, link) to media *outside* the series: same camera or nearby GPS.

    Bounded work: the series' first ``SERIES_SCAN`` camera keys (each outside media
    item once, via the series' lowest media id of that camera) and the GPS points of
    its first ``SERIES_SCAN`` members with one.
    """
    md = MediaMetadataModel
    # a probe by the membership key per row, stopping at the LIMIT: PostgreSQL would turn
    # (NOT) EXISTS into a hash (anti-)join over every member, ~60 ms a camera for 100k
    # members against 11 ms; OFFSET 0 keeps the subquery apart (SQLite probes anyway)
    probe = select(literal(1)).where(
        series_media.c.series_id == series_id,
        series_media.c.media_id == md.media_id,
        series_media.c.deleted_at.is_(None),
    )
    if s.get_bind().dialect.name == "postgresql":
        probe = probe.offset(0)
    outside, member = ~probe.exists(), probe.exists()
    # the first cameras met in id order, each with its lowest member id (a bounded scan)
    # in growing steps: under RLS every row read costs a policy check (~0.5 ms), and
    # the first cameras are usually met within a few dozen rows
    via_of: dict[str, int] = {}
    after = 0
    for step in (SERIES_SCAN * 5, SERIES_SCAN * 20, SERIES_SCAN * 75):
        rows = s.execute(
            select(md.camera_key, md.media_id)
            .where(md.camera_key.is_not(None), member, md.media_id > after)
            .order_by(md.media_id)
            .limit(step)
        ).all()
        for key, mid in rows:
            if key and key not in via_of:
                via_of[key] = int(mid)
                if len(via_of) >= SERIES_SCAN:
                    break
        if len(via_of) >= SERIES_SCAN or len(rows) < step:
            break
        after = int(rows[-1][1])
    out: list[tuple[int, MetadataLink]] = []
    keys = sorted(via_of, key=lambda k: via_of[k])
    whole = _whole_cameras(s, series_id, keys) if keys else set()
    probed = [(i, key) for i, key in enumerate(keys) if key not in whole]
    # each camera's first ``limit`` media outside the series (one probe per row), all
    # cameras in one statement: one round trip instead of one per camera
    outside_of: dict[int, list[int]] = {i: [] for i in range(len(keys))}
    if probed:
        parts = [
            select(literal(i).label("k"), md.media_id)
            .where(md.camera_key == key, outside)
            .order_by(md.media_id)
            .limit(limit)
            .subquery()
            for i, key in probed
        ]
        both = union_all(*(select(p.c.k, p.c.media_id) for p in parts))
        for k, m in s.execute(both):
            outside_of[int(k)].append(int(m))
    # then only those live
    ids = [m for ms in outside_of.values() for m in ms]
    live = (
        set(s.scalars(select(Media.id).where(Media.id.in_(ids), Media.deleted_at.is_(None))))
        if ids
        else set()
    )
    for i, key in enumerate(keys):
        found = [m for m in sorted(outside_of[i]) if m in live][: limit - len(out)]
        out.extend((via_of[key], MetadataLink(m, "same-camera", key)) for m in found)
        if len(out) >= limit:
            return sorted(out, key=lambda x: (x[0], x[1].media_id))
    out.sort(key=lambda x: (x[0], x[1].media_id))
    seen = {(ln.media_id, ln.reason) for _, ln in out}
    gps_rows = [
        (int(m), float(lat), float(lon))
        for m, lat, lon in s.execute(
            select(md.media_id, md.latitude, md.longitude)
            .where(member, md.latitude.is_not(None), md.longitude.is_not(None))
            .order_by(md.media_id)
            .limit(SERIES_SCAN)
        )
        if lat is not None and lon is not None
    ]
    near_of = _near_points(s, [(lat, lon) for _, lat, lon in gps_rows], radius_m)
    candidates = sorted({m for near in near_of for m, _ in near})
    inside: set[int] = set()
    for part in prepared.chunks(candidates):  # one membership probe for every point's
        inside.update(int(r[0]) for r in prepared.rows(s, _MEMBERS, series=series_id, ids=part))
    for (media_id, _, _), near in zip(gps_rows, near_of, strict=True):
        for m, d in near:
            if m == media_id or m in inside or (m, "gps-near") in seen:
                continue
            seen.add((m, "gps-near"))
            out.append((media_id, MetadataLink(m, "gps-near", f"{d:.0f} m")))
            if len(out) >= limit:
                return out
    return out


def _near_points(
    s: Session, points: list[tuple[float, float]], radius_m: float, limit: int = 200
) -> list[list[tuple[int, float]]]:
    """``near_point`` for several points in one statement (one round trip, not one each):
    per point, (media id, metres) within ``radius_m``, nearest first, at most ``limit``."""
    if not points:
        return []
    md = MediaMetadataModel
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    boxes = [(lat, dlat, lon, dlat / max(math.cos(math.radians(lat)), 1e-6)) for lat, lon in points]
    if rls_filters(s, "media_metadata"):
        rows: Iterable[Any] = in_boxes_rls(s, boxes)
    else:
        parts = [
            select(literal(j).label("j"), md.media_id, md.latitude, md.longitude)
            .join(Media, Media.id == md.media_id)
            .where(
                Media.deleted_at.is_(None),
                md.latitude.between(lat - dl, lat + dl),
                lon_window(md.longitude, lon, dlon),
            )
            for j, (lat, dl, lon, dlon) in enumerate(boxes)
        ]
        rows = s.execute(union_all(*parts))
    hits: list[list[tuple[int, float]]] = [[] for _ in points]
    for j, media_id, mlat, mlon in rows:
        if mlat is None or mlon is None:
            continue
        d = haversine_m(points[int(j)], (float(mlat), float(mlon)))
        if d <= radius_m:
            hits[int(j)].append((int(media_id), d))
    for h in hits:
        h.sort(key=lambda x: (x[1], x[0]))
        del h[limit:]
    return hits


__all__ = [
    "DEFAULT_RADIUS_M",
    "SERIES_SCAN",
    "MetadataLink",
    "links_for",
    "metadata_of",
    "near_point",
    "same_camera",
    "series_links",
]
