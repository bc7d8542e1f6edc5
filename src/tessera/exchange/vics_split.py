"""The Media objects of a VICS ``#Media`` file, split from its bytes and parsed by orjson.

``ijson.items(f, "value.item")`` builds each Media object event by event through
yajl: a third of reading a large file. Files as Griffeye and Tessera write them are
one object whose metadata key is followed by ``"value": [`` and the Media objects,
so the objects can be cut out of the bytes instead (the depth guard already marks
every bracket outside strings: an object opening at depth 3 starts a Media object,
its closing bracket at depth 2 ends it) and parsed a read at a time by orjson,
several times faster than yajl.

The values are the ones ijson gives, or the file goes the ijson way:

* any layout but the plain one (other keys before ``value``, a ``value`` that is not
  the last key, anything but objects in the array), anything orjson refuses (bad
  JSON, bytes that are not UTF-8, lone surrogates the guard broke), a run of 19 or
  more digits in a read's objects (orjson takes integers yajl refuses beyond 64
  bits, and turns those beyond that into floats: such objects are parsed by
  yajl one by one) make :func:`media_items` read the file again from its start with
  ijson, skipping the objects already given: ijson then gives the same values and
  raises the same errors, at the same record, as it always did;
* the guard reads the same chunks as ijson would (``read(65536)``), and the objects
  are given read by read as ijson gives them, so a hostile nesting depth or string
  size fails at the same record.

Property-tested against ``ijson.items`` (``tests/exchange/test_vics_split.py``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson
import numpy as np

from tessera.exchange.jsonguard import DepthGuard

try:
    import orjson
except ImportError:  # pragma: no cover - pyproject lists it; an old venv may lack it
    orjson = None  # type: ignore[assignment]

CHUNK = 64 * 1024
"""What ijson reads at a time (its ``buf_size``): the guard sees the same reads."""

_WS = b" \t\r\n"
_HEAD = re.compile(
    rb'[ \t\r\n]*\{[ \t\r\n]*"(?:odata\.metadata|@odata\.context)"[ \t\r\n]*:[ \t\r\n]*'
    rb'"[^"\\\x00-\x1f]*"[ \t\r\n]*,[ \t\r\n]*"value"[ \t\r\n]*:[ \t\r\n]*\['
)
_DIGIT_MAP = bytes(48 if 48 <= i < 58 else 32 for i in range(256))
_RUN = b"0" * 19
_BEFORE_NUMBER = frozenset(b"-:,[ \t\r\n")


class _Unusual(Exception):
    """Not the plain layout, or not for orjson: read the file the ijson way."""


def media_items(stream: BinaryIO) -> Iterator[Any]:
    """``ijson.items(DepthGuard(stream), "value.item", use_float=True)``, faster for
    plain files; ``stream`` (seekable) is at the document's first byte."""
    body = stream.tell()
    done = 0
    if orjson is not None:
        try:
            for item in _split(stream):
                done += 1
                yield item
            return
        except _Unusual:
            stream.seek(body)
    for i, item in enumerate(ijson.items(DepthGuard(stream), "value.item", use_float=True)):
        if i >= done:
            yield item


