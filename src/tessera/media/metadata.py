"""Camera and place metadata (EXIF, XMP) as plain values, and the helpers that link media.

Two pictures taken by the same camera body (same make, model and body serial) or
a few metres apart (GPS) may belong to one series and help locate a victim. Seized
files carry damaged and deliberately hostile metadata, so extraction here never
raises for bad metadata: every field that cannot be read sensibly is ``None`` and a
short note is added to ``MediaMetadata.warnings``. Only the bytes that are not an
image at all raise (``EmptyFile`` / ``UnsupportedMedia`` / ``CorruptMedia``).

XMP is parsed from the raw packet with expat itself, whose handlers refuse any
document type declaration, entity declaration or external reference the moment the
parser meets one, whatever the packet's encoding (a byte-pattern check alone was
bypassed by a UTF-16 packet): no external-entity resolution, no billion laughs.

``gps_clusters`` groups points within a radius with a union-find over a grid of
radius-sized cells, so 100 000 points take well under a second.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.parsers import expat

from PIL import Image

from tessera.errors import CorruptMedia
from tessera.media.decode import sniff_image

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""

MAX_TEXT = 256
"""Text fields are cut to this many characters (hostile files carry megabyte strings)."""
MAX_XMP_BYTES = 1 << 20

# IFD0 / Exif IFD / GPS IFD tags
_MAKE, _MODEL, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0131, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DT_ORIGINAL, _DT_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME, _OFFSET_ORIGINAL = 0x9010, 0x9011
_SUBSEC_ORIGINAL = 0x9291
_IMAGE_UNIQUE_ID = 0xA420
_OWNER_NAME, _BODY_SERIAL, _LENS_MAKE, _LENS_MODEL, _LENS_SERIAL = (
    0xA430,
    0xA431,
    0xA433,
    0xA434,
    0xA435,
)
_CAMERA_SERIAL_DNG = 0xC62F  # DNG CameraSerialNumber (IFD0)
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_ALT_REF, _GPS_ALT = 5, 6

_XMP_FIELDS: Mapping[str, str] = {
    # local name -> MediaMetadata.xmp key; namespaces are ignored on purpose
    "SerialNumber": "serial_number",  # aux:SerialNumber
    "BodySerialNumber": "body_serial_number",  # exifEX:BodySerialNumber
    "LensSerialNumber": "lens_serial_number",
    "Lens": "lens",
    "LensModel": "lens_model",
    "CreatorTool": "creator_tool",
    "CreateDate": "create_date",
    "DateTimeOriginal": "date_time_original",
    "ModifyDate": "modify_date",
    "DocumentID": "document_id",
    "OriginalDocumentID": "original_document_id",
    "InstanceID": "instance_id",
    "ImageUniqueID": "image_unique_id",
    "Make": "make",
    "Model": "model",
    "GPSLatitude": "gps_latitude",
    "GPSLongitude": "gps_longitude",
    "creator": "creator",
    "title": "title",
    "description": "description",
    "City": "city",
    "State": "state",
    "Country": "country",
    "Location": "location",
}


@dataclass(frozen=True)
class MediaMetadata:
    """What the file says about where, when and with what it was taken."""

    make: str | None = None
    model: str | None = None
    body_serial: str | None = None
    lens_make: str | None = None
    lens_model: str | None = None
    lens_serial: str | None = None
    owner_name: str | None = None
    software: str | None = None
    captured_at: datetime | None = None
    """DateTimeOriginal (with SubSecTimeOriginal); timezone-aware when OffsetTimeOriginal
    (or OffsetTime) is present, otherwise naive camera-local time."""
    modified_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude_m: float | None = None
    image_unique_id: str | None = None
    xmp: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def gps(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (datetimes as ISO 8601 text)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


# --- value coercion: never raise --------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0].decode("utf-8", "replace")
    elif isinstance(value, tuple | list):
        return None
    else:
        value = str(value)
    value = value.split("\x00", 1)[0]
    value = "".join(c for c in value if c.isprintable())
    value = " ".join(value.split())[:MAX_TEXT]
    return value or None


def _number(value: Any) -> float | None:
    """A finite float from an int, float, IFDRational or (num, den) pair, else None."""
    try:
        if isinstance(value, tuple | list):
            if len(value) != 2:
                return None
            num, den = float(value[0]), float(value[1])
            if den == 0:
                return None
            result = num / den
        elif isinstance(value, bytes | str) or value is None:
            return None
        else:
            den = getattr(value, "denominator", 1)
            if den == 0:
                return None
            result = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _dms(value: Any) -> float | None:
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None or p < 0 for p in parts):
        return None
    deg = [p for p in parts if p is not None]
    deg += [0.0] * (3 - len(deg))
    return deg[0] + deg[1] / 60.0 + deg[2] / 3600.0


def _ref(value: Any) -> str | None:
    text = _text(value)
    return text[0].upper() if text else None


_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def _offset(value: Any) -> timezone | None:
    text = _text(value)
    m = _OFFSET_RE.match(text or "")
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if m.group(1) == "-" else delta)


def _datetime(value: Any, subsec: Any = None, tz: timezone | None = None) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y:%m:%d"):
        try:
            dt = datetime.strptime(text[:19], fmt)
            break
        except ValueError:
            continue
    else:
        return None
    sub = _text(subsec)
    if sub and sub.isdigit():
        dt = dt.replace(microsecond=int((sub + "000000")[:6]))
    return dt.replace(tzinfo=tz) if tz is not None else dt


# --- extraction -------------------------------------------------------------------------


def _safe_ifd(exif: Image.Exif, tag: int, notes: list[str]) -> Mapping[int, Any]:
    try:
        ifd = exif.get_ifd(tag)
    except Exception as exc:  # Pillow raises many kinds on hostile offsets
        notes.append(f"unreadable IFD 0x{tag:04X}: {type(exc).__name__}")
        return {}
    return ifd if isinstance(ifd, Mapping) else {}


def _gps(gps: Mapping[int, Any], notes: list[str]) -> tuple[float | None, ...]:
    lat, lon = _dms(gps.get(_GPS_LAT)), _dms(gps.get(_GPS_LON))
    lat_ref, lon_ref = _ref(gps.get(_GPS_LAT_REF)), _ref(gps.get(_GPS_LON_REF))
    if lat is not None and lat_ref == "S":
        lat = -lat
    if lon is not None and lon_ref == "W":
        lon = -lon
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        if _GPS_LAT in gps or _GPS_LON in gps:
            notes.append("GPS position present but unreadable or out of range")
        lat = lon = None
    alt = _number(gps.get(_GPS_ALT))
    if alt is not None:
        ref = gps.get(_GPS_ALT_REF)
        if isinstance(ref, bytes):
            ref = ref[:1] == b"\x01"
        elif isinstance(ref, int):
            ref = ref == 1
        else:
            ref = False
        alt = -alt if ref else alt
        if abs(alt) > 100_000:
            alt = None
    return lat, lon, alt


def _first_text(*values: Any) -> str | None:
    for v in values:
        t = _text(v)
        if t:
            return t
    return None


def extract_metadata(data: bytes) -> MediaMetadata:
    """Read EXIF and XMP from image bytes; bad metadata gives ``None`` fields, not errors."""
    kind = sniff_image(data)
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data), formats=[kind.pillow_format or ""])
        except Exception as exc:
            raise CorruptMedia(f"{kind.name.upper()} could not be opened: {exc}") from exc
        with im:
            try:
                exif = im.getexif()
            except Exception as exc:
                notes.append(f"unreadable EXIF: {type(exc).__name__}")
                exif = Image.Exif()
            ifd0: Mapping[int, Any] = exif
            sub = _safe_ifd(exif, _EXIF_IFD, notes) if _EXIF_IFD in exif else {}
            gps = _safe_ifd(exif, _GPS_IFD, notes) if _GPS_IFD in exif else {}
            xmp_raw = _raw_xmp(im, data)
    try:
        values = _assemble(ifd0, sub, gps, notes)
    except Exception as exc:  # belt and braces: metadata must never cost the file
        notes.append(f"metadata ignored: {type(exc).__name__}")
        values = {}
    xmp = parse_xmp(xmp_raw) if xmp_raw else {}
    return MediaMetadata(**values, xmp=xmp, warnings=tuple(notes))


def _assemble(
    ifd0: Mapping[int, Any], sub: Mapping[int, Any], gps: Mapping[int, Any], notes: list[str]
) -> dict[str, Any]:
    tz = _offset(sub.get(_OFFSET_ORIGINAL)) or _offset(sub.get(_OFFSET_TIME))
    captured = _datetime(
        sub.get(_DT_ORIGINAL) or sub.get(_DT_DIGITIZED), sub.get(_SUBSEC_ORIGINAL), tz
    )
    modified = _datetime(ifd0.get(_DATETIME), None, _offset(sub.get(_OFFSET_TIME)))
    lat, lon, alt = _gps(gps, notes) if gps else (None, None, None)
    return {
        "make": _text(ifd0.get(_MAKE)),
        "model": _text(ifd0.get(_MODEL)),
        "body_serial": _first_text(sub.get(_BODY_SERIAL), ifd0.get(_CAMERA_SERIAL_DNG)),
        "lens_make": _text(sub.get(_LENS_MAKE)),
        "lens_model": _text(sub.get(_LENS_MODEL)),
        "lens_serial": _text(sub.get(_LENS_SERIAL)),
        "owner_name": _text(sub.get(_OWNER_NAME)),
        "software": _text(ifd0.get(_SOFTWARE)),
        "captured_at": captured,
        "modified_at": modified,
        "latitude": lat,
        "longitude": lon,
        "altitude_m": alt,
        "image_unique_id": _text(sub.get(_IMAGE_UNIQUE_ID)),
    }


_XMP_START = re.compile(rb"<x:xmpmeta|<\?xpacket begin|<rdf:RDF")


def _raw_xmp(im: Image.Image, data: bytes) -> bytes | None:
    for key in ("xmp", "XML:com.adobe.xmp"):
        value = im.info.get(key)
        if isinstance(value, str):
            value = value.encode("utf-8", "replace")
        if isinstance(value, bytes) and value:
            return value[:MAX_XMP_BYTES]
    m = _XMP_START.search(data, 0, 4 << 20)  # e.g. WebP/TIFF XMP Pillow leaves unparsed
    if m is None:
        return None
    end = data.find(b"</x:xmpmeta>", m.start(), m.start() + MAX_XMP_BYTES)
    if end < 0:
        end = data.find(b"</rdf:RDF>", m.start(), m.start() + MAX_XMP_BYTES)
        return data[m.start() : end + len(b"</rdf:RDF>")] if end >= 0 else None
    return data[m.start() : end + len(b"</x:xmpmeta>")]


_FORBIDDEN_XML = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def parse_xmp(packet: bytes) -> dict[str, str]:
    """Selected XMP properties (by local name, see ``_XMP_FIELDS``) as plain text.

    Packets declaring a DTD or entities are refused (empty result), so nothing is ever
    fetched or expanded. Malformed packets give what was read before the error: nothing.
    """
    if not packet or len(packet) > MAX_XMP_BYTES or _FORBIDDEN_XML.search(packet):
        return {}
    if not packet.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):  # not UTF-16
        packet = re.sub(rb"<\?xpacket[^>]*\?>", b"", packet).strip(b"\x00 \r\n\t")
    root = _parse_without_dtd(packet)
    if root is None:
        return {}
    out: dict[str, str] = {}
    for el in root.iter():
        # attributes: <rdf:Description aux:SerialNumber="..."/>
        for name, value in el.attrib.items():
            key = _XMP_FIELDS.get(_local(name))
            if key and key not in out and (text := _text(value)):
                out[key] = text
        key = _XMP_FIELDS.get(_local(el.tag))
        if key and key not in out:
            text = _text(" ".join(t for t in el.itertext()))
            if text:
                out[key] = text
    return out


class _Refused(Exception):
    """A DTD, an entity or an external reference: the packet is not read."""


def _refuse(*_: object) -> int:
    raise _Refused


def _parse_without_dtd(packet: bytes) -> ET.Element | None:
    """The packet's element tree, or None if it is malformed or declares anything.

    expat decodes UTF-8/16 itself (BOM or XML declaration) and calls these handlers
    on the decoded text, so no encoding slips a ``<!DOCTYPE`` past them.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    builder = ET.TreeBuilder()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.NotationDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.SkippedEntityHandler = _refuse  # an undeclared &name; is refused, not skipped
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(packet, True)
        return builder.close()
    except (_Refused, expat.ExpatError, ValueError, AssertionError):
        return None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


