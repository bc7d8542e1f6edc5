"""What a series shared at ``full`` carries across the federation, and its checks.

``status`` travels in the series record itself; what only ``full`` shows travels in
records of their own (part ``full`` of a federation bundle), so a hub can forward
them only to nodes some grant gives ``full`` and send the others a deletion without
touching what the origin signed (each record's digest is in the origin's signed
manifest, like any other record):

* ``s<series>f``: the series' linked pseudonymous victims and offenders (pseudonym,
  identified) and locations (description, country, coordinates), what the case
  graph shows of a series at ``full``;
* ``s<series>m<media>f``: one media item's camera/GPS metadata, OCR text and the
  series' markers on it (type, box, note and the marker's local features, so "find
  this marker elsewhere" works where it is received), what ``media show`` and
  ``series show`` give at ``full``.

Sightings (case paths, file times) stay home: they are the case's, and cases are not
federated. Limits are enforced by the receiver and clipped to by the origin, so an
origin never writes a record its peers would refuse.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

from tessera.errors import InvalidInput

MAX_PEOPLE = 1000
MAX_LOCATIONS = 1000
MAX_TEXTS = 64
MAX_TEXT = 100_000
MAX_MARKERS = 200
MAX_FEATURES_B64 = 96 * 1024
MARKER_KINDS = (
    "signage",
    "artwork",
    "poster",
    "product",
    "clothing",
    "furniture",
    "wallpaper",
    "other",
)
METADATA_TEXT = {
    "make": 256,
    "model": 256,
    "body_serial": 256,
    "camera_key": 128,
    "lens": 256,
    "software": 256,
    "captured_at": 40,
}
SERIES_FIELDS = ("victims", "offenders", "locations")
MEDIA_FIELDS = ("metadata", "text", "markers")
_SERIES_ID = re.compile(r"^s\d+f$")
_MEDIA_ID = re.compile(r"^s\d+m\d+f$")


class FullRecordError(InvalidInput):
    reason = "invalid-delta"


def is_series_detail(origin_id: str) -> bool:
    return bool(_SERIES_ID.match(origin_id))


def is_media_detail(origin_id: str) -> bool:
    return bool(_MEDIA_ID.match(origin_id))


def _line_text(v: Any, limit: int, what: str, *, multiline: bool = False) -> str:
    ok = isinstance(v, str) and 0 < len(v) <= limit
    if ok and not multiline:
        ok = not any(ord(c) < 0x20 for c in v)
    if ok and multiline:
        ok = not any(ord(c) < 0x20 and c not in "\n\t\r" for c in v)
    if not ok:
        raise FullRecordError(f"{what} must be a text of 1-{limit} characters")
    return str(v)


def _number(v: Any, lo: float, hi: float, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise FullRecordError(f"{what} must be a number")
    if not lo <= v <= hi:
        raise FullRecordError(f"{what} out of range")
    return float(v)


def _list(v: Any, limit: int, what: str) -> list[Any]:
    if not isinstance(v, list) or len(v) > limit:
        raise FullRecordError(f"{what} must be a list of at most {limit}")
    return v


def _people(v: Any, what: str) -> None:
    for p in _list(v, MAX_PEOPLE, what):
        if not isinstance(p, dict) or set(p) - {"p", "identified"}:
            raise FullRecordError(f"{what}: each is an object of p (pseudonym), identified")
        _line_text(p.get("p"), 100, f"{what} pseudonym")
        if "identified" in p and not isinstance(p["identified"], bool):
            raise FullRecordError(f"{what}: identified must be true or false")


def _locations(v: Any) -> None:
    for loc in _list(v, MAX_LOCATIONS, "locations"):
        if not isinstance(loc, dict) or set(loc) - {"description", "country", "lat", "lon"}:
            raise FullRecordError("locations: each is an object of description, country, lat, lon")
        _line_text(loc.get("description"), 1000, "location description", multiline=True)
        if loc.get("country") is not None and not re.match(r"^[A-Z]{2}$", str(loc["country"])):
            raise FullRecordError("location country must be a two-letter code")
        if ("lat" in loc) != ("lon" in loc):
            raise FullRecordError("a location has both lat and lon, or neither")
        if "lat" in loc:
            _number(loc["lat"], -90, 90, "location lat")
            _number(loc["lon"], -180, 180, "location lon")


def _metadata(v: Any) -> None:
    allowed = {*METADATA_TEXT, "latitude", "longitude"}
    if not isinstance(v, dict) or not v or set(v) - allowed:
        raise FullRecordError(f"metadata must be an object of {', '.join(sorted(allowed))}")
    for k, limit in METADATA_TEXT.items():
        if k in v:
            _line_text(v[k], limit, f"metadata {k}")
    if ("latitude" in v) != ("longitude" in v):
        raise FullRecordError("metadata has both latitude and longitude, or neither")
    if "latitude" in v:
        _number(v["latitude"], -90, 90, "metadata latitude")
        _number(v["longitude"], -180, 180, "metadata longitude")


def _texts(v: Any) -> None:
    for t in _list(v, MAX_TEXTS, "text"):
        if not isinstance(t, dict) or set(t) != {"engine", "language", "text"}:
            raise FullRecordError("text: each is an object of engine, language, text")
        _line_text(t["engine"], 24, "text engine")
        _line_text(t["language"], 64, "text language")
        _line_text(t["text"], MAX_TEXT, "text", multiline=True)


def marker_features(text: str) -> bytes:
    """The marker's local features from their base64 text (checked as features)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FullRecordError("marker features are not base64") from None
    # OpenCV and faiss (~0.5 s to import) load only for a record that carries markers,
    # not in every command that imports the exchange formats
    from tessera.features.local import LocalFeatures  # noqa: PLC0415

    try:
        LocalFeatures.from_bytes(raw)
    except InvalidInput as exc:
        raise FullRecordError(f"marker features: {exc.message}") from None
    return raw


