"""The one record every exchange format reads into and writes from.

Formats differ in what they carry (an ICSE CSV row has PhotoDNA and flags, a hash
list line one hash, a VICS Media object nearly everything), but an import applies
the same facts to the database whatever the source, and an export writes the same
facts to any target. So every codec converts to and from :class:`ExchangeRecord`:
an immutable, validated value (digests normalised to lower-case hex, bounded
strings, booleans already parsed from real files' ``"true"``/``"false"`` strings).

Each codec also states what it *carries* (``carried``), so "import -> export ->
import is lossless" can be checked as ``read(write(records)) == carried(records)``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tessera.errors import InvalidRecord

MediaKind = Literal["image", "video", "audio", "other"]

MAX_TEXT = 65_536
"""Longest free-text value accepted (comments, paths): hostile files carry huge strings."""
MAX_NAME = 512
MAX_OPAQUE = 8_192
"""Longest opaque hash text (PhotoDNA is 192 base64 characters; video hashes are longer)."""
MAX_TAGS = 256
MAX_EXTRA_DEPTH = 8
MAX_EXTRA_ITEMS = 10_000

_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,31}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG_FORBIDDEN = re.compile(r"[,\n\r\t]")
_LINE_BAD = re.compile(r"[\x00-\x1f\x7f]")
_HASH_BAD = re.compile(r"[\s\x00-\x1f\x7f]")
_INT_TEXT = re.compile(r"\s*-?\d{1,19}\s*")
_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone UTF-16 surrogate (a JSON ``\\ud800`` escape parsed by the standard library):
not a character, so pydantic's ``str`` refuses it; ``fast_record`` must too."""
LONE_SURROGATE = "a lone surrogate (a \\ud800-\\udfff escape without its pair) is not a character"
"""Why a tag or another field's text is refused: pydantic's ``str`` refuses it in the
record's own fields; tags and ``vics_extra`` refuse it too (the lead's decision,
session 10: no file could carry it on as UTF-8, and a CSV export would fail on it)."""

RESERVED_HASH_NAMES = frozenset(
    {"md5", "sha1", "sha256", "sha-256", "pdq", "photodna", "video_md5", "pdna"}
)
_ENTRY_EXCLUDE = {
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "photodna",
    "other_hashes",
    "category",
    "category_profile",
    "source_id",
    "deleted",
    "series",
}
DIGEST_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}


def _hex(value: str | None, length: int, name: str) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    if not v:
        return None
    if len(v) != length or not _HEX.match(v):
        raise ValueError(f"{name} must be {length} hexadecimal characters, got {value[:80]!r}")
    return v


