"""JSON text on the hot paths of exchange and federation (one call per record).

Imports store each record's entry as JSON and exports read it back and write one
JSON object per record: with the standard library that was a fifth of an export's
CPU time. orjson does the same in native code, but not always with the same
result, so it is used only where the value comes out equal:

* ``dumps``: compact text, non-ASCII characters as they are. orjson refuses integers
  beyond 64 bits, non-string keys and lone surrogates (a hostile file's ``\udcff``
  escape comes back from the parser as one): those values go through the standard
  library instead, with ASCII escapes, so the text can always be stored as UTF-8.
  (orjson writes NaN as ``null``: the values written here were validated, and NaN
  or infinities never pass that.)
* ``loads``: orjson turns integers beyond 64 bits into floats, silently; text with
  a run of 19 or more digits is parsed by the standard library instead, and so is
  anything orjson refuses (an escaped lone surrogate).

When orjson is missing (a virtualenv made before it was a dependency) both fall
back to the standard library: same values, slower.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - pyproject lists it; an old venv may lack it
    orjson = None  # type: ignore[assignment]

_std_dumps = json.JSONEncoder(separators=(",", ":")).encode
# a run of 19 ASCII digits, found by mapping digits to "0" and the rest to " " (C loops;
# a regex search for \d{19} restarted at every digit and cost an eighth of an export)
_DIGIT_MAP = bytes(48 if 48 <= i < 58 else 32 for i in range(256))
_RUN = b"0" * 19


def _long_number(text: str) -> bool:
    """True when ``text`` holds 19 or more ASCII digits in a row (numbers in JSON are
    ASCII: other scripts' digits can only be in strings)."""
    return _RUN in text.encode("utf-8", "surrogatepass").translate(_DIGIT_MAP)


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            pass
    return _std_dumps(value)


def dumps_bytes(value: Any) -> bytes:
    """``dumps(value)`` as UTF-8 (no text object per value: writers join many, then
    decode once)."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass
    return _std_dumps(value).encode()  # ASCII: the standard library escapes the rest


def loads(text: str) -> Any:
    """The value of JSON ``text`` (as ``json.loads``)."""
    if orjson is not None and not _long_number(text):
        try:
            return orjson.loads(text)
        except ValueError:
            pass
    return json.loads(text)


_GROUP = 64
"""Texts ``loads_many`` parses per call: few enough that a run of 19 digits inside a
string (hex digests in upper case have them) rarely sends a group the slow way."""


def loads_many(texts: Sequence[str]) -> list[Any]:
    """``[loads(t) for t in texts]`` (each text one JSON value), parsed a group at a
    time as one array: one call and one digit-run check per group instead of per text.
    A group with a run of 19 digits anywhere is parsed text by text, as ``loads``."""
    out: list[Any] = []
    for i in range(0, len(texts), _GROUP):
        group = texts[i : i + _GROUP]
        joined = "[" + ",".join(group) + "]"
        parsed: Any = None
        if orjson is not None and not _long_number(joined):
            try:
                parsed = orjson.loads(joined)
            except ValueError:
                parsed = None
        if type(parsed) is list and len(parsed) == len(group):
            out.extend(parsed)
        else:
            out.extend(loads(t) for t in group)
    return out


def loads_native(data: bytes) -> Any:
    """orjson's value of UTF-8 ``data``; None when orjson is missing or refuses it.
    Unlike ``loads`` an integer beyond 64 bits comes back as a float: only for
    callers whose checks give such a value the same verdict either way."""
    if orjson is None:
        return None
    try:
        return orjson.loads(data)
    except ValueError:
        return None


__all__ = ["dumps", "dumps_bytes", "loads", "loads_many", "loads_native"]