def _markers(v: Any) -> None:
    for m in _list(v, MAX_MARKERS, "markers"):
        if not isinstance(m, dict) or set(m) - {"type", "box", "note", "features"}:
            raise FullRecordError("markers: each is an object of type, box, note, features")
        if m.get("type") not in MARKER_KINDS:
            raise FullRecordError(f"marker type must be one of {', '.join(MARKER_KINDS)}")
        box = m.get("box")
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in box)
            or not (0 <= box[0] < box[2] < 2**31 and 0 <= box[1] < box[3] < 2**31)
        ):
            raise FullRecordError("marker box must be [x0, y0, x1, y1] with x0 < x1, y0 < y1")
        if m.get("note") is not None:
            _line_text(m["note"], 4000, "marker note", multiline=True)
        f = m.get("features")
        if not isinstance(f, str) or not 0 < len(f) <= MAX_FEATURES_B64:
            raise FullRecordError("marker features must be base64 text")
        marker_features(f)


def check(payload: dict[str, Any], rid: str) -> None:
    """``FullRecordError`` unless ``payload`` is a valid ``full`` record ``rid``."""
    if is_series_detail(rid):
        fields: tuple[str, ...] = SERIES_FIELDS
    elif is_media_detail(rid):
        fields = MEDIA_FIELDS
    else:
        raise FullRecordError(f"full record id {rid[:40]!r} is neither s<n>f nor s<n>m<n>f")
    if not payload or set(payload) - set(fields):
        raise FullRecordError(f"full record {rid} holds {', '.join(fields)} (and nothing else)")
    try:
        for k in ("victims", "offenders"):
            if k in payload:
                _people(payload[k], k)
        if "locations" in payload:
            _locations(payload["locations"])
        if "metadata" in payload:
            _metadata(payload["metadata"])
        if "text" in payload:
            _texts(payload["text"])
        if "markers" in payload:
            _markers(payload["markers"])
    except FullRecordError as exc:
        raise FullRecordError(f"full record {rid}: {exc.message}") from None


def _clip_text(v: Any, limit: int) -> str:
    return str(v)[:limit]


def clip(payload: dict[str, Any]) -> dict[str, Any]:
    """An origin's record cut to the limits its peers enforce (``check``): texts
    clipped, lists cut, markers whose features are too big left out."""
    out: dict[str, Any] = {}
    for k in ("victims", "offenders"):
        if payload.get(k):
            out[k] = [
                {**p, "p": _clip_text(p["p"], 100)} for p in payload[k][:MAX_PEOPLE] if p.get("p")
            ]
    if payload.get("locations"):
        out["locations"] = [
            {**loc, "description": _clip_text(loc["description"], 1000)}
            for loc in payload["locations"][:MAX_LOCATIONS]
        ]
    meta = payload.get("metadata")
    if meta:
        out["metadata"] = {
            k: (_clip_text(v, METADATA_TEXT[k]) if k in METADATA_TEXT else v)
            for k, v in meta.items()
        }
    if payload.get("text"):
        out["text"] = [
            {
                "engine": _clip_text(t["engine"], 24),
                "language": _clip_text(t["language"], 64),
                "text": _clip_text(t["text"], MAX_TEXT),
            }
            for t in payload["text"][:MAX_TEXTS]
        ]
    if payload.get("markers"):
        marks: list[dict[str, Any]] = []
        for m in payload["markers"]:
            if len(m["features"]) > MAX_FEATURES_B64 or len(marks) >= MAX_MARKERS:
                continue
            marks.append({**m, "note": _clip_text(m["note"], 4000)} if m.get("note") else m)
        if marks:
            out["markers"] = marks
    return {k: v for k, v in out.items() if v}


__all__ = [
    "MARKER_KINDS",
    "MAX_MARKERS",
    "MAX_TEXT",
    "MAX_TEXTS",
    "MEDIA_FIELDS",
    "SERIES_FIELDS",
    "FullRecordError",
    "check",
    "clip",
    "is_media_detail",
    "is_series_detail",
    "marker_features",
]
