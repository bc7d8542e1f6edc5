"""vics_split.media_items gives what ijson.items(DepthGuard(f), "value.item") gives: the
same values (types, key order), or the same error after the same objects."""

from __future__ import annotations

import io
import json
from typing import Any

import ijson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.exchange import vics_split
from tessera.exchange.jsonguard import DepthGuard

HEAD = (
    b'{"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/'
    b'$metadata#Media",\n"value": ['
)

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),  # beyond 64 bits: yajl refuses them, orjson does not
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),  # any character: escapes, non-ASCII, controls
    st.sampled_from(["0123456789012345678901", "ABC1234567890123456789", "a,1234567890123456789"]),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_media = st.dictionaries(
    st.sampled_from(["MediaID", "MD5", "Series", "Tags", "MediaFiles", "x", "y"]), _value
)


def _outcome(read: Any, data: bytes) -> tuple[str, str | None]:
    """repr of every value given (types and key order show), then the error, if any."""
    got: list[Any] = []
    try:
        for item in read(io.BytesIO(data)):
            got.append(item)
    except Exception as exc:  # the same type and message are expected of both
        return repr(got), f"{type(exc).__name__}: {exc}"
    return repr(got), None


def _ijson(stream: io.BytesIO) -> Any:
    return ijson.items(DepthGuard(stream), "value.item", use_float=True)


def _same(data: bytes) -> None:
    assert _outcome(vics_split.media_items, data) == _outcome(_ijson, data)


def _document(objects: list[Any], sep: str) -> bytes:
    texts = [json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in objects]
    return HEAD + sep.join(texts).encode() + b"\n]}\n"


@_settings
@given(st.lists(_media, max_size=12), st.sampled_from([",", ",\n", " , ", "\r\n,\t"]))
def test_plain_files_give_what_ijson_gives(objects: list[Any], sep: str) -> None:
    _same(_document(objects, sep))


@_settings
@given(st.lists(_media, min_size=1, max_size=30), st.integers(64, 400))
def test_objects_across_reads(objects: list[Any], chunk: int) -> None:
    real = vics_split.CHUNK
    vics_split.CHUNK = chunk  # (ijson reads 64 KiB: valid files only)
    try:
        _same(_document(objects, ",\n"))
    finally:
        vics_split.CHUNK = real


RECORD = b'{"MediaID":1,"MD5":"0123456789ABCDEF0123456789ABCDEF"}'


@pytest.mark.parametrize(
    "data",
    [
        HEAD + b"]}",  # no records
        HEAD + RECORD + b"," + RECORD + b"]}",
        HEAD + RECORD + b"]} \n\t",
        HEAD + RECORD + b",]}",  # trailing comma
        HEAD + b"," + RECORD + b"]}",
        HEAD + RECORD + RECORD + b"]}",  # no comma
        HEAD + RECORD + b",," + RECORD + b"]}",
        HEAD + RECORD + b", 5, " + RECORD + b"]}",  # not an object
        HEAD + RECORD + b", [1, 2], " + RECORD + b"]}",
        HEAD + RECORD + b', "x"]}',
        HEAD + RECORD + b"]}{}",  # garbage after the document
        HEAD + RECORD + b'], "value": [' + RECORD + b"]}",  # a second value array
        HEAD + RECORD + b'], "other": 1}',
        b'{"value": [' + RECORD + b'], "odata.metadata": "x"}',  # not the plain layout
        HEAD + RECORD + b"," + RECORD,  # cut short
        HEAD + RECORD + b',{"MediaID":1',
        HEAD + RECORD + b',{"a": 12345678901234567890}]}',  # beyond 64 bits
        HEAD + RECORD + b',{"a": -9223372036854775808, "b": 9223372036854775807}]}',
        HEAD + RECORD + b',{"a": "\\ud800"}]}',  # lone surrogate
        HEAD + RECORD + b',{"a": "\\udc00\\ud800x"}]}',
        HEAD + RECORD + b',{"a": "\xff"}]}',  # not UTF-8
        HEAD + RECORD + b',{"a": "x\x01"}]}',  # raw control character
        HEAD + RECORD + b',{"a": 01}]}',
        HEAD + RECORD + b',{"a": NaN}]}',
        HEAD + RECORD + b',{"a": 1e400}]}',
        HEAD + RECORD + b',{"a": 1, "a": 2, "b": {"c": [1.5e3, -0, -0.0, true]}}]}',
        HEAD + RECORD + b"," + b'{"a":' + b"[" * 70 + b"]" * 70 + b"}]}",  # too deep
        HEAD + RECORD + b',{"a": "\\"}{[]}\\\\"}]}',  # brackets and escapes in strings
    ],
)
def test_other_files_go_the_ijson_way(data: bytes) -> None:
    _same(data)


def test_large_files_fail_at_the_same_record() -> None:
    """Past the first read (64 KiB) the guard's error names the same record."""
    body = b",\n".join(RECORD for _ in range(3000))
    deep = b'{"a":' + b"[" * 70 + b"]" * 70 + b"}"
    _same(HEAD + body + b"," + deep + b"," + body + b"]}")
    _same(HEAD + body + b',{"a": "\xff"},' + body + b"]}")
    _same(HEAD + body + b"," + body + b"]}")