# --- linking helpers --------------------------------------------------------------------


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two ``(latitude, longitude)`` in degrees."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _norm(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


_SERIAL_JUNK = frozenset({"", "0", "00000000", "0000000000", "unknown", "none", "n/a"})


def _norm_serial(text: str | None) -> str:
    serial = "".join(_norm(text).split()).lstrip("0") or ""
    return "" if _norm(text).replace(" ", "") in _SERIAL_JUNK else serial


def _norm_make(text: str | None) -> str:
    # "NIKON CORPORATION" / "Nikon"; "Canon" / "CANON INC."
    words = _norm(text).replace(",", " ").replace(".", " ").split()
    stop = {"corporation", "corp", "inc", "co", "ltd", "company", "imaging", "camera"}
    return " ".join(w for w in words if w not in stop)


def _norm_model(make: str | None, model: str | None) -> str:
    m = _norm(model)
    for prefix in (_norm(make), _norm_make(make)):
        if prefix and m.startswith(prefix + " "):
            m = m[len(prefix) + 1 :]
    return m


def same_camera(a: MediaMetadata, b: MediaMetadata) -> bool:
    """True when both name the same camera body.

    Both must carry a body serial (not a placeholder like ``0`` or ``unknown``); the
    serials must match ignoring case, spaces and leading zeros; and where both give a
    make and a model, those must match too (case/space-insensitive, corporate suffixes
    and a model's leading repeat of the make ignored). A serial alone is not unique
    across manufacturers, a make/model alone is not evidence of one body.
    """
    sa, sb = _norm_serial(a.body_serial), _norm_serial(b.body_serial)
    if not sa or sa != sb:
        return False
    if a.make and b.make and _norm_make(a.make) != _norm_make(b.make):
        return False
    return not (
        a.model and b.model and _norm_model(a.make, a.model) != _norm_model(b.make, b.model)
    )


