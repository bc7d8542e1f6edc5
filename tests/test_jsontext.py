"""``tessera.jsontext`` gives the values the standard library gives (the oracle), also
where orjson alone would not: integers beyond 64 bits, lone surrogates, non-string keys."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera import jsontext

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**21), max_value=10**21)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec=None), max_size=20)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_dumps_then_loads_is_the_value(value: Any) -> None:
    text = jsontext.dumps(value)
    assert json.loads(text) == value  # the standard library reads what we wrote
    assert jsontext.loads(text) == value


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_loads_equals_the_standard_library(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert jsontext.loads(text) == json.loads(text)


def test_values_orjson_alone_gets_wrong() -> None:
    big = 123456789012345678901  # beyond 64 bits: orjson would make it a float
    assert jsontext.loads(f'{{"n": {big}}}') == {"n": big}
    assert type(jsontext.loads(f"[{big}]")[0]) is int
    assert jsontext.dumps({"n": big}) == f'{{"n":{big}}}'
    lone = "a\udcffb"  # what a parser gives for a hostile file's "\udcff" escape
    text = jsontext.dumps([lone])
    text.encode("utf-8")  # storable as UTF-8
    assert jsontext.loads(text) == [lone]
    assert jsontext.dumps({1: "x"}) == '{"1":"x"}'
    assert jsontext.dumps({"é": "ü"}) == '{"é":"ü"}'  # non-ASCII kept as it is


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, max_size=150))
def test_loads_many_equals_loads_of_each(values: list[Any]) -> None:
    texts = [jsontext.dumps(v) for v in values]
    assert jsontext.loads_many(texts) == [json.loads(t) for t in texts]


def test_loads_many_with_long_numbers_and_odd_texts() -> None:
    texts = ['{"a":1}', "12345678901234567890123", '"\\ud800"', " [1, 2] ", '"x,y"', "[]"] * 30
    got = jsontext.loads_many(texts)
    assert got == [json.loads(t) for t in texts]
    assert type(got[1]) is int


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_dumps_bytes_is_dumps_encoded(value: Any) -> None:
    assert jsontext.dumps_bytes(value) == jsontext.dumps(value).encode("utf-8", "surrogatepass")
