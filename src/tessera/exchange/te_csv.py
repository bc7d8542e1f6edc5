"""python-threatexchange's dataset CSV: ``signal_type,signal_str,collab,category,tags``.

This is what ``threatexchange dataset -P --csv`` prints: one row per signal and
collaboration, ``category`` the aggregate opinion's name (``POSITIVE_CLASS``,
``NEGATIVE_CLASS``, ``INVESTIGATION_SEED``), ``tags`` joined by spaces. Category
text becomes the record's ``classification``; export writes one row per hash.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, TextIO

from tessera.exchange.model import ExchangeRecord, RecordError, build_record
from tessera.exchange.signals import record_signals, signal_values, single
from tessera.exchange.textio import neutralise, restore, text_lines

HEADER = ("signal_type", "signal_str", "collab", "category", "tags")
_NAMES = {
    "md5": "signal_str",
    "sha1": "signal_str",
    "sha256": "signal_str",
    "pdq": "signal_str",
    "photodna": "signal_str",
    "other_hashes": "signal_str",
    "collab": "collab",
    "classification": "category",
    "tags": "tags",
}


def read(stream: BinaryIO) -> Iterator[ExchangeRecord]:
    columns: list[str] | None = None
    number = 0
    for line_no, text in text_lines(stream):
        if not text.strip():
            continue
        try:
            cells = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise RecordError(f"bad CSV: {exc}", record=number + 1, line=line_no) from None
        if columns is None:
            columns = [c.strip() for c in cells]
            if tuple(columns[:2]) != HEADER[:2] or any(c not in HEADER for c in columns):
                raise RecordError(
                    f"not a threatexchange dataset CSV header ({','.join(HEADER)})",
                    record=None,
                    line=line_no,
                )
            continue
        number += 1
        if len(cells) > len(columns):
            raise RecordError(
                f"{len(cells)} cells but the header has {len(columns)}",
                record=number,
                line=line_no,
            )
        row = {c: restore(v.strip()) for c, v in zip(columns, cells, strict=False)}
        if not row.get("signal_type") or not row.get("signal_str"):
            raise RecordError(
                "signal_type and signal_str are required", record=number, line=line_no
            )
        try:
            values: dict[str, Any] = signal_values(row["signal_type"], row["signal_str"])
        except ValueError as exc:
            msg = str(exc).splitlines()[-1].strip()
            raise RecordError(msg, record=number, line=line_no, field="signal_type") from None
        values["collab"] = row.get("collab") or None
        values["classification"] = row.get("category") or None
        values["tags"] = tuple(dict.fromkeys(t for t in (row.get("tags") or "").split() if t))
        yield build_record(values, record=number, line=line_no, names=_NAMES)
    if columns is None:
        raise RecordError("empty file: no header", record=None, line=1)


def _tag(t: str) -> str:
    return "_".join(t.split())


def write(records: Iterable[ExchangeRecord], out: TextIO) -> int:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    n = 0
    for r in records:
        n += 1
        tags = " ".join(dict.fromkeys(_tag(t) for t in r.tags))
        for name, value in record_signals(r):
            w.writerow(
                [
                    name,
                    neutralise(value),
                    neutralise(r.collab or ""),
                    neutralise(r.classification or ""),
                    neutralise(tags),
                ]
            )
        out.write(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    out.write(buf.getvalue())
    return n


def carried(r: ExchangeRecord) -> list[ExchangeRecord]:
    tags = tuple(dict.fromkeys(_tag(t) for t in r.tags))
    return [
        ExchangeRecord(
            **single(n, v),
            collab=r.collab.strip() or None if r.collab else None,
            classification=r.classification.strip() or None if r.classification else None,
            tags=tags,
        )
        for n, v in record_signals(r)
    ]


__all__ = ["HEADER", "carried", "read", "write"]
