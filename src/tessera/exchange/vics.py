"""Project VIC VICS JSON (1.2/1.3 ``odata.metadata``, 2.0 ``@odata.context``), in and out.

The full VICS specification is not public; this follows what open readers and
writers do (IPED's hash database tool, X-Ways' Clees4All): the version and, in 2.0,
the category profile (Default, US, UK, CUSTOM) come from the metadata URL; the root
is ``#Media`` (``{"value": [Media...]}``) or ``#Cases`` (``{"value": [{Case...,
"Media": [...]}]}``). Real files carry booleans as ``"true"``/``"false"`` strings,
upper-case MD5 and hundreds of thousands of records, so the reader streams with
``ijson`` (one Media object in memory at a time) and never trusts a value's type.

Media fields Tessera models become :class:`ExchangeRecord` fields; the rest
(MediaFiles, Exifs, DateUpdated, IsPrecategorized, vendor keys...) are kept in
``vics_extra`` and written back verbatim. ``MediaID`` is file-local ("unique in
file"): it is read into ``source_id`` and written as the record's position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, TextIO, cast

import ijson

from tessera import jsontext
from tessera.errors import InvalidInput
from tessera.exchange import vics_split
from tessera.exchange.jsonguard import DepthGuard
from tessera.exchange.model import (
    MAX_NAME,
    MAX_OPAQUE,
    MAX_TAGS,
    MAX_TEXT,
    ExchangeRecord,
    OpaqueHash,
    RecordError,
    build_record,
    construct,
    extra_surely_valid,
    fast_record,
    kind_from_mime,
    new_values,
    parse_bool,
    parse_int,
)
from tessera.exchange.textio import check_start

PROFILES = ("Default", "US", "UK", "CUSTOM")
V1_URL = "http://github.com/ICMEC/ProjectVic/DataModels/{version}.xml#{root}"
V2_URL = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{profile}/$metadata#{root}"

_V1 = re.compile(
    r"^https?://github\.com/ICMEC/ProjectVic/DataModels/(1\.[0-9])\.xml#(Media|Cases)$", re.I
)
_V2 = re.compile(
    r"^https?://github\.com/VICSDATAMODEL/ProjectVic/DataModels/2\.0\.xml/([A-Za-z]+)/"
    r"\$metadata#(Media|Cases)$",
    re.I,
)

Root = Literal["Media", "Cases"]

# VICS Media field -> model field, for error messages and the known-key test.
_FIELDS = {
    "MediaID": "source_id",
    "Category": "category",
    "MD5": "md5",
    "SHA1": "sha1",
    "PhotoDNA": "photodna",
    "VictimIdentified": "victim_identified",
    "OffenderIdentified": "offender_identified",
    "IsDistributed": "is_distributed",
    "Series": "series",
    "Tags": "tags",
    "Comments": "comments",
    "MediaSize": "media_size",
    "RelativeFilePath": "relative_path",
    "MimeType": "mime_type",
    "AlternativeHashes": "other_hashes",
}
_NAMES = {v: k for k, v in _FIELDS.items()} | {"vics_extra": "(other fields)"}
_KNOWN = {k.lower(): k for k in _FIELDS}
_ALT_DIGESTS = {"sha256": "sha256", "sha-256": "sha256", "pdq": "pdq"}


@dataclass(frozen=True)
class VicsHeader:
    version: str  # "1.2", "1.3", "2.0"
    profile: str  # one of PROFILES ("Default" for 1.x)
    root: Root

    def url(self) -> str:
        if self.version.startswith("1."):
            return V1_URL.format(version=self.version, root=self.root)
        return V2_URL.format(profile=self.profile, root=self.root)

    @property
    def key(self) -> str:
        return "odata.metadata" if self.version.startswith("1.") else "@odata.context"


def parse_header(key: str, url: Any) -> VicsHeader:
    if not isinstance(url, str):
        raise InvalidInput(f"VICS: {key} must be a URL string")
    if key == "odata.metadata" and (m := _V1.match(url.strip())):
        root: Root = "Media" if m.group(2).lower() == "media" else "Cases"
        return VicsHeader(m.group(1), "Default", root)
    if key == "@odata.context" and (m := _V2.match(url.strip())):
        profile = {p.lower(): p for p in PROFILES}.get(m.group(1).lower())
        if profile is None:
            raise InvalidInput(
                f"VICS: unknown profile {m.group(1)!r} (one of {', '.join(PROFILES)})"
            )
        root = "Media" if m.group(2).lower() == "media" else "Cases"
        return VicsHeader("2.0", profile, root)
    raise InvalidInput(f"VICS: unrecognised data model {key}={url[:200]!r}")


def _skip_bom(stream: BinaryIO) -> None:
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start + check_start(head))


def read_header(stream: BinaryIO) -> VicsHeader:
    """The version, profile and root from the metadata key before ``value``."""
    start = stream.tell()
    _skip_bom(stream)
    try:
        events = ijson.parse(DepthGuard(stream))
        prefix, event, value = next(events)
        if event != "start_map":
            raise InvalidInput("VICS: the file must hold one JSON object")
        for prefix, event, value in events:
            if prefix == "" and event == "map_key":
                if value in ("odata.metadata", "@odata.context"):
                    key = value
                    _, ev, url = next(events)
                    header = parse_header(key, url if ev == "string" else None)
                    stream.seek(start)
                    return header
                if value == "value":
                    break
            elif prefix == "" and event == "end_map":
                break
    except ijson.JSONError as exc:
        raise InvalidInput(f"VICS: not valid JSON ({_short(exc)})") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"VICS: {_undecodable(exc)}") from None
    except InvalidInput as exc:
        raise InvalidInput(f"VICS: {exc.message}") from None
    except StopIteration:
        pass
    raise InvalidInput("VICS: no odata.metadata / @odata.context key before the records")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text[:200]


def read(stream: BinaryIO) -> Iterator[ExchangeRecord]:
    """Records of a VICS file (seekable binary stream), streamed."""
    start = stream.tell()
    header = read_header(stream)
    _skip_bom(stream)
    n = 0
    try:
        items = (
            _media_items(stream)
            if header.root == "Media"
            else _case_media_items(DepthGuard(stream), header)
        )
        for case_ref, item in items:
            n += 1
            yield media_to_record(item, header=header, number=n, case_ref=case_ref)
    except ijson.JSONError as exc:
        raise RecordError(f"not valid JSON ({_short(exc)})", record=n + 1) from None
    except UnicodeDecodeError as exc:
        # raised at the string itself (DepthGuard breaks lone surrogate escapes so
        # that they fail here): the record is exact; read again for its field
        message = _undecodable(exc)
        stream.seek(start)
        field = _undecodable_field(stream, header, n + 1)
        raise RecordError(message, record=n + 1, field=field) from None
    except InvalidInput as exc:
        if isinstance(exc, RecordError):
            raise
        raise RecordError(exc.message, record=n + 1) from None
    except RecursionError:
        raise RecordError("JSON nested too deeply", record=n + 1) from None


def _undecodable(exc: UnicodeDecodeError) -> str:
    raw = exc.object[exc.start : exc.start + 2]
    if len(raw) == 2 and raw[0] == 0xED and 0xA0 <= raw[1] <= 0xBF:
        return "a lone surrogate (a \\ud800-\\udfff escape without its pair) is not a character"
    return f"not UTF-8 text ({exc.reason})"


def _undecodable_field(stream: BinaryIO, header: VicsHeader, number: int) -> str | None:
    """The Media field of record ``number`` holding the string the parser could not
    decode; None when that string is a field's name (or outside a Media object)."""
    _skip_bom(stream)
    at = "value.item" if header.root == "Media" else "value.item.Media.item"
    count = depth = 0
    key: str | None = None
    last = ""
    try:
        for prefix, event, value in ijson.parse(DepthGuard(stream)):
            if depth == 0:
                if prefix == at and event == "start_map":
                    count, depth, key = count + 1, 1, None
            elif event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif event == "map_key" and depth == 1:
                key = value
            last = event
    except UnicodeDecodeError:
        if count == number and (depth > 1 or (depth == 1 and last == "map_key")):
            return key
    except (ijson.JSONError, InvalidInput):
        pass
    return None


