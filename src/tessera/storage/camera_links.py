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

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.media.metadata import EARTH_RADIUS_M, haversine_m
from tessera.storage.models import Media, MediaMetadataModel, series_media

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
    rows = s.execute(
        select(
            MediaMetadataModel.media_id, MediaMetadataModel.latitude, MediaMetadataModel.longitude
        )
        .join(Media, Media.id == MediaMetadataModel.media_id)
        .where(
            Media.deleted_at.is_(None),
            MediaMetadataModel.latitude.between(lat - dlat, lat + dlat),
            MediaMetadataModel.longitude.between(lon - dlon, lon + dlon),
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
) -> list[MetadataLink]:
    """Stored media sharing this camera key, or within ``radius_m`` of this point."""
    out: list[MetadataLink] = []
    if camera_key:
        out.extend(
            MetadataLink(m, "same-camera", camera_key)
            for m in same_camera(s, camera_key)
            if m != exclude
        )
    if gps is not None:
        out.extend(
            MetadataLink(m, "gps-near", f"{d:.0f} m")
            for m, d in near_point(s, gps[0], gps[1], radius_m)
            if m != exclude
        )
    return out


def series_links(
    s: Session, series_id: int, *, radius_m: float = DEFAULT_RADIUS_M, limit: int = 200
) -> list[tuple[int, MetadataLink]]:
    """(series media id, link) to media *outside* the series: same camera or nearby GPS."""
    members = {
        int(m)
        for m in s.scalars(
            select(series_media.c.media_id).where(
                series_media.c.series_id == series_id, series_media.c.deleted_at.is_(None)
            )
        )
    }
    out: list[tuple[int, MetadataLink]] = []
    seen: set[tuple[int, str]] = set()
    for media_id, md in sorted(metadata_of(s, members).items()):
        gps = (md.latitude, md.longitude) if md.latitude is not None else None
        for link in links_for(s, md.camera_key, gps, exclude=media_id, radius_m=radius_m):  # type: ignore[arg-type]
            if link.media_id in members or (link.media_id, link.reason) in seen:
                continue
            seen.add((link.media_id, link.reason))
            out.append((media_id, link))
            if len(out) >= limit:
                return out
    return out


__all__ = [
    "DEFAULT_RADIUS_M",
    "MetadataLink",
    "links_for",
    "metadata_of",
    "near_point",
    "same_camera",
    "series_links",
]
