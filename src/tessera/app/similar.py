"""Similar: stored media showing the same scene or object as a picture or a region.

Every hit is verified geometrically (``tessera.features``); the result says how
many keypoints agree, where the match lies in the hit, and whether the hit is an
edited copy ("copy") or another view of the same place or object ("scene"). The
query is a file (read once, within the decode limits) or a stored media item
(its stored local features: no picture needed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import SerializerFunctionWrapHandler, model_serializer

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.visibility import Level, transaction
from tessera.errors import InvalidInput, NotFound
from tessera.features.local import LocalFeatures, extract_region, subset
from tessera.matching.scene_store import SceneHit
from tessera.matching.scene_triage import describe_copy
from tessera.media.decode import DecodeLimits, decode_image
from tessera.pipeline.fingerprint import hash_bytes, hash_file
from tessera.pipeline.options import HashOptions
from tessera.pipeline.read import read_file
from tessera.storage import repo
from tessera.storage.markers import Box

MIN_REGION_KEYPOINTS = 8


class SimilarHit(Result):
    """One stored media item verified as the same scene or object."""

    media_id: int
    sha256: str | None
    relation: Literal["copy", "scene"] | None
    inliers: int
    geometry: Literal["homography", "fundamental"]
    mirrored: bool
    region_in_query: tuple[int, ...] | None
    region_in_hit: tuple[int, ...] | None
    quad_in_hit: tuple[tuple[int, ...], ...] | None
    series: tuple[str, ...]
    time_s: float | None
    reason: str | None = None
    """For a copy: how it was edited ("mirrored, shows 85% of the known picture")."""

    @model_serializer(mode="wrap")
    def _without_empty_reason(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if self.reason is None:
            out.pop("reason", None)
        return out


class SimilarQuery(Result):
    """What was searched: a file (path, its SHA-256, the media id if stored) or a media id."""

    path: str | None = None
    sha256: str | None = None
    media_id: int | None
    box: tuple[int, int, int, int] | None

    @model_serializer(mode="wrap")
    def _file_fields_for_files(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if self.path is None:
            out.pop("path", None)
            out.pop("sha256", None)
        return out


class SimilarResult(Result):
    query: SimilarQuery
    status: Literal["ok"] = "ok"
    hits: tuple[SimilarHit, ...]


def _box(v: tuple[float, ...] | None) -> tuple[int, ...] | None:
    return tuple(round(x) for x in v) if v is not None else None


def _hit(
    hit: SceneHit,
    series: list[str],
    sha256: str | None,
    query: LocalFeatures,
    frame: tuple[int, int],
) -> SimilarHit:
    m = hit.match
    v = m.verification
    quad = v.quad_in_candidate
    return SimilarHit(
        media_id=hit.media_id,
        sha256=sha256,
        relation=m.relation,
        inliers=v.inliers,
        geometry="homography" if v.homography is not None else "fundamental",
        mirrored=m.mirrored,
        region_in_query=_box(v.region_in_query),
        region_in_hit=_box(v.region_in_candidate),
        quad_in_hit=tuple(tuple(p) for p in quad.round().astype(int).tolist())
        if quad is not None
        else None,
        series=tuple(series),
        time_s=round(hit.timestamp, 3) if hit.timestamp is not None else None,
        reason=describe_copy(m, query, frame) if m.relation == "copy" else None,
    )


def search(
    app: App, caller: Caller, queries: list[LocalFeatures], limit: int, exclude: int | None
) -> tuple[SimilarHit, ...]:
    """Scene-index hits for ``queries`` (a picture and optionally its mirror image),
    with series names and digests. Shared by ``similar`` and ``markers.find``.

    Sharing rules: only media the caller sees at ``status`` or more are hits (a
    lead shows the picture's place in a series), naming only series it sees.
    """
    store = app.scene_store()
    everything = caller.is_local_operator
    hits = store.similar(queries, k=limit if everything else limit * 4, exclude=exclude)
    with transaction(app, caller) as (s, vis):
        seen = vis.seen_media((h.media_id for h in hits), Level.STATUS)
        seen -= vis.own_records(seen).keys()  # features from another agency's file
        hits = [h for h in hits if h.media_id in seen][:limit]
        ids = [h.media_id for h in hits]
        series = vis.series_names_of_media(ids)
        digests = repo.sha256_of_media(s, ids)
    return tuple(
        _hit(
            h,
            series.get(h.media_id, []),
            digests.get(h.media_id),
            queries[-1] if h.match.mirrored else queries[0],
            store.frame_of(h.media_id, h.position),
        )
        for h in hits
    )


def stored_features(
    app: App, caller: Caller, media_id: int, minimum: Level = Level.STATUS
) -> LocalFeatures:
    """The local features stored for a media item (``NotFound`` when it has none, or
    when the caller does not see it at ``minimum``)."""
    with transaction(app, caller) as (s, vis):
        repo.media_by_id(s, media_id)
        vis.require_media(media_id, minimum)
        if vis.own_records([media_id]):  # came with another agency's file: none of ours
            blob = None
        else:
            blob = repo.features_of(s, [media_id]).get(media_id)
    if blob is None:
        raise NotFound(
            f"media {media_id} has no local features (ingested with --no-features, "
            "or not a still image)"
        )
    return LocalFeatures.from_bytes(blob)


def region(feats: LocalFeatures, box: Box, where: str) -> LocalFeatures:
    """The keypoints of ``feats`` inside ``box``; refused when too few for a search."""
    part = subset(feats, box)
    if len(part) < MIN_REGION_KEYPOINTS:
        raise InvalidInput(
            f"only {len(part)} keypoints of {where} fall inside {box}; draw a larger box, "
            "or pass the picture with --file to extract the region at full detail"
        )
    return part


_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_QUERY_KEYPOINTS = 4096
"""A query's keypoints at most (extraction keeps 1,000; a sent query is refused above)."""
MAX_QUERY_SIDE = 1 << 16
"""A query's frame in pixels at most, each side (features carry their picture's size)."""


@dataclass(frozen=True)
class FileQuery:
    """What a search by file needs, computed where the file is (no database): the
    file's SHA-256 and its local features (the picture and its mirror image, or the
    region ``box`` extracted at full detail). The CLI as a client of a server sends
    exactly these; the picture never leaves the machine."""

    path: str
    sha256: str
    features: tuple[LocalFeatures, ...]
    box: Box | None


def file_query(limits: DecodeLimits, path: Path, *, box: Box | None = None) -> FileQuery:
    """Hash and extract the query features of the picture at ``path`` (or its ``box``)."""
    if box is None:
        r = hash_file(path, HashOptions(features=True, features_mirrored=True, limits=limits))
        raw = None
    else:  # one bounded read: hashed, then decoded again at full size for the region
        raw = read_file(path, limits)
        r = hash_bytes(raw, str(path), HashOptions(features=True, limits=limits))
    if r.status != "ok" or r.features is None or r.sha256 is None:
        raise InvalidInput(
            f"{path}: no local features ({r.reason or 'not a still image'}"
            f"{': ' + r.message if r.message else ''})",
            reason=r.reason or "no-features",
        )
    feats: tuple[LocalFeatures, ...]
    if raw is not None and box is not None:
        feats = (extract_region(decode_image(raw, limits=limits).rgb, box),)
    else:
        feats = tuple(LocalFeatures.from_bytes(b) for b in (r.features, r.features_mirrored) if b)
    return FileQuery(path=str(path), sha256=r.sha256, features=feats, box=box)


def sent_query(blob: bytes) -> LocalFeatures:
    """Query features sent from elsewhere (``LocalFeatures.to_bytes`` or the full
    form), if bounded and finite; else ``InvalidInput`` (a hostile blob must not
    reach the geometry)."""
    feats = LocalFeatures.from_bytes(blob)
    if len(feats) > MAX_QUERY_KEYPOINTS:
        raise InvalidInput(
            f"local features: {len(feats)} keypoints, at most {MAX_QUERY_KEYPOINTS}",
            reason="invalid-features",
        )
    if not (0 < feats.width <= MAX_QUERY_SIDE and 0 < feats.height <= MAX_QUERY_SIDE):
        raise InvalidInput(
            f"local features: frame {feats.width}x{feats.height} out of range",
            reason="invalid-features",
        )
    arrays = (feats.xy, feats.size.astype(np.float32), feats.angle.astype(np.float32))
    if not all(bool(np.isfinite(a).all()) for a in arrays):
        raise InvalidInput(
            "local features: non-finite coordinates, sizes or angles", reason="invalid-features"
        )
    return feats


def to_features(
    app: App,
    caller: Caller,
    features: Sequence[LocalFeatures],
    *,
    sha256: str | None = None,
    box: Box | None = None,
    limit: int = 10,
    path: str | None = None,
) -> SimilarResult:
    """Stored media similar to a picture given by its local features (and mirror's),
    as :func:`file_query` computes them; ``sha256`` (the file's) keeps the file's own
    stored copy out of the hits and names its media id to who sees it. ``path`` only
    labels the answer (a server is not told the client's paths)."""
    if not features:
        raise InvalidInput("a similar search needs local features", reason="invalid-features")
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise InvalidInput(f"sha256 {sha256[:80]!r} is not 64 hex digits")
    queries = list(features)
    exclude = None
    shown = None
    if sha256 is not None:
        with transaction(app, caller) as (s, vis):
            known = repo.media_by_sha256(s, [bytes.fromhex(sha256)], live_only=True)
            exclude = next((m.id for m in known.values()), None)
            # the file's own id is a lookup answer: named only to who sees it
            if exclude is not None and vis.seen_media([exclude], Level.HASH):
                shown = exclude
    return SimilarResult(
        query=SimilarQuery(path=path, sha256=sha256, media_id=shown, box=box),
        hits=search(app, caller, queries, limit, exclude),
    )


def to_file(
    app: App, caller: Caller, path: Path, *, box: Box | None = None, limit: int = 10
) -> SimilarResult:
    """Stored media similar to the picture at ``path`` (or to its region ``box``)."""
    q = file_query(app.settings.decode_limits, path, box=box)
    return to_features(app, caller, q.features, sha256=q.sha256, box=box, limit=limit, path=q.path)


def to_media(
    app: App, caller: Caller, media_id: int, *, box: Box | None = None, limit: int = 10
) -> SimilarResult:
    """Stored media similar to stored media item ``media_id`` (or its region ``box``)."""
    feats = stored_features(app, caller, media_id)
    query = region(feats, box, f"media {media_id}") if box else feats
    return SimilarResult(
        query=SimilarQuery(media_id=media_id, box=box),
        hits=search(app, caller, [query], limit, media_id),
    )


__all__ = [
    "MAX_QUERY_KEYPOINTS",
    "FileQuery",
    "SimilarHit",
    "SimilarQuery",
    "SimilarResult",
    "file_query",
    "region",
    "search",
    "sent_query",
    "stored_features",
    "to_features",
    "to_file",
    "to_media",
]
