"""Searches the web UI offers besides hashes and text: camera serial, place, marker
type, a dropped file, and a media item's camera and GPS links.

Camera metadata, GPS and markers are ``full`` facts (``tessera.app.visibility``):
only media the caller sees in ``full`` are hits, named with the series the caller
sees. Pages are cut in SQL; the sharing filter then drops what the caller may not
see, so a page can hold fewer hits than its limit while ``next_after`` /
``next_offset`` still says where the next one starts. A dropped file is hashed in
memory (``lookup.hash_content``) and looked up; it is never stored.

Network callers' searches are audited (``search.camera``, ``search.place``,
``search.marker-type``; a file's lookup is audited as any lookup, under ``lookup``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.app import audit
from tessera.app import lookup as lookup_uc
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.paging import visible_page
from tessera.app.results import Result
from tessera.app.visibility import Level, require_role, transaction
from tessera.errors import InvalidInput
from tessera.fingerprints.pdq import MATCH_THRESHOLD
from tessera.matching.pdq_search import PdqSearcher
from tessera.media.metadata import MediaMetadata, camera_key
from tessera.storage import camera_links, markers, media_queries, metadata_search, repo
from tessera.storage.models import MARKER_KINDS

DEFAULT_PAGE = 50
MAX_PDQ_RADIUS = lookup_uc.MAX_RADIUS
MAX_PAGE = metadata_search.MAX_PAGE
PLACE_SORTS = metadata_search.PLACE_SORTS


class CameraHit(Result):
    media_id: int
    sha256: str | None
    series: tuple[str, ...]
    make: str | None
    model: str | None
    body_serial: str | None
    camera_key: str


class CameraSearch(Result):
    """Media taken with a camera body of this serial (and make, when given)."""

    serial: str
    make: str | None
    hits: tuple[CameraHit, ...]
    next_after: int | None
    """Pass as ``after`` for the next page; None on the last."""


class PlaceHit(Result):
    media_id: int
    sha256: str | None
    series: tuple[str, ...]
    latitude: float
    longitude: float
    distance_m: float


class PlaceSearch(Result):
    """Media whose GPS lies within ``radius_m`` of a point, nearest first."""

    latitude: float
    longitude: float
    radius_m: float
    hits: tuple[PlaceHit, ...]
    next_offset: int | None


class MarkerTypeHit(Result):
    marker_id: int
    media_id: int
    type: str
    box: tuple[int, int, int, int]
    note: str | None
    series: tuple[str, ...]


class MarkerTypeSearch(Result):
    type: str | None
    hits: tuple[MarkerTypeHit, ...]
    next_after: int | None


class FileSearch(Result):
    """A dropped file's fingerprints (computed in memory, not stored) and what they match."""

    hashes: lookup_uc.ContentHashes
    lookup: lookup_uc.LookupResult


class MediaLinkHit(Result):
    media_id: int
    sha256: str | None
    series: tuple[str, ...]
    reason: str
    """``same-camera`` or ``gps-near``."""
    detail: str
    """The camera key, or the distance ("35 m")."""


class MediaLinks(Result):
    """Other media of the same camera body, or taken near the same place."""

    media_id: int
    camera_key: str | None
    latitude: float | None
    longitude: float | None
    links: tuple[MediaLinkHit, ...]


def _check(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE}")


def _audit(app: App, caller: Caller, action: str, params: Any, count: int) -> None:
    if not caller.is_local_operator:
        audit.record(app, caller, action, params=params, result_count=count)


def by_camera(
    app: App,
    caller: Caller,
    serial: str,
    *,
    make: str | None = None,
    limit: int = DEFAULT_PAGE,
    after: int = 0,
    newest: bool = False,
) -> CameraSearch:
    """Media whose camera body serial is ``serial`` (normalised as stored camera keys
    are: case, spaces and leading zeros do not matter), of ``make`` when given; oldest
    media first, or newest first (``next_after`` pages on in the same order)."""
    _check(limit)
    require_role(caller, Role.ANALYST)
    key = camera_key(MediaMetadata(make=make or None, body_serial=serial))
    if key is None:
        raise InvalidInput(f"{serial!r} is not a camera serial (empty, zeros or 'unknown')")
    exact = bool(make and make.strip())
    if not exact:
        key = "/" + key.rsplit("/", 1)[-1]
    with transaction(app, caller) as (s, vis):
        page = visible_page(
            s,
            vis,
            lambda n: metadata_search.by_camera_key(
                s, key, exact=exact, limit=n, after_id=after, newest=newest
            ),
            lambda r: r.media_id,
            limit=limit,
        )
    result = CameraSearch(
        serial=serial,
        make=make,
        hits=tuple(
            CameraHit(
                media_id=r.media_id,
                sha256=page.sha256.get(r.media_id),
                series=tuple(page.series.get(r.media_id, [])),
                make=r.make,
                model=r.model,
                body_serial=r.body_serial,
                camera_key=r.camera_key,
            )
            for r in page.rows
        ),
        next_after=page.next_after(lambda r: r.media_id),
    )
    _audit(app, caller, "search.camera", {"serial": serial, "make": make}, len(result.hits))
    return result


