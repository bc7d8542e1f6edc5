"""Interpol ICSE's CSV export: ``;``-separated, one known media item per row.

The header is the one IPED's hash database tool expects:
``MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;
Series name;Number of submissions;File Available;Media Type;Baseline``. Rows may
have fewer columns than the header (trailing columns left out); the missing cells
are unknown, not false. Flags are read from true/false, yes/no or 1/0 and written
as ``true``/``false``. Cells that a spreadsheet would run as a formula are
neutralised on export (see ``textio``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, TextIO

from tessera.exchange.model import (
    ExchangeRecord,
    RecordError,
    build_record,
    parse_bool,
    parse_int,
)
from tessera.exchange.textio import neutralise, restore, text_lines

HEADER = (
    "MD5",
    "SHA1",
    "PhotoDNA",
    "Image ID",
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "Series name",
    "Number of submissions",
    "File Available",
    "Media Type",
    "Baseline",
)
_FIELD = {
    "MD5": "md5",
    "SHA1": "sha1",
    "PhotoDNA": "photodna",
    "Image ID": "source_id",
    "Is distributed": "is_distributed",
    "Victim identified": "victim_identified",
    "Offender identified": "offender_identified",
    "Series name": "series",
    "Number of submissions": "submissions",
    "File Available": "file_available",
    "Media Type": "kind",
    "Baseline": "baseline",
}
_NAMES = {v: k for k, v in _FIELD.items()}
_BOOLS = {
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "File Available",
    "Baseline",
}
_KIND_IN = {"image": "image", "picture": "image", "video": "video", "movie": "video"}
_KIND_OUT = {"image": "Image", "video": "Video", "audio": "Audio", "other": "Other"}
_KIND_IN.update({"audio": "audio", "other": "other"})


def read(stream: BinaryIO) -> Iterator[ExchangeRecord]:
    """Rows of an ICSE CSV as records; the header row is required."""
    lines = text_lines(stream)
    columns: list[str] | None = None
    number = 0
    for line_no, text in lines:
        if not text.strip():
            continue
        try:
            cells = next(csv.reader([text], delimiter=";", quotechar='"', strict=True))
        except csv.Error as exc:
            raise RecordError(f"bad CSV: {exc}", record=number + 1, line=line_no) from None
        if columns is None:
            columns = [c.strip() for c in cells]
            unknown = [c for c in columns if c not in _FIELD]
            if not columns or columns[0] != "MD5" or unknown:
                raise RecordError(
                    f"not an ICSE CSV header (expected {';'.join(HEADER)!r})",
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
        yield _row(dict(zip(columns, cells, strict=False)), number, line_no)
    if columns is None:
        raise RecordError("empty file: no ICSE CSV header", record=None, line=1)


def _row(row: dict[str, str], number: int, line: int) -> ExchangeRecord:
    values: dict[str, Any] = {}
    for col, raw in row.items():
        cell = restore(raw.strip())
        if col in _BOOLS:
            values[_FIELD[col]] = parse_bool(cell, record=number, line=line, field=col)
        elif col == "Number of submissions":
            values["submissions"] = parse_int(cell, record=number, line=line, field=col)
        elif col == "Media Type":
            if cell:
                kind = _KIND_IN.get(cell.lower())
                if kind is None:
                    raise RecordError(
                        f"unknown media type {cell[:40]!r}", record=number, line=line, field=col
                    )
                values["kind"] = kind
        else:
            values[_FIELD[col]] = cell or None
    record = build_record(values, record=number, line=line, names=_NAMES)
    if not (record.md5 or record.sha1 or record.photodna):
        raise RecordError("no hash (MD5, SHA1 or PhotoDNA)", record=number, line=line, field="MD5")
    return record


def _flag(v: bool | None) -> str:
    return "" if v is None else "true" if v else "false"


def write(records: Iterable[ExchangeRecord], out: TextIO) -> int:
    """Rows for records with an MD5, SHA1 or PhotoDNA (the hashes ICSE carries)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(HEADER)
    out.write(buf.getvalue())
    n = 0
    for r in records:
        if not (r.md5 or r.sha1 or r.photodna):
            continue
        n += 1
        buf.seek(0)
        buf.truncate()
        w.writerow(
            [
                r.md5 or "",
                r.sha1 or "",
                neutralise(r.photodna or ""),
                neutralise(r.source_id or ""),
                _flag(r.is_distributed),
                _flag(r.victim_identified),
                _flag(r.offender_identified),
                neutralise(r.series or ""),
                "" if r.submissions is None else str(r.submissions),
                _flag(r.file_available),
                _KIND_OUT[r.kind] if r.kind else "",
                _flag(r.baseline),
            ]
        )
        out.write(buf.getvalue())
    return n


def carried(r: ExchangeRecord) -> ExchangeRecord:
    """What an ICSE CSV row carries of ``r``."""
    return ExchangeRecord(
        md5=r.md5,
        sha1=r.sha1,
        photodna=r.photodna,
        source_id=r.source_id.strip() or None if r.source_id else None,
        is_distributed=r.is_distributed,
        victim_identified=r.victim_identified,
        offender_identified=r.offender_identified,
        series=r.series.strip() or None if r.series else None,
        submissions=r.submissions,
        file_available=r.file_available,
        kind=r.kind,
        baseline=r.baseline,
    )


__all__ = ["HEADER", "carried", "read", "write"]
