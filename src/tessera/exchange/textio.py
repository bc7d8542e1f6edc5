"""Reading untrusted text files line by line, and writing cells a spreadsheet won't run.

Exchange files come from other agencies' tools: Windows editors add a UTF-8 BOM,
some tools write UTF-16, a hostile file may hold one gigantic line or bytes that
are not UTF-8. Every line is read with a length cap and decoded strictly, so the
error names the line instead of a decoder offset. Exported CSV cells starting with
``=``, ``+``, ``-``, ``@`` (or tab/CR) are prefixed with ``'`` so spreadsheets
show them as text instead of evaluating a formula (CSV injection); the reader
removes exactly that prefix again, so round trips stay lossless.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from tessera.errors import InvalidInput
from tessera.exchange.model import RecordError

MAX_LINE = 1 << 20
"""Longest line accepted (1 MiB); real lines are under 1 KiB."""

_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_start(head: bytes) -> int:
    """Bytes to skip at the start (a UTF-8 BOM); foreign encodings are refused."""
    for bom, name in _FOREIGN_BOMS:
        if head.startswith(bom):
            raise InvalidInput(f"the file is {name} (byte order mark); save it as UTF-8")
    if len(head) >= 2 and (head[0] == 0 or head[1] == 0):
        raise InvalidInput("the file is not UTF-8 text (NUL bytes: UTF-16 without a BOM?)")
    return 3 if head.startswith(codecs.BOM_UTF8) else 0


def text_lines(stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number from 1, text without the line end) of a UTF-8 file, strictly decoded."""
    first = True
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if first:
            raw = raw[check_start(raw[:4]) :]
            first = False
        if len(raw) > MAX_LINE:
            raise RecordError(f"line longer than {MAX_LINE} bytes", record=None, line=number)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(
                f"not UTF-8 at byte {exc.start + 1} of the line", record=None, line=number
            ) from None
        if "\x00" in text:
            raise RecordError("NUL character in the line", record=None, line=number)
        yield number, text.rstrip("\r\n")


def neutralise(cell: str) -> str:
    """Make a cell safe to open in a spreadsheet (reversible by :func:`restore`)."""
    if cell and cell.lstrip("'")[:1] in _FORMULA_START and cell.lstrip("'"):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """Undo :func:`neutralise`."""
    if cell.startswith("'") and cell.lstrip("'")[:1] in _FORMULA_START and cell.lstrip("'"):
        return cell[1:]
    return cell


__all__ = ["MAX_LINE", "check_start", "neutralise", "restore", "text_lines"]