def by_place(
    app: App,
    caller: Caller,
    latitude: float,
    longitude: float,
    radius_m: float,
    *,
    limit: int = DEFAULT_PAGE,
    offset: int = 0,
    sort: str = "distance",
    descending: bool = False,
) -> PlaceSearch:
    """Media with GPS within ``radius_m`` metres of (latitude, longitude), nearest first
    or in another ``PLACE_SORTS`` order (sorted and cut in SQL; ``next_offset`` pages
    on in the same order)."""
    _check(limit)
    require_role(caller, Role.ANALYST)
    with transaction(app, caller) as (s, vis):
        page = visible_page(
            s,
            vis,
            lambda n: metadata_search.near(
                s,
                latitude,
                longitude,
                radius_m,
                limit=n,
                offset=offset,
                sort=sort,
                descending=descending,
            ),
            lambda r: r.media_id,
            limit=limit,
        )
    result = PlaceSearch(
        latitude=latitude,
        longitude=longitude,
        radius_m=radius_m,
        hits=tuple(
            PlaceHit(
                media_id=r.media_id,
                sha256=page.sha256.get(r.media_id),
                series=tuple(page.series.get(r.media_id, [])),
                latitude=r.latitude,
                longitude=r.longitude,
                distance_m=round(r.distance_m, 1),
            )
            for r in page.rows
            if r.distance_m <= radius_m  # in the box, not in the circle
        ),
        next_offset=page.next_offset(offset),
    )
    _audit(
        app,
        caller,
        "search.place",
        {"lat": latitude, "lon": longitude, "radius_m": radius_m},
        len(result.hits),
    )
    return result


def by_marker_type(
    app: App,
    caller: Caller,
    kind: str | None,
    *,
    limit: int = DEFAULT_PAGE,
    after: int = 0,
    newest: bool = False,
) -> MarkerTypeSearch:
    """Markers of type ``kind`` (every type when None), oldest first or newest first
    (``next_after`` pages on in the same order)."""
    _check(limit)
    require_role(caller, Role.ANALYST)
    if kind is not None and kind not in MARKER_KINDS:
        raise InvalidInput(f"marker type {kind!r} is not one of {', '.join(MARKER_KINDS)}")
    with transaction(app, caller) as (s, vis):
        page = visible_page(
            s,
            vis,
            lambda n: list(
                markers.markers_page(s, kind=kind, limit=n, after_id=after, newest=newest)
            ),
            lambda m: m.media_id,
            limit=limit,
        )
    hits = tuple(
        MarkerTypeHit(
            marker_id=m.id,
            media_id=m.media_id,
            type=m.kind,
            box=(m.x0, m.y0, m.x1, m.y1),
            note=m.note,
            series=tuple(page.series.get(m.media_id, [])),
        )
        for m in page.rows
    )
    result = MarkerTypeSearch(type=kind, hits=hits, next_after=page.next_after(lambda m: m.id))
    _audit(app, caller, "search.marker-type", {"type": kind}, len(hits))
    return result


def by_file(app: App, caller: Caller, data: bytes, *, pdq: PdqSearcher | None = None) -> FileSearch:
    """Fingerprint ``data`` in memory (never stored) and look every hash up."""
    require_role(caller, Role.ANALYST)
    hashes = lookup_uc.hash_content(app, caller, data)
    given: list[tuple[lookup_uc.HashType, str | None]] = [
        ("sha256", hashes.sha256),
        ("md5", hashes.md5),
        ("sha1", hashes.sha1),
        ("pdq", hashes.pdq),
    ]
    queries = [lookup_uc.HashQuery(type=t, hash=v) for t, v in given if v]
    found = lookup_uc.lookup(app, caller, queries, pdq=pdq)
    return FileSearch(hashes=hashes, lookup=found)


