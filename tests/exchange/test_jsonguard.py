"""The depth guard against an independent oracle: the nesting depth of JSON values
(strings full of quotes, backslashes and brackets), whatever the chunk boundaries."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidInput
from tessera.exchange.jsonguard import DepthGuard

_text = st.text(st.sampled_from(list('ab"\\[]{}/,: \u00e9\n')), max_size=12)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=40,
)


def _depth(v: Any) -> int:
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


class _Chunks(io.RawIOBase):
    def __init__(self, data: bytes, cuts: list[int]) -> None:
        self.parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        return self.parts.pop(0) if self.parts else b""


def _run(data: bytes, cuts: list[int], max_depth: int) -> DepthGuard:
    guard = DepthGuard(_Chunks(data, cuts), max_depth=max_depth)  # type: ignore[arg-type]
    while guard.read(65536):
        pass
    return guard


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json, st.data())
def test_depth_matches_the_values_nesting(value: Any, data: st.DataObject) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode()
    cuts = sorted(
        {c for c in data.draw(st.lists(st.integers(1, len(raw)), max_size=8)) if c < len(raw)}
    )
    deepest = _depth(value)
    guard = _run(raw, cuts, max_depth=deepest)
    assert guard.depth == 0 and not guard.in_string
    if deepest:
        with pytest.raises(InvalidInput, match="nested deeper"):
            _run(raw, cuts, max_depth=deepest - 1)


def test_long_string_across_chunks_is_refused() -> None:
    from tessera.exchange import jsonguard

    raw = b'["' + b"\\\\" * (jsonguard.MAX_STRING // 2 + 10) + b'"]'
    with pytest.raises(InvalidInput, match="longer than"):
        _run(raw, list(range(4096, len(raw), 65536)), max_depth=64)


_UTF16 = st.text(
    st.sampled_from(
        ["a", "\\", "u", "d", "8", '"', "\ud800", "\udbff", "\udc00", "\udfff", "\U0001f600"]
    ),
    max_size=16,
)


def _joined(text: str) -> tuple[str, int]:
    """Oracle: ``text`` as a JSON parser sees its ASCII-escaped form (a high surrogate
    then a low one are a pair: one character), each lone surrogate as the guard breaks
    it (``\\udc00``); and how many were lone."""
    out: list[str] = []
    lone = i = 0
    while i < len(text):
        c = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if "\ud800" <= c <= "\udbff" and "\udc00" <= nxt <= "\udfff":
            out.append(chr(0x10000 + ((ord(c) - 0xD800) << 10) + ord(nxt) - 0xDC00))
            i += 2
            continue
        if "\ud800" <= c <= "\udfff":
            out.append("\udc00")
            lone += 1
        else:
            out.append(c)
        i += 1
    return "".join(out), lone


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_UTF16, max_size=6), st.data())
def test_lone_surrogate_escapes_are_broken_whatever_the_chunks(
    texts: list[str], data: st.DataObject
) -> None:
    raw = json.dumps(texts).encode()  # ASCII: every surrogate as its \uXXXX escape
    cuts = sorted(
        {c for c in data.draw(st.lists(st.integers(1, len(raw)), max_size=12)) if c < len(raw)}
    )
    guard = DepthGuard(_Chunks(raw, cuts))  # type: ignore[arg-type]
    out = b""
    while chunk := guard.read(65536):
        out += chunk
    expected = [_joined(t) for t in texts]
    assert json.loads(out) == [e for e, _ in expected]
    assert guard.surrogates == sum(n for _, n in expected)
    if not guard.surrogates:
        assert out == raw
