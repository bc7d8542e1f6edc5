"""The printable, lossless label of a file name, made once where a path enters Tessera.

A seized file system can hold names that are not text: bytes that are not UTF-8
(Python keeps them as lone surrogates, which cannot be written to JSON, HTML, a
terminal or a database) and control characters (terminal escape sequences). Every
result names its file by :func:`path_label`, never by the raw name:

* a name with no control character, undecodable byte or backslash is its own label
  (the common case, unchanged);
* otherwise each undecodable byte and each ASCII control character becomes ``\\xNN``,
  any other unprintable character (a bidi override, a line separator) ``\\uNNNN`` and
  a literal backslash ``\\\\``, so that every backslash in a label is an escape and
  the label reads back unambiguously.

:func:`parse_label` turns a label back into the original bytes' name, so nothing is
lost: the exact name is still in the record, only written safely.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_BACKSLASH = "\\"


def _plain(name: str) -> bool:
    return _BACKSLASH not in name and not any(_escaped(ch) for ch in name)


def _escaped(ch: str) -> bool:
    # not printable: control and format characters (bidi overrides), separators other
    # than the space, unassigned code points and the surrogates of undecodable bytes
    return not ch.isprintable() and ch != " "


def path_label(path: str | os.PathLike[str]) -> str:
    """``path`` as printable text that :func:`parse_label` turns back into ``path``."""
    name = os.fspath(path)
    if _plain(name):
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if ch == _BACKSLASH:
            out.append(_BACKSLASH * 2)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif not _escaped(ch):
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def parse_label(label: str) -> Path:
    """The file system path a :func:`path_label` names."""
    if _BACKSLASH not in label:
        return Path(label)

    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        if body == _BACKSLASH:
            return _BACKSLASH
        code = int(body[1:], 16)
        if body[0] == "x" and code >= 0x80:
            return chr(0xDC00 + code)  # back to the surrogate os.fsencode turns into the byte
        return chr(code)

    return Path(_ESCAPE.sub(one, label))


__all__ = ["parse_label", "path_label"]