class MatchHit(Result):
    """Another stored media item whose PDQ is within the radius of this one's."""

    media_id: int
    sha256: str | None
    series: tuple[str, ...]
    distance: int
    timestamp: float | None
    """For a hit on a video frame: seconds into that video."""


class MediaMatches(Result):
    media_id: int
    radius: int
    hits: tuple[MatchHit, ...]


def media_matches(
    app: App,
    caller: Caller,
    media_id: int,
    *,
    pdq: PdqSearcher | None = None,
    radius: int = MATCH_THRESHOLD,
    limit: int = 50,
) -> MediaMatches:
    """Stored media near-identical to media ``media_id`` (its still or frame PDQs),
    nearest first; only media the caller sees at ``status``. Browsing what is
    stored: no notice to owners (that is for lookups of new material)."""
    _check(limit)
    if not 0 <= radius <= MAX_PDQ_RADIUS:
        raise InvalidInput(f"radius must be 0..{MAX_PDQ_RADIUS}")
    with transaction(app, caller) as (s, vis):
        repo.media_by_id(s, media_id)
        vis.require_media(media_id, Level.STATUS)
        codes = media_queries.pdq_values(s, media_id)[:64]
    best: dict[int, tuple[int, float | None]] = {}
    if codes:
        searcher = pdq if pdq is not None else app.pdq_store()
        arr = np.frombuffer(b"".join(codes), dtype=np.uint8).reshape(-1, 32)
        for h in searcher.search(arr, radius=radius):
            if h.media_id != media_id and (
                h.media_id not in best or h.distance < best[h.media_id][0]
            ):
                best[h.media_id] = (h.distance, h.timestamp)
    with transaction(app, caller) as (s, vis):
        seen = vis.seen_media(best, Level.STATUS)
        order = sorted((m for m in best if m in seen), key=lambda m: (best[m][0], m))[:limit]
        names = vis.series_names_of_media(order)
        digests = repo.sha256_of_media(s, order)
    return MediaMatches(
        media_id=media_id,
        radius=radius,
        hits=tuple(
            MatchHit(
                media_id=m,
                sha256=digests.get(m),
                series=tuple(names.get(m, [])),
                distance=best[m][0],
                timestamp=best[m][1],
            )
            for m in order
        ),
    )


def media_links(app: App, caller: Caller, media_id: int, *, limit: int = 24) -> MediaLinks:
    """Other media of the same camera body, or taken within 100 m (``full`` facts)."""
    _check(limit)
    with transaction(app, caller) as (s, vis):
        repo.media_by_id(s, media_id)
        vis.require_media(media_id, Level.FULL)
        md = camera_links.metadata_of(s, [media_id]).get(media_id)
        if md is None:
            return MediaLinks(
                media_id=media_id, camera_key=None, latitude=None, longitude=None, links=()
            )
        gps = (md.latitude, md.longitude) if md.latitude is not None else None
        window = limit if vis.everything else limit * 4  # sharing may drop some
        found = camera_links.links_for(
            s,
            md.camera_key,
            gps,  # type: ignore[arg-type]
            exclude=media_id,
            limit=window,
        )
        full = vis.seen_media((x.media_id for x in found), Level.FULL)
        shown = [x for x in found if x.media_id in full][:limit]
        names = vis.series_names_of_media(x.media_id for x in shown)
        digests = repo.sha256_of_media(s, [x.media_id for x in shown])
        return MediaLinks(
            media_id=media_id,
            camera_key=md.camera_key,
            latitude=md.latitude,
            longitude=md.longitude,
            links=tuple(
                MediaLinkHit(
                    media_id=x.media_id,
                    sha256=digests.get(x.media_id),
                    series=tuple(names.get(x.media_id, [])),
                    reason=x.reason,
                    detail=x.detail,
                )
                for x in shown
            ),
        )


__all__ = [
    "CameraHit",
    "CameraSearch",
    "FileSearch",
    "MarkerTypeHit",
    "MarkerTypeSearch",
    "MatchHit",
    "MediaLinkHit",
    "MediaLinks",
    "MediaMatches",
    "PlaceHit",
    "PlaceSearch",
    "by_camera",
    "by_file",
    "by_marker_type",
    "by_place",
    "media_links",
    "media_matches",
]