def _media_items(stream: BinaryIO) -> Iterator[tuple[str | None, Any]]:
    # ``ijson.items(DepthGuard(stream), "value.item")``, plain files cut and parsed by orjson
    for item in vics_split.media_items(stream):
        yield None, item


def _case_media_items(stream: Any, header: VicsHeader) -> Iterator[tuple[str | None, Any]]:
    """Media of every case, with its CaseNumber; only one Media object built at a time."""
    case_number: str | None = None
    builder: Any = None
    depth = 0
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if builder is not None:
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    yield case_number, builder.value
                    builder = None
            if depth > 64:
                raise RecordError("JSON nested too deeply", record=None)
            continue
        if prefix == "value.item" and event == "start_map":
            case_number = None
        elif prefix == "value.item.CaseNumber" and event in ("string", "number"):
            case_number = str(value)
        elif prefix == "value.item.Media.item" and event == "start_map":
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1


_BOOLS: dict[Any, bool] = {"true": True, "false": False, True: True, False: False}
_STRING, _FLAG, _NUMBER, _TAGS, _ALTERNATIVE = range(5)
_KIND_OF = {
    **dict.fromkeys(
        ("MD5", "SHA1", "PhotoDNA", "Series", "Comments", "RelativeFilePath", "MimeType"), _STRING
    ),
    **dict.fromkeys(("VictimIdentified", "OffenderIdentified", "IsDistributed"), _FLAG),
    **dict.fromkeys(("MediaID", "Category", "MediaSize"), _NUMBER),
    "Tags": _TAGS,
    "AlternativeHashes": _ALTERNATIVE,
}
"""How each VICS Media field is read (a dispatch on one dict look-up per key)."""
_MIME_KINDS: dict[str, str | None] = {}