def camera_key(m: MediaMetadata) -> str | None:
    """A stored key for "same camera body": normalised make and body serial.

    ``None`` without a real serial. Two keys are equal exactly when ``same_camera``
    would say so for media that both name their make (the usual case).
    """
    serial = _norm_serial(m.body_serial)
    if not serial:
        return None
    return f"{_norm_make(m.make)}/{serial}"[:128]


def gps_clusters(points: Sequence[tuple[float, float]], radius_m: float) -> list[list[int]]:
    """Indices of ``points`` grouped so that points within ``radius_m`` share a group.

    Single-linkage (chains join), computed with union-find over a grid of cells about
    ``radius_m`` wide, comparing each point only with its own and neighbouring cells.
    Groups are sorted by their first index; every point is in exactly one group.
    """
    if radius_m < 0 or not math.isfinite(radius_m):
        raise ValueError("radius_m must be a finite, non-negative number")
    n = len(points)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Cells are half the radius high (so points within radius are at most 2 rows apart)
    # and at least that wide at their row's poleward edge, in whole cells round the
    # globe. A cell whose diagonal is within the radius is joined without comparisons,
    # and a pair of cells already joined is skipped: dense clusters cost little.
    lat_cell = max(radius_m / 222_000.0, 1e-9)
    grid: dict[tuple[int, int], list[int]] = {}
    widths: dict[int, float] = {}
    for i, (lat, lon) in enumerate(points):
        row = math.floor((lat + 90.0) / lat_cell)
        width = widths.get(row)
        if width is None:
            edge = min(90.0, max(abs(row * lat_cell - 90.0), abs((row + 1) * lat_cell - 90.0)))
            cos = math.cos(math.radians(edge))
            raw = 360.0 if cos < 1e-6 else min(360.0, lat_cell / cos)
            width = 360.0 / max(1, math.floor(360.0 / raw))  # whole cells round the globe
            widths[row] = width
        col = math.floor((lon + 180.0) / width) % round(360.0 / width)
        grid.setdefault((row, col), []).append(i)

    solid: set[int] = set()  # id() of cells whose points are all joined
    for (row, _col), members in grid.items():
        lat0 = row * lat_cell - 90.0
        lat1 = lat0 + lat_cell
        width = widths[row]
        diagonal = max(
            haversine_m((lat0, 0.0), (lat1, width)),
            haversine_m((lat1, 0.0), (lat0, width)),
            haversine_m((lat0, 0.0), (lat0, width)),
            haversine_m((lat1, 0.0), (lat1, width)),
        )
        if diagonal <= radius_m * 0.98 and width < 90.0:
            solid.add(id(members))
            root = find(members[0])
            for j in members[1:]:
                parent[find(j)] = root
    for (row, col), members in grid.items():
        width = widths[row]
        for nrow in range(row - 2, row + 3):
            nwidth = widths.get(nrow)
            if nwidth is None:
                continue
            ncells = round(360.0 / nwidth)
            reach = 2.0 * max(width, nwidth)
            lo = math.floor((col * width - reach) / nwidth)
            hi = math.floor(((col + 1) * width + reach) / nwidth)
            cols = {c % ncells for c in range(lo, hi + 1)} if hi - lo < ncells else range(ncells)
            for ncol in cols:
                others = grid.get((nrow, ncol))
                if others and (nrow, ncol) >= (row, col):
                    _link(members, others, points, radius_m, find, parent, solid)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _link(  # noqa: PLR0917
    members: list[int],
    others: list[int],
    points: Sequence[tuple[float, float]],
    radius_m: float,
    find: Any,
    parent: list[int],
    solid: set[int],
) -> None:
    same = members is others
    if same and id(members) in solid:
        return
    members_solid, others_solid = id(members) in solid, id(others) in solid
    if members_solid and others_solid and find(members[0]) == find(others[0]):
        return
    for k, i in enumerate(members):
        for j in others[k + 1 :] if same else others:
            ri, rj = find(i), find(j)
            if ri == rj:
                if others_solid:
                    break  # i already joins the whole of ``others``
                continue
            if haversine_m(points[i], points[j]) <= radius_m:
                parent[max(ri, rj)] = min(ri, rj)
                if others_solid:
                    break
        if members_solid and others_solid and find(members[0]) == find(others[0]):
            return


def points_of(items: Iterable[MediaMetadata]) -> list[tuple[float, float] | None]:
    """The GPS positions of ``items`` (``None`` where absent), for ``gps_clusters``."""
    return [m.gps for m in items]


__all__ = [
    "EARTH_RADIUS_M",
    "MediaMetadata",
    "camera_key",
    "extract_metadata",
    "gps_clusters",
    "haversine_m",
    "parse_xmp",
    "points_of",
    "same_camera",
]
