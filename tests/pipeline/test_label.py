"""``tessera.pipeline.label``: printable, lossless labels for any file name."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tessera.pipeline.label import parse_label, path_label


@given(st.binary(min_size=1, max_size=40).filter(lambda b: b"\x00" not in b))
def test_any_byte_name_round_trips_and_is_printable_utf8(raw: bytes) -> None:
    name = os.fsdecode(raw)
    label = path_label(name)
    label.encode("utf-8")  # never a lone surrogate
    assert all(ch.isprintable() for ch in label)
    # Path() folds "//" and a trailing "/": compare with what Path makes of the original
    assert parse_label(label) == Path(name)


def test_plain_names_are_their_own_label() -> None:
    for name in ("evidence/a.jpg", "café/über 1.png", "日本/写真.jpg"):
        assert path_label(name) == name


def test_examples() -> None:
    assert path_label(os.fsdecode(b"bad\xff.jpg")) == "bad\\xff.jpg"
    assert path_label("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert path_label("back\\slash") == "back\\\\slash"
    assert path_label("rtl\u202egpj.exe") == "rtl\\u202egpj.exe"