class OpaqueHash(BaseModel):
    """A hash Tessera cannot compute (PhotoDNA lives in its own field; these are the rest:
    NetClean, Videntifier, TMK+PDQF...), kept and exported exactly as received."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(max_length=32)
    value: str = Field(min_length=1, max_length=MAX_OPAQUE)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip().lower()
        if not _HASH_NAME.match(v):
            raise ValueError(f"hash name {v[:40]!r} must be 1-32 of a-z 0-9 _ . : -")
        if v in RESERVED_HASH_NAMES:
            raise ValueError(f"{v} has its own field")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: str) -> str:
        if _HASH_BAD.search(v):
            raise ValueError("hash value contains spaces or control characters")
        return v


class ExchangeRecord(BaseModel):
    """One known media item as exchange formats describe it: hashes plus metadata.

    ``category`` is stored raw with its ``category_profile`` (VICS: Default, US, UK,
    CUSTOM); ``tessera.exchange.categories`` maps it per profile. ``vics_extra``
    keeps VICS Media fields Tessera does not model (MediaFiles, Exifs, DateUpdated,
    unknown vendor keys) verbatim so a VICS round trip loses nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    photodna: str | None = Field(default=None, max_length=MAX_OPAQUE)
    other_hashes: tuple[OpaqueHash, ...] = ()
    kind: MediaKind | None = None
    mime_type: str | None = Field(default=None, max_length=255)
    source_id: str | None = Field(default=None, max_length=MAX_NAME)
    """The record's id in its source: VICS MediaID, ICSE Image ID, NCMEC entry id."""
    collab: str | None = Field(default=None, max_length=MAX_NAME)
    """Who contributed it in the source exchange (ThreatExchange collab, NCMEC member)."""
    series: str | None = Field(default=None, max_length=200)
    category: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    category_profile: str | None = Field(default=None, max_length=32)
    classification: str | None = Field(default=None, max_length=MAX_NAME)
    """A category given as text (NCMEC ``A1``, ThreatExchange ``POSITIVE_CLASS``)."""
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    is_distributed: bool | None = None
    baseline: bool | None = None
    file_available: bool | None = None
    submissions: int | None = Field(default=None, ge=0, le=2**31 - 1)
    tags: tuple[str, ...] = Field(default=(), max_length=MAX_TAGS)
    comments: str | None = Field(default=None, max_length=MAX_TEXT)
    media_size: int | None = Field(default=None, ge=0, le=2**62)
    relative_path: str | None = Field(default=None, max_length=MAX_TEXT)
    case_ref: str | None = Field(default=None, max_length=100)
    """The source's case (VICS ``CaseNumber`` under ``#Cases``, a bundle's case)."""
    deleted: bool = False
    """A deletion notice (NCMEC ``deletedImage``): withdraw the source's record."""
    vics_extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("md5")
    @classmethod
    def _md5(cls, v: str | None) -> str | None:
        return _hex(v, 32, "MD5")

    @field_validator("sha1")
    @classmethod
    def _sha1(cls, v: str | None) -> str | None:
        return _hex(v, 40, "SHA1")

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, v: str | None) -> str | None:
        return _hex(v, 64, "SHA256")

    @field_validator("pdq")
    @classmethod
    def _pdq(cls, v: str | None) -> str | None:
        return _hex(v, 64, "PDQ")

    @field_validator("photodna")
    @classmethod
    def _photodna(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if _HASH_BAD.search(v):
            raise ValueError("PhotoDNA contains spaces or control characters")
        return v or None

    @field_validator(
        "mime_type",
        "source_id",
        "collab",
        "series",
        "category_profile",
        "classification",
        "relative_path",
        "case_ref",
    )
    @classmethod
    def _line(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if _LINE_BAD.search(v):
            raise ValueError("contains control characters or line breaks")
        return v or None

    @field_validator("comments")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is not None and _CONTROL.search(v):
            raise ValueError("contains control characters")
        return v or None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for t in v:
            if _SURROGATE.search(t):
                raise ValueError(LONE_SURROGATE)
            if (
                not t
                or t != t.strip()
                or len(t) > 200
                or _TAG_FORBIDDEN.search(t)
                or _CONTROL.search(t)
            ):
                raise ValueError(
                    f"tag {t[:40]!r} must be 1-200 characters, no commas, no outer spaces"
                )
        return v

    @field_validator("vics_extra")
    @classmethod
    def _extra(cls, v: dict[str, Any]) -> dict[str, Any]:
        # kept as plain JSON (lists, finite numbers): stored and compared as read back
        text = check_json_shape(v)
        if not text.isprintable() and _SURROGATE.search(text):
            raise ValueError(LONE_SURROGATE)
        return cast(dict[str, Any], json.loads(text))

    def entry_data(self) -> dict[str, Any]:
        """What an exchange entry stores besides hashes, category, series and source id.

        Equal to ``model_dump(mode="json", exclude=..., exclude_defaults=True)``
        (property-tested), built by hand: the dump cost more per record than storing it.
        """
        d = self.__dict__
        out: dict[str, Any] = {}
        for name, default in _ENTRY_DEFAULTS:
            v = d[name]
            if v is default or v == default:
                continue
            out[name] = list(v) if type(v) is tuple else v
        return out

    def identity(self) -> list[tuple[str, str]]:
        """(algorithm, value) by which the record is matched, strongest first."""
        d = self.__dict__  # once per imported record: no attribute look-ups
        out = [(a, d[a]) for a in _IDENTITY if d[a]]
        if d["other_hashes"]:
            out.extend((h.name, h.value) for h in d["other_hashes"])
        return out


MAX_EXTRA_BYTES = 1 << 20
_IDENTITY = ("sha256", "sha1", "md5", "pdq", "photodna")

_ENTRY_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (name, f.get_default(call_default_factory=True))
    for name, f in ExchangeRecord.model_fields.items()
    if name not in _ENTRY_EXCLUDE
)
_DEFAULTS: dict[str, Any] = {
    name: f.get_default(call_default_factory=False)
    for name, f in ExchangeRecord.model_fields.items()
    if name != "vics_extra"
}
_DIGEST_FIELDS = (("md5", 32), ("sha1", 40), ("sha256", 64), ("pdq", 64))
_LINE_FIELDS = (
    ("mime_type", 255),
    ("source_id", MAX_NAME),
    ("collab", MAX_NAME),
    ("series", 200),
    ("category_profile", 32),
    ("classification", MAX_NAME),
    ("relative_path", MAX_TEXT),
    ("case_ref", 100),
)
_BOOL_FIELDS = (
    "victim_identified",
    "offender_identified",
    "is_distributed",
    "baseline",
    "file_available",
)
_KINDS = frozenset({"image", "video", "audio", "other"})
_INT32 = 2**31
_HEX_DIGITS = "0123456789abcdef"
# The regex checks below run only on text that is not ``str.isprintable()`` (a C loop):
# every character they look for (C0 controls, DEL, line breaks, whitespace other than
# the ASCII space, lone surrogates) is unprintable, so printable text (without a space,
# for hashes) cannot match them. Lone surrogates are refused in every field.
_KNOWN_FIELDS = frozenset(ExchangeRecord.model_fields)
# fast_record's kinds of field; from _NOT_NONE on, None is not the field's value
_DIGEST, _LINE, _PHOTODNA, _COMMENTS, _KIND, _BOOL, _INT = range(7)
_NOT_NONE = 7
_DELETED, _TAGS, _OTHERS, _EXTRA = range(7, 11)
_FIELD_KINDS: dict[str, int] = {
    **{name: _DIGEST for name, _ in _DIGEST_FIELDS},
    **{name: _LINE for name, _ in _LINE_FIELDS},
    **{name: _BOOL for name in _BOOL_FIELDS},
    "photodna": _PHOTODNA,
    "comments": _COMMENTS,
    "kind": _KIND,
    "category": _INT,
    "submissions": _INT,
    "media_size": _INT,
    "deleted": _DELETED,
    "tags": _TAGS,
    "other_hashes": _OTHERS,
    "vics_extra": _EXTRA,
}
_LENGTHS = dict(_DIGEST_FIELDS) | dict(_LINE_FIELDS)
_INT_RANGES = {
    "category": (-_INT32, _INT32 - 1),
    "submissions": (0, _INT32 - 1),
    "media_size": (0, 2**62),
}


def extra_surely_valid(value: Any) -> bool:
    """True only when the model accepts ``value`` unchanged: plain JSON (dicts with
    string keys, lists, strings, finite numbers, booleans, null), no deeper than
    ``MAX_EXTRA_DEPTH``, at most ``MAX_EXTRA_ITEMS`` values, an upper bound of its JSON
    text within ``MAX_EXTRA_BYTES``. Anything else goes to the full check."""
    if type(value) is not dict:
        return False
    size = items = depth = 0
    level: list[Any] = [value]
    while level:
        items += len(level)
        if items > MAX_EXTRA_ITEMS or depth > MAX_EXTRA_DEPTH:
            return False
        below: list[Any] = []
        for v in level:
            t = type(v)
            if t is str:
                if not v.isprintable() and _SURROGATE.search(v):
                    return False
                size += 6 * len(v) + 4  # each character escaped as \uXXXX at worst
            elif t is dict:
                size += 4
                for k, x in v.items():
                    if type(k) is not str or (not k.isprintable() and _SURROGATE.search(k)):
                        return False
                    size += 6 * len(k) + 6
                    below.append(x)
            elif t is list:
                size += 4
                below.extend(v)
            elif v is None or t is bool:
                size += 8
            elif t is int and -(10**20) < v < 10**20:
                size += 26
            elif t is float and math.isfinite(v):
                size += 34
            else:
                return False
        level = below
        depth += 1
    return size <= MAX_EXTRA_BYTES


def fast_record(values: dict[str, Any]) -> ExchangeRecord | None:
    """``ExchangeRecord(**values)`` without pydantic's per-field machinery, for values
    that plainly satisfy every rule of the model; ``None`` when any value is not plainly
    valid (the caller then validates in full, which gives the exact error).

    Readers of large files call this once per record: full validation cost more than
    parsing. The rules are the model's own (property-tested: whenever this returns a
    record, it equals the validated one; whenever validation fails, this returns None).
    Only the fields given are checked (defaults are valid), each by its kind.
    """
    d = new_values()
    for name, given in values.items():
        kind = _FIELD_KINDS.get(name)
        if kind is None:
            return None
        v = given
        if v is None:
            if kind >= _NOT_NONE:
                return None
            continue  # every other field's default is None
        if type(v) is str:
            if kind == _DIGEST:
                v = v.strip().lower()
                if not v:
                    v = None
                elif len(v) != _LENGTHS[name] or v.strip(_HEX_DIGITS):  # not all hex
                    return None
            elif kind == _LINE:
                if len(v) > _LENGTHS[name]:
                    return None
                if not v.isprintable() and (_LINE_BAD.search(v) or _SURROGATE.search(v)):
                    return None
                v = v or None
            elif kind == _PHOTODNA:
                if len(v) > MAX_OPAQUE:
                    return None
                v = v.strip()
                if not (v.isprintable() and " " not in v) and (
                    _HASH_BAD.search(v) or _SURROGATE.search(v)
                ):
                    return None
                v = v or None
            elif kind == _COMMENTS:
                if len(v) > MAX_TEXT:
                    return None
                if not v.isprintable() and (_CONTROL.search(v) or _SURROGATE.search(v)):
                    return None
                v = v or None
            elif kind != _KIND or v not in _KINDS:
                return None
        elif kind in (_BOOL, _DELETED):
            if type(v) is not bool:
                return None
        elif kind == _INT:
            if type(v) is not int or not _INT_RANGES[name][0] <= v <= _INT_RANGES[name][1]:
                return None
        elif kind == _TAGS:
            if type(v) is not tuple or len(v) > MAX_TAGS:
                return None
            for t in v:
                if (
                    type(t) is not str
                    or not t
                    or t != t.strip()
                    or len(t) > 200
                    or "," in t
                    or (
                        not t.isprintable()
                        and (_TAG_FORBIDDEN.search(t) or _CONTROL.search(t) or _SURROGATE.search(t))
                    )
                ):
                    return None
        elif kind == _OTHERS:
            if type(v) is not tuple or any(type(h) is not OpaqueHash for h in v):
                return None
        elif kind == _EXTRA:
            if not extra_surely_valid(v):
                return None
        else:
            return None  # a text field given something else than a str
        d[name] = v
    return _construct(d, set(values))


def new_values() -> dict[str, Any]:
    """Every field's default, in the model's order: what a record is built on."""
    return {**_DEFAULTS, "vics_extra": {}}


def construct(d: dict[str, Any], fields_set: set[str]) -> ExchangeRecord:
    """A record of values that satisfy every rule of the model (every field in ``d``,
    in the model's order; ``fields_set`` those given): for readers' checked fast paths."""
    return _construct(d, fields_set)


def trusted_record(values: dict[str, Any]) -> ExchangeRecord:
    """A record from values that are already valid (read back from the database, where
    they were validated on import, or computed by Tessera): ``model_construct``
    without its per-field default resolution, which cost more than the export."""
    if values.keys() <= _KNOWN_FIELDS:
        return _construct({**_DEFAULTS, "vics_extra": {}, **values}, set(values))
    known = {k: v for k, v in values.items() if k in _KNOWN_FIELDS}  # as model_construct
    return _construct({**_DEFAULTS, "vics_extra": {}, **known}, set(known))


def trusted_values(values: dict[str, Any]) -> dict[str, Any]:
    """``trusted_record(values).__dict__`` (every field, in the model's order) without
    the record: for writers that read a record's fields from its dict alone
    (``vics.write_values``), once per exported record."""
    if values.keys() <= _KNOWN_FIELDS:
        return {**_DEFAULTS, "vics_extra": {}, **values}
    known = {k: v for k, v in values.items() if k in _KNOWN_FIELDS}  # as trusted_record
    return {**_DEFAULTS, "vics_extra": {}, **known}


def _construct(d: dict[str, Any], fields_set: set[str]) -> ExchangeRecord:
    # what ``model_construct`` does, without its loop over every field's aliases
    record = ExchangeRecord.__new__(ExchangeRecord)
    _setattr(record, "__dict__", d)
    _setattr(record, "__pydantic_fields_set__", fields_set)
    _setattr(record, "__pydantic_extra__", None)
    _setattr(record, "__pydantic_private__", None)
    return record


_setattr = object.__setattr__


def check_json_shape(value: Any) -> str:
    """Bound size and depth of a free-form JSON value (no recursion: hostile depth);
    returns its JSON text. NaN and infinities are not JSON values."""
    try:
        text = json.dumps(value, ensure_ascii=False, check_circular=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("not a JSON value") from None
    if len(text) > MAX_EXTRA_BYTES:
        raise ValueError(f"more than {MAX_EXTRA_BYTES >> 10} KiB of other fields")
    if text.count("[") + text.count("{") <= MAX_EXTRA_DEPTH:
        return text  # cannot be nested deeper than that (brackets in strings only add)
    stack: list[tuple[Any, int]] = [(value, 0)]
    items = 0
    while stack:
        v, depth = stack.pop()
        items += 1
        if items > MAX_EXTRA_ITEMS:
            raise ValueError(f"more than {MAX_EXTRA_ITEMS} nested values")
        if depth > MAX_EXTRA_DEPTH:
            raise ValueError(f"nested deeper than {MAX_EXTRA_DEPTH} levels")
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
    return text


RecordError = InvalidRecord
"""A record of an exchange file is invalid; the whole file is rejected."""


def build_record(
    values: dict[str, Any], *, record: int, line: int | None = None, names: dict[str, str]
) -> ExchangeRecord:
    """Validate ``values`` into a record; errors name the record, line and source field.

    ``names`` maps model fields to the format's own field names for the message.
    """
    try:
        return ExchangeRecord(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = str(err["loc"][0]) if err["loc"] else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise RecordError(msg, record=record, line=line, field=names.get(loc, loc)) from None


def parse_bool(value: Any, *, record: int, field: str, line: int | None = None) -> bool | None:
    """JSON booleans and the strings real files carry: true/false, yes/no, 1/0, empty."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "yes", "y", "1"):
            return True
        if v in ("false", "no", "n", "0"):
            return False
        if v == "":
            return None
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise RecordError(
        f"{str(value)[:40]!r} is not a boolean", record=record, line=line, field=field
    )


def parse_int(value: Any, *, record: int, field: str, line: int | None = None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RecordError("a boolean is not a number", record=record, line=line, field=field)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # \s matches separators (\x1c-\x1f) int() does not strip
            pass
    raise RecordError(
        f"{str(value)[:40]!r} is not an integer", record=record, line=line, field=field
    )


def kind_from_mime(mime: str | None) -> MediaKind | None:
    if not mime:
        return None
    head = mime.split("/", 1)[0].lower()
    if head in ("image", "video", "audio"):
        return head  # type: ignore[return-value]
    return None


__all__ = [
    "DIGEST_LENGTHS",
    "ExchangeRecord",
    "MediaKind",
    "OpaqueHash",
    "RecordError",
    "build_record",
    "check_json_shape",
    "construct",
    "extra_surely_valid",
    "fast_record",
    "kind_from_mime",
    "new_values",
    "parse_bool",
    "parse_int",
    "trusted_record",
    "trusted_values",
]
