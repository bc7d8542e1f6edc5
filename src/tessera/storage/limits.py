"""Length limits of stored text, the same on SQLite and PostgreSQL, checked in Python.

SQLite ignores ``VARCHAR(n)`` and takes any length; PostgreSQL refuses a longer value
(``DataError``) and cannot index a B-tree key over ~2.7 KB. Left to the database, a
hostile 20,000-character archive member name or a 300-character agency name was fine
on one backend and an internal error (exit 70, the rest of the batch lost) on the
other. Every user-supplied string is checked here first, against the column's own
declared length, and refused as ``InvalidInput`` naming the field and the limit.
"""

from __future__ import annotations

import hashlib
import unicodedata

from sqlalchemy import Column, String

from tessera.errors import InvalidInput

MAX_PATH_BYTES = 2048
"""Longest original path (UTF-8 bytes) stored for a sighting or an ingest item: the
paths are in unique indexes, and PostgreSQL's B-tree keys stop near 2,700 bytes.
Longer names are a per-file error (``path-too-long``), never a failed batch."""


def check_length(value: str | None, column: Column[str] | object, what: str) -> None:
    """Refuse ``value`` if it is longer than ``column``'s declared ``String(n)``."""
    if value is None:
        return
    col_type = getattr(column, "type", None)
    limit = col_type.length if isinstance(col_type, String) else None
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed")


_ISO_3166 = frozenset(
    [
        "AD",
        "AE",
        "AF",
        "AG",
        "AI",
        "AL",
        "AM",
        "AO",
        "AQ",
        "AR",
        "AS",
        "AT",
        "AU",
        "AW",
        "AX",
        "AZ",
        "BA",
        "BB",
        "BD",
        "BE",
        "BF",
        "BG",
        "BH",
        "BI",
        "BJ",
        "BL",
        "BM",
        "BN",
        "BO",
        "BQ",
        "BR",
        "BS",
        "BT",
        "BV",
        "BW",
        "BY",
        "BZ",
        "CA",
        "CC",
        "CD",
        "CF",
        "CG",
        "CH",
        "CI",
        "CK",
        "CL",
        "CM",
        "CN",
        "CO",
        "CR",
        "CU",
        "CV",
        "CW",
        "CX",
        "CY",
        "CZ",
        "DE",
        "DJ",
        "DK",
        "DM",
        "DO",
        "DZ",
        "EC",
        "EE",
        "EG",
        "EH",
        "ER",
        "ES",
        "ET",
        "FI",
        "FJ",
        "FK",
        "FM",
        "FO",
        "FR",
        "GA",
        "GB",
        "GD",
        "GE",
        "GF",
        "GG",
        "GH",
        "GI",
        "GL",
        "GM",
        "GN",
        "GP",
        "GQ",
        "GR",
        "GS",
        "GT",
        "GU",
        "GW",
        "GY",
        "HK",
        "HM",
        "HN",
        "HR",
        "HT",
        "HU",
        "ID",
        "IE",
        "IL",
        "IM",
        "IN",
        "IO",
        "IQ",
        "IR",
        "IS",
        "IT",
        "JE",
        "JM",
        "JO",
        "JP",
        "KE",
        "KG",
        "KH",
        "KI",
        "KM",
        "KN",
        "KP",
        "KR",
        "KW",
        "KY",
        "KZ",
        "LA",
        "LB",
        "LC",
        "LI",
        "LK",
        "LR",
        "LS",
        "LT",
        "LU",
        "LV",
        "LY",
        "MA",
        "MC",
        "MD",
        "ME",
        "MF",
        "MG",
        "MH",
        "MK",
        "ML",
        "MM",
        "MN",
        "MO",
        "MP",
        "MQ",
        "MR",
        "MS",
        "MT",
        "MU",
        "MV",
        "MW",
        "MX",
        "MY",
        "MZ",
        "NA",
        "NC",
        "NE",
        "NF",
        "NG",
        "NI",
        "NL",
        "NO",
        "NP",
        "NR",
        "NU",
        "NZ",
        "OM",
        "PA",
        "PE",
        "PF",
        "PG",
        "PH",
        "PK",
        "PL",
        "PM",
        "PN",
        "PR",
        "PS",
        "PT",
        "PW",
        "PY",
        "QA",
        "RE",
        "RO",
        "RS",
        "RU",
        "RW",
        "SA",
        "SB",
        "SC",
        "SD",
        "SE",
        "SG",
        "SH",
        "SI",
        "SJ",
        "SK",
        "SL",
        "SM",
        "SN",
        "SO",
        "SR",
        "SS",
        "ST",
        "SV",
        "SX",
        "SY",
        "SZ",
        "TC",
        "TD",
        "TF",
        "TG",
        "TH",
        "TJ",
        "TK",
        "TL",
        "TM",
        "TN",
        "TO",
        "TR",
        "TT",
        "TV",
        "TW",
        "TZ",
        "UA",
        "UG",
        "UM",
        "US",
        "UY",
        "UZ",
        "VA",
        "VC",
        "VE",
        "VG",
        "VI",
        "VN",
        "VU",
        "WF",
        "WS",
        "YE",
        "YT",
        "ZA",
        "ZM",
        "ZW",
        "XK",
    ]
)
"""The 249 officially assigned ISO 3166-1 alpha-2 codes, and XK (Kosovo), which
Interpol and the EU use. User-assigned codes (``XX``, ``AA``, ``ZZ``...) name no
member country and are refused."""


def check_country(country: str) -> str:
    """The code upper-cased, if it is an assigned ISO 3166-1 alpha-2 code."""
    code = country.strip().upper()
    if code not in _ISO_3166:
        raise InvalidInput(
            f"country {country!r} is not an assigned ISO 3166 alpha-2 code (e.g. NL, DE)"
        )
    return code


def check_name(value: str, column: Column[str] | object, what: str) -> None:
    """A display name: within the column's length, no control characters (newlines,
    escape sequences), no leading or trailing spaces."""
    check_length(value, column, what)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise InvalidInput(f"{what} must not contain control characters or line breaks")


def check_category(category: int | None) -> None:
    """Category numbers of every scheme are small non-negative integers."""
    if category is not None and not 0 <= category <= 99:
        raise InvalidInput(f"category {category} must be between 0 and 99")


def check_path(path: str) -> None:
    """Refuse a stored path over ``MAX_PATH_BYTES`` (undecodable bytes count as one)."""
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > MAX_PATH_BYTES:
        raise InvalidInput(
            f"path is {size} bytes long; at most {MAX_PATH_BYTES} are stored",
            reason="path-too-long",
        )


def stored_path(path: str) -> str:
    """``path`` as stored for a sighting or ingest item: itself when it fits in
    ``MAX_PATH_BYTES``, else its start plus the SHA-256 of the whole name, so a
    hostile 20,000-character member name is still stored (and its file kept), the
    same name always maps to the same key (resume stays exact), and two long names
    with one start stay apart."""
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw) <= MAX_PATH_BYTES:
        return path
    digest = hashlib.sha256(raw).hexdigest()
    suffix = f"...[{len(raw)}-byte name, sha256 {digest}]"
    head = raw[: MAX_PATH_BYTES - len(suffix.encode())].decode("utf-8", "ignore")
    return head + suffix


__all__ = [
    "MAX_PATH_BYTES",
    "check_category",
    "check_country",
    "check_length",
    "check_name",
    "check_path",
    "stored_path",
]