def _kind_of_mime(mime: str | None) -> str | None:
    if mime is None:
        return None
    kind = _MIME_KINDS.get(mime, _MISSING)
    if kind is _MISSING:
        kind = kind_from_mime(mime)
        if len(_MIME_KINDS) < 1024:  # a few MIME types per file, bounded whatever comes
            _MIME_KINDS[mime] = kind
    return cast("str | None", kind)


_MISSING: Any = object()


def media_to_record(
    item: Any, *, header: VicsHeader, number: int, case_ref: str | None = None
) -> ExchangeRecord:
    """One VICS Media object as a record; errors name the record number and VICS field."""
    if type(item) is dict:
        record = _plain_media(item, header.profile, case_ref)
        if record is not None:
            return record
    return _media_to_record(item, header=header, number=number, case_ref=case_ref)


# _plain_media's kinds of VICS field: (kind, model field, limit)
_P_DIGEST, _P_LINE, _P_PHOTODNA, _P_COMMENTS, _P_FLAG, _P_ID, _P_INT, _P_TAGS = range(8)
_PLAIN: dict[str, tuple[int, str, Any]] = {
    "MD5": (_P_DIGEST, "md5", 32),
    "SHA1": (_P_DIGEST, "sha1", 40),
    "PhotoDNA": (_P_PHOTODNA, "photodna", MAX_OPAQUE),
    "Series": (_P_LINE, "series", 200),
    "RelativeFilePath": (_P_LINE, "relative_path", MAX_TEXT),
    "MimeType": (_P_LINE, "mime_type", 255),
    "Comments": (_P_COMMENTS, "comments", MAX_TEXT),
    "VictimIdentified": (_P_FLAG, "victim_identified", None),
    "OffenderIdentified": (_P_FLAG, "offender_identified", None),
    "IsDistributed": (_P_FLAG, "is_distributed", None),
    "MediaID": (_P_ID, "source_id", MAX_NAME),
    "Category": (_P_INT, "category", (-(2**31), 2**31 - 1)),
    "MediaSize": (_P_INT, "media_size", (0, 2**62)),
    "Tags": (_P_TAGS, "tags", None),
}
"""The Media fields ``_plain_media`` reads itself, by their exact (canonical) names;
AlternativeHashes and names in other cases take the full path."""
_FLAGS: dict[Any, bool] = {"true": True, "false": False}
_HEX_DIGITS = "0123456789abcdef"


