"""Member names: refusing those that would escape a folder, and making paths unique."""

from __future__ import annotations

import re

from tessera.errors import CorruptMedia
from tessera.pipeline.archives.member import SEPARATOR

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name(name: str) -> CorruptMedia | None:
    """Why ``name`` could escape an extraction folder, or None if it cannot."""
    shown = printable(name)
    if name.startswith(("/", "\\")):
        return CorruptMedia(f"absolute member name {shown!r}", reason="path-traversal")
    if _DRIVE.match(name):
        return CorruptMedia(f"member name with a drive letter {shown!r}", reason="path-traversal")
    if ".." in re.split(r"[\\/]", name):
        return CorruptMedia(f"member name with '..' {shown!r}", reason="path-traversal")
    return None


def printable(name: str) -> str:
    """``name`` with control characters and undecodable bytes escaped as ``\\xNN``."""
    if name.isprintable():
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd byte
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def _normalized(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts) or name


class Names:
    """Virtual paths of one archive's members, made unique with ``#2``, ``#3``, ..."""

    def __init__(self, archive_path: str) -> None:
        self._prefix = archive_path + SEPARATOR
        self._used: set[str] = set()

    def path(self, raw_name: str, *, refused: bool = False) -> str:
        shown = printable(raw_name if refused else _normalized(raw_name))
        base = candidate = self._prefix + shown
        n = 1
        while candidate in self._used:
            n += 1
            candidate = f"{base}#{n}"
        self._used.add(candidate)
        return candidate