def _split(stream: BinaryIO) -> Iterator[Any]:
    guard = DepthGuard(stream)
    guard.track = True
    data = guard.read(CHUNK)
    head = _HEAD.match(data)
    if head is None:
        raise _Unusual
    buf, buf_at = bytearray(data), 0  # what was read from absolute offset buf_at on
    read_at = 0  # absolute offset of the last read's data
    depth = 0  # before the last read
    last_end = head.end() - 1  # where the last object (at first the array's bracket) ends
    gap = b""  # what is not whitespace since last_end, in reads before
    first = True
    open_at = -1  # start of an object not closed yet
    ended = -1  # where the array ends
    while True:
        where, depths = guard.brackets
        if len(where):
            opens = depths > np.concatenate(([depth], depths[:-1]))
            edge = (opens & (depths == 3)) | (~opens & (depths <= 2))
            at = (where + read_at)[edge].tolist()
            kinds = np.where(opens, -1, depths)[edge].tolist()  # -1 opens, 2 ends, 1 array end
            depth = int(depths[-1])
        else:
            at = kinds = []
        spans: list[tuple[int, int]] = []
        for pos, kind in zip(at, kinds, strict=True):
            if pos < head.end():
                continue  # the root object's and the array's own brackets
            if kind < 0:
                between = gap + buf[last_end + 1 - buf_at : pos - buf_at].translate(None, _WS)
                if between != (b"" if first else b","):
                    raise _Unusual
                first, gap, open_at = False, b"", pos
            elif kind == 2:
                if open_at < 0:
                    raise _Unusual
                spans.append((open_at, pos))
                last_end, open_at = pos, -1
            else:  # the array's end, or a bracket outside it
                between = gap + buf[last_end + 1 - buf_at : pos - buf_at].translate(None, _WS)
                if kind != 1 or open_at >= 0 or between:
                    raise _Unusual
                ended = pos
                break
        if spans:
            yield from _parse(buf, buf_at, spans)
        if ended >= 0:
            _tail(guard, buf[ended + 1 - buf_at :])
            return
        if open_at < 0:  # keep only what the next gap needs to be checked
            gap += buf[last_end + 1 - buf_at :].translate(None, _WS)
            if len(gap) > 1:
                raise _Unusual
            buf_at += len(buf)
            buf.clear()
            last_end = buf_at - 1
        elif open_at > buf_at:
            del buf[: open_at - buf_at]
            buf_at = open_at
        read_at += len(data)
        data = guard.read(CHUNK)
        if not data:
            raise _Unusual  # cut short: ijson says where
        buf += data


def _parse(buf: bytearray, buf_at: int, spans: list[tuple[int, int]]) -> list[Any]:
    """The objects at ``spans`` (absolute first and last byte) of ``buf``."""
    first, last = spans[0][0] - buf_at, spans[-1][1] - buf_at
    segment = buf[first : last + 1]
    if not _long_number(segment):
        try:
            items = orjson.loads(b"[" + segment + b"]")
        except orjson.JSONDecodeError:
            raise _Unusual from None
    else:  # objects that may hold a number of 19 digits go through yajl, one by one
        items = []
        for s, e in spans:
            one = buf[s - buf_at : e + 1 - buf_at]
            try:
                if _long_number(one):
                    items.extend(ijson.items(io.BytesIO(b"[" + one + b"]"), "item", use_float=True))
                else:
                    items.append(orjson.loads(one))
            except (orjson.JSONDecodeError, ijson.JSONError, UnicodeDecodeError):
                raise _Unusual from None
    if len(items) != len(spans) or any(type(x) is not dict for x in items):
        raise _Unusual
    return items  # type: ignore[no-any-return]


def _long_number(text: bytearray) -> bool:
    """True when ``text`` may hold a number of 19 digits or more: a run of 19 digits
    that does not follow a character numbers never follow (hex digests in upper case
    have such runs, inside strings: a letter or a quote comes before them)."""
    digits = text.translate(_DIGIT_MAP)
    at = digits.find(_RUN)
    while at >= 0:
        if at == 0 or text[at - 1] in _BEFORE_NUMBER:
            return True
        end = digits.find(b" ", at)
        if end < 0:
            return True  # (the text ends with a digit: not an object)
        at = digits.find(_RUN, end)
    return False


def _tail(guard: DepthGuard, rest: bytearray) -> None:
    """What follows the array must be the root object's end (whitespace around)."""
    seen = bytes(rest).translate(None, _WS)
    while len(seen) <= 1:
        more = guard.read(CHUNK)
        if not more:
            break
        seen += more.translate(None, _WS)
    if seen != b"}":
        raise _Unusual


__all__ = ["CHUNK", "media_items"]