def _plain_media(item: dict[str, Any], profile: str, case_ref: str | None) -> ExchangeRecord | None:
    """The record of a Media object whose every value is plainly valid, read, checked
    and set in one pass (the full path reads the object into values, then checks
    them again field by field: that cost more than parsing); None when any value is
    not plainly valid or not read here, and the full path then gives the record or
    the error naming the field.

    The checks are ``fast_record``'s (the model's rules), only stricter: unprintable
    text, tags given as a list, booleans other than ``"true"``/``"false"`` all defer.
    Property-tested: whenever this returns a record, it equals the full path's."""
    d = new_values()
    given = {"case_ref", "kind"}
    extra: dict[str, Any] | None = None
    for key, raw in item.items():
        spec = _PLAIN.get(key)
        if spec is None:
            if key in _FIELDS or key.lower() in _KNOWN:
                return None  # AlternativeHashes, or a field's name in another case
            if extra is None:
                extra = {}
            extra[key] = raw
            continue
        value = raw
        how, name, limit = spec
        if value is None:
            if how == _P_ID:
                continue  # no source id: not given
            given.add(name)
            d[name] = () if how == _P_TAGS else None
            continue
        t = type(value)
        if how == _P_DIGEST:
            if t is not str:
                return None
            v = value.strip().lower()
            if not v:
                value = None
            elif len(v) != limit or v.strip(_HEX_DIGITS):
                return None
            else:
                value = v
        elif how == _P_FLAG:
            value = value if t is bool else _FLAGS.get(value) if t is str else None
            if value is None:
                return None
        elif how in (_P_INT, _P_ID):
            if t is str and value.isascii() and value.isdigit() and len(value) < 19:
                value = int(value)
            elif t is not int:
                return None
            if how == _P_ID:
                value = str(value)
                if len(value) > limit:
                    return None
            elif not limit[0] <= value <= limit[1]:
                return None
        elif t is not str:
            return None
        elif how == _P_TAGS:
            value = _plain_tags(value)
            if value is None:
                return None
        else:  # text: a line, PhotoDNA, comments
            if len(value) > limit:
                return None
            if how == _P_PHOTODNA:
                value = value.strip()
                if " " in value:
                    return None
            if not value.isprintable():
                return None
            value = value or None
        given.add(name)
        d[name] = value
    if case_ref is not None:
        if len(case_ref) > 100 or not case_ref.isprintable():
            return None
        d["case_ref"] = case_ref or None
    if d["category"] is not None:
        d["category_profile"] = profile
        given.add("category_profile")
    d["kind"] = _kind_of_mime(d["mime_type"])
    if extra is not None:
        if not extra_surely_valid(extra):
            return None
        d["vics_extra"] = extra
        given.add("vics_extra")
    if not (d["md5"] or d["sha1"] or d["photodna"]):
        return None  # no hash: the full path says so
    return construct(d, given)


def _plain_tags(value: str) -> tuple[str, ...] | None:
    """``_tags`` of a comma-separated string whose tags are plainly valid, else None."""
    if not value:
        return ()
    out: list[str] = []
    for p in value.split(","):
        t = p.strip()
        if t and t not in out:
            if len(t) > 200 or not t.isprintable():
                return None
            out.append(t)
    return tuple(out) if len(out) <= MAX_TAGS else None


def _media_to_record(
    item: Any, *, header: VicsHeader, number: int, case_ref: str | None = None
) -> ExchangeRecord:
    """``media_to_record`` in full: every value read into the model's fields, then
    checked (``fast_record``, else pydantic for the exact error)."""
    if type(item) is not dict and not isinstance(item, dict):
        raise RecordError("a Media entry must be a JSON object", record=number)
    values: dict[str, Any] = {"case_ref": case_ref}
    extra: dict[str, Any] = {}
    others: list[OpaqueHash] = []
    for key, value in item.items():
        name = key if key in _FIELDS else _KNOWN.get(key.lower())
        if name is None:
            extra[key] = value
            continue
        how = _KIND_OF[name]
        if how == _STRING:
            if value is not None and type(value) is not str:
                raise RecordError("must be a string", record=number, field=key)
            values[_FIELDS[name]] = value if value != "" else None
        elif how == _FLAG:
            flag = _BOOLS.get(value) if type(value) is str or type(value) is bool else None
            if flag is None:
                flag = parse_bool(value, record=number, field=key)
            values[_FIELDS[name]] = flag
        elif how == _NUMBER:
            num: int | None
            if type(value) is int:
                num = value
            elif type(value) is str and value.isascii() and value.isdigit() and len(value) < 19:
                num = int(value)  # real files carry numbers as strings
            else:
                num = parse_int(value, record=number, field=key)
            if name == "MediaID":
                if num is not None:
                    values["source_id"] = str(num)
            else:
                values[_FIELDS[name]] = num
        elif how == _TAGS:
            values["tags"] = _tags(value, number, key)
        else:  # AlternativeHashes
            _alternative(value, number, values, others)
    if others:
        values["other_hashes"] = tuple(others)
    if values.get("category") is not None:
        values["category_profile"] = header.profile
    values["kind"] = _kind_of_mime(values.get("mime_type"))
    if extra:
        values["vics_extra"] = extra  # shape checked by the model
    record = fast_record(values) or build_record(values, record=number, names=_NAMES)
    if (
        not (record.md5 or record.sha1 or record.sha256 or record.pdq or record.photodna)
        and not record.other_hashes
    ):
        raise RecordError("no hash (MD5, SHA1, PhotoDNA or another)", record=number, field="MD5")
    return record


