"""Plain hash lists: one hash per line, bare or as ``<signal_type> <signal>``.

Bare lines are the form most tools and agencies exchange (``md5sum`` output
without names, IWF/NCMEC extracts); their type comes from ``hash_type`` or, when
not given, from the length (32 hex = MD5, 40 = SHA-1; 64 is SHA-256 *or* PDQ, so
it needs ``hash_type``). ``<signal_type> <signal>`` is python-threatexchange's
``local_file`` form (``pdq 2d6b...``). Blank lines and ``#`` comments are skipped.
Export writes one line per hash in the typed form, or bare hashes of one type.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

from tessera.errors import InvalidInput
from tessera.exchange.model import ExchangeRecord, RecordError, build_record
from tessera.exchange.signals import FIELD_SIGNALS, record_signals, signal_values, single
from tessera.exchange.textio import text_lines

HASH_TYPES = ("md5", "sha1", "sha256", "pdq")
_BY_LENGTH = {32: "md5", 40: "sha1"}


def read(stream: BinaryIO, *, hash_type: str | None = None) -> Iterator[ExchangeRecord]:
    if hash_type is not None and hash_type not in HASH_TYPES:
        raise InvalidInput(f"hash type {hash_type!r} not one of {', '.join(HASH_TYPES)}")
    number = 0
    for line_no, text in text_lines(stream):
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        number += 1
        parts = line.split()
        if len(parts) == 1:
            kind = hash_type or _BY_LENGTH.get(len(line))
            if kind is None:
                why = (
                    "64 characters could be SHA-256 or PDQ: give the hash type"
                    if len(line) == 64
                    else f"cannot tell the hash type of {len(line)} characters"
                )
                raise RecordError(why, record=number, line=line_no, field="hash")
            values = {kind: line}
            field = kind
        elif len(parts) == 2:
            try:
                values = signal_values(parts[0], parts[1])
            except ValueError as exc:
                msg = str(exc).splitlines()[-1].strip()
                raise RecordError(msg, record=number, line=line_no, field="signal_type") from None
            field = parts[0]
        else:
            raise RecordError(
                "expected one hash, or '<signal_type> <signal>'", record=number, line=line_no
            )
        yield build_record(values, record=number, line=line_no, names={k: field for k in values})


def write(records: Iterable[ExchangeRecord], out: TextIO, *, hash_type: str | None = None) -> int:
    """One line per hash (``<signal_type> <signal>``), or bare hashes of ``hash_type``."""
    if hash_type is not None and hash_type not in HASH_TYPES:
        raise InvalidInput(f"hash type {hash_type!r} not one of {', '.join(HASH_TYPES)}")
    n = 0
    for r in records:
        n += 1
        if hash_type is not None:
            value = getattr(r, hash_type)
            if value:
                out.write(value + "\n")
            continue
        for name, value in record_signals(r):
            out.write(f"{name} {value}\n")
    return n


def carried(r: ExchangeRecord, *, hash_type: str | None = None) -> list[ExchangeRecord]:
    """The records a written list reads back as: one per hash line."""
    if hash_type is not None:
        value = getattr(r, hash_type)
        return [ExchangeRecord(**{hash_type: value})] if value else []
    return [ExchangeRecord(**single(n, v)) for n, v in record_signals(r)]


__all__ = ["FIELD_SIGNALS", "HASH_TYPES", "carried", "read", "write"]
