"""Markers: a poster, sign or object in a picture, boxed to be found elsewhere.

A marker keeps its own keypoints, so finding it again needs neither the file nor
the picture. Its region is cut from the stored local features, or, given the
picture itself (checked by SHA-256 against the media item), extracted at full
detail.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.similar import SimilarHit, region, search, stored_features
from tessera.app.visibility import Level, require_role, transaction
from tessera.errors import InvalidInput, NotFound
from tessera.features.local import LocalFeatures, extract_region
from tessera.media.decode import decode_image
from tessera.pipeline.read import read_file
from tessera.storage import markers, repo
from tessera.storage.markers import Box, parse_box
from tessera.storage.models import MARKER_KINDS, Marker

KINDS = MARKER_KINDS
"""Marker types: signage, artwork, poster, product, clothing, furniture, wallpaper, other."""


class MarkerDetail(Result):
    """One marker: where it is, what it shows, what it belongs to."""

    id: int
    media_id: int
    type: str
    box: tuple[int, int, int, int]
    note: str | None
    series_id: int | None
    location_id: int | None
    keypoints: int
    created_at: Timestamp | None

    @classmethod
    def of(cls, mk: Marker, keypoints: int | None = None) -> MarkerDetail:
        return cls(
            id=mk.id,
            media_id=mk.media_id,
            type=mk.kind,
            box=(mk.x0, mk.y0, mk.x1, mk.y1),
            note=mk.note,
            series_id=mk.series_id,
            location_id=mk.location_id,
            keypoints=keypoints
            if keypoints is not None
            else len(LocalFeatures.from_bytes(mk.features)),
            created_at=mk.created_at,
        )


class MarkerHits(Result):
    """``marker find``: other media showing the marker, and where in each."""

    marker: int
    status: Literal["ok"] = "ok"
    hits: tuple[SimilarHit, ...]


def add(
    app: App,
    caller: Caller,
    media_id: int,
    box: Box,
    kind: str,
    *,
    note: str | None = None,
    series_name: str | None = None,
    location_id: int | None = None,
    agency_code: str | None = None,
    file_path: Path | None = None,
) -> MarkerDetail:
    """Mark region ``box`` of media ``media_id`` as a marker of type ``kind``."""
    require_role(caller, Role.CURATOR)
    with transaction(app, caller) as (s, vis):
        repo.media_by_id(s, media_id)
        vis.require_media(media_id, Level.FULL)  # markers are full-level facts
    if file_path is not None:
        raw = read_file(file_path, app.settings.decode_limits)  # bounded; hashed, decoded once
        with app.transaction() as s:
            media = repo.media_by_id(s, media_id)
            if hashlib.sha256(raw).digest() != media.sha256:
                raise InvalidInput(f"{file_path} is not media {media_id} (its SHA-256 differs)")
        feats = extract_region(decode_image(raw, limits=app.settings.decode_limits).rgb, box)
    else:
        feats = region(stored_features(app, caller, media_id, Level.FULL), box, f"media {media_id}")
    return _store(
        app,
        caller,
        media_id,
        box,
        kind=kind,
        feats=feats,
        note=note,
        series_name=series_name,
        location_id=location_id,
        agency_code=agency_code,
    )


@retried  # the checks and the region's features above committed (read) already
def _store(
    app: App,
    caller: Caller,
    media_id: int,
    box: Box,
    *,
    kind: str,
    feats: LocalFeatures,
    note: str | None,
    series_name: str | None,
    location_id: int | None,
    agency_code: str | None,
) -> MarkerDetail:
    """``add``'s one write: the marker and its audit entry, in one transaction."""
    with transaction(app, caller) as (s, vis):
        media = repo.media_by_id(s, media_id)
        series = repo.get_series(s, series_name) if series_name else None
        if series is not None:
            vis.require_series_owner(series)
        location = markers.get_location(s, location_id) if location_id is not None else None
        agency = repo.get_agency(s, agency_code) if agency_code else None
        mk = markers.create_marker(
            s,
            media,
            box,
            kind,
            feats.to_bytes(),
            note=note,
            series=series,
            location=location,
            agency_id=agency.id if agency else None,
        )
        audit.record_in(
            s,
            app,
            caller,
            "marker.add",
            target=f"media:{media_id}",
            series=series_name,
            params={"box": list(box), "type": kind, "note": note, "location": location_id},
            result_count=1,
        )
        return MarkerDetail.of(mk, len(feats))


def list_markers(
    app: App,
    caller: Caller,
    *,
    series_name: str | None = None,
    location_id: int | None = None,
    media_id: int | None = None,
) -> list[MarkerDetail]:
    """Markers, optionally only a series', a location's or a media item's; only on media
    the caller sees in ``full``."""
    with transaction(app, caller) as (s, vis):
        sid = None
        if series_name:
            chosen = repo.get_series(s, series_name)
            vis.require_series(chosen)
            sid = chosen.id
        found = markers.list_markers(s, series_id=sid, location_id=location_id, media_id=media_id)
        full = vis.seen_media((m.media_id for m in found), Level.FULL)
        return [MarkerDetail.of(m) for m in found if m.media_id in full]


def find(app: App, caller: Caller, marker_id: int, *, limit: int = 10) -> MarkerHits:
    """Other stored media showing marker ``marker_id``."""
    with transaction(app, caller) as (s, vis):
        mk = markers.get_marker(s, marker_id)
        if not vis.seen_media([mk.media_id], Level.FULL):
            raise NotFound(f"no marker with id {marker_id}")  # as for a missing one
        feats = LocalFeatures.from_bytes(mk.features)
        own = mk.media_id
    return MarkerHits(marker=marker_id, hits=search(app, caller, [feats], limit, own))


__all__ = ["KINDS", "MarkerDetail", "MarkerHits", "add", "find", "list_markers", "parse_box"]