def _tags(value: Any, number: int, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is str:
        if not value:
            return ()
        parts: list[Any] = value.split(",")
    elif isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        parts = value.split(",")
    else:
        raise RecordError("must be a comma-separated string", record=number, field=key)
    out: list[str] = []
    for p in parts:
        if type(p) is not str:
            raise RecordError("tags must be strings", record=number, field=key)
        t = p.strip()
        if t and t not in out:
            out.append(t)
    return tuple(out)


def _alternative(value: Any, number: int, values: dict[str, Any], others: list[OpaqueHash]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise RecordError("must be a list", record=number, field="AlternativeHashes")
    for i, entry in enumerate(value, 1):
        field = f"AlternativeHashes[{i}]"
        if not isinstance(entry, dict):
            raise RecordError("must be an object", record=number, field=field)
        low = {str(k).lower(): v for k, v in entry.items()}
        name, hv = low.get("hashname"), low.get("hashvalue")
        if not isinstance(name, str) or not isinstance(hv, str) or not name.strip():
            raise RecordError("needs HashName and HashValue strings", record=number, field=field)
        key = name.strip().lower()
        if key == "photodna":
            values.setdefault("photodna", hv.strip())
        elif key in _ALT_DIGESTS:
            values[_ALT_DIGESTS[key]] = hv
        elif key in ("md5", "sha1"):
            values.setdefault(key, hv)
        else:
            try:
                others.append(OpaqueHash(name=key, value=hv))
            except ValueError as exc:
                raise RecordError(str(exc).splitlines()[-1], record=number, field=field) from None


# -- writing ---------------------------------------------------------------------------


def record_to_media(r: ExchangeRecord, media_id: int, header: VicsHeader) -> dict[str, Any]:
    """The VICS Media object of a record (MD5/SHA1 upper case, as real files have them)."""
    return values_to_media(r.__dict__, media_id, header)


def values_to_media(d: dict[str, Any], media_id: int, header: VicsHeader) -> dict[str, Any]:
    """``record_to_media`` of the record whose fields are ``d``, read once per export
    record without attributes: its ``__dict__`` (every field, valid), or only the
    fields given (``stored.given_from_item``): a field not in ``d`` is its default
    (None, an empty tuple or dict: every default is falsy, so absent and default
    write the same), and keys that are no field are not read."""
    get = d.get
    out: dict[str, Any] = {
        "MediaID": media_id,
        "Category": get("category") if get("category_profile") == header.profile else None,
    }
    if md5 := get("md5"):
        out["MD5"] = md5.upper()
    if sha1 := get("sha1"):
        out["SHA1"] = sha1.upper()
    alt: list[dict[str, str]] = []
    if photodna := get("photodna"):
        if header.version.startswith("1."):
            alt.append({"HashName": "PhotoDNA", "HashValue": photodna})
        else:
            out["PhotoDNA"] = photodna
    if sha256 := get("sha256"):
        alt.append({"HashName": "SHA256", "HashValue": sha256})
    if pdq := get("pdq"):
        alt.append({"HashName": "PDQ", "HashValue": pdq})
    for h in get("other_hashes") or ():
        alt.append({"HashName": h.name, "HashValue": h.value})
    for key, name in _WRITTEN:
        value = get(name)
        if name == "tags":
            value = ",".join(value) if value else None
        if value is not None:
            out[key] = value
    if alt:
        out["AlternativeHashes"] = alt
    extra = get("vics_extra")
    if extra:
        for key, value in extra.items():
            if key.lower() not in _KNOWN:
                out[key] = value
    return out


_WRITTEN = (
    ("VictimIdentified", "victim_identified"),
    ("OffenderIdentified", "offender_identified"),
    ("IsDistributed", "is_distributed"),
    ("Series", "series"),
    ("Tags", "tags"),
    ("Comments", "comments"),
    ("MediaSize", "media_size"),
    ("RelativeFilePath", "relative_path"),
    ("MimeType", "mime_type"),
)
"""Media fields written from the record's own fields, in the order files have them."""


def write(
    records: Iterable[ExchangeRecord],
    out: TextIO,
    *,
    version: str = "2.0",
    profile: str = "Default",
    root: str = "Media",
) -> int:
    """Write a ``#Media`` or ``#Cases`` file; returns the number of records written
    (``write_values`` of the records' fields)."""
    return write_values(
        (r.__dict__ for r in records), out, version=version, profile=profile, root=root
    )


def write_values(
    records: Iterable[dict[str, Any]],
    out: TextIO,
    *,
    version: str = "2.0",
    profile: str = "Default",
    root: str = "Media",
) -> int:
    """Write a ``#Media`` or ``#Cases`` file of records given by their fields (each an
    ``ExchangeRecord.__dict__``: every field, valid; an export builds no record
    object); returns the number of records written.

    ``#Cases`` groups consecutive records of one ``case_ref`` under one Case object
    (``CaseNumber``, ``Media``); records without a case go in a Case without a number.
    Nothing is held back, so memory stays flat: records not ordered by case give
    several Case objects of one number, which readers take as the same case.
    """
    if version not in ("1.2", "1.3", "2.0"):
        raise InvalidInput(f"VICS version {version!r} not one of 1.2, 1.3, 2.0")
    if profile not in PROFILES:
        raise InvalidInput(f"VICS profile {profile!r} not one of {', '.join(PROFILES)}")
    if root not in ("Media", "Cases"):
        raise InvalidInput(f"VICS root {root!r} not one of Media, Cases")
    header = VicsHeader(version, profile if version == "2.0" else "Default", cast(Root, root))
    out.write("{" + json.dumps(header.key) + ": " + json.dumps(header.url()) + ",\n")
    out.write('"value": [')
    n = 0
    dumps = jsontext.dumps
    if root == "Media":
        # joined a few hundred at a time: one write per record cost a tenth of an export
        # (and one text per record: the bytes are decoded once per group)
        parts: list[bytes] = []
        dumps_bytes = jsontext.dumps_bytes
        for r in records:
            n += 1
            parts.append(dumps_bytes(values_to_media(r, n, header)))
            if len(parts) == 512:
                out.write(("\n" if n == 512 else ",\n") + b",\n".join(parts).decode())
                parts.clear()
        if parts:
            out.write(("\n" if n == len(parts) else ",\n") + b",\n".join(parts).decode())
        out.write("\n]}\n")
        return n
    case: str | None = None
    for r in records:
        n += 1
        if n == 1 or r.get("case_ref") != case:
            if n > 1:
                out.write("\n]},")
            case = r.get("case_ref")
            head = {"CaseNumber": case} if case is not None else {}
            out.write("\n" + dumps(head)[:-1] + ("," if head else "") + '"Media":[\n')
        else:
            out.write(",\n")
        out.write(dumps(values_to_media(r, n, header)))
    out.write("\n]}]}\n" if n else "\n]}\n")
    return n


def carried(
    r: ExchangeRecord, position: int, *, version: str = "2.0", root: str = "Media"
) -> ExchangeRecord:
    """What of ``r`` a VICS file written by :func:`write` carries back (its case only
    under ``#Cases``)."""
    profile = r.category_profile if version == "2.0" else "Default"
    keep_category = r.category is not None and r.category_profile == profile
    return r.model_copy(
        update={
            "source_id": str(position),
            "kind": kind_from_mime(r.mime_type),
            "collab": None,
            "classification": None,
            "baseline": None,
            "file_available": None,
            "submissions": None,
            "deleted": False,
            "case_ref": r.case_ref if root == "Cases" else None,
            "category": r.category if keep_category else None,
            "category_profile": profile if keep_category else None,
            "vics_extra": {k: v for k, v in r.vics_extra.items() if k.lower() not in _KNOWN},
        }
    )


__all__ = [
    "PROFILES",
    "VicsHeader",
    "carried",
    "media_to_record",
    "parse_header",
    "read",
    "read_header",
    "record_to_media",
    "values_to_media",
    "write",
    "write_values",
]
