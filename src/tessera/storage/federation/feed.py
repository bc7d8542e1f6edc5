"""The hub's feed: the records changed in whole log entries after a node's cursor,
a page at a time (case records stay on the hub: never in a feed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera import jsontext
from tessera.storage.bulk import Bulk
from tessera.storage.federation.records import (
    MEDIA_KIND,
    RECORD_COLUMNS,
    StoredRecord,
    chunks,
    frozen,
)
from tessera.storage.models import FedRecord

_CASE = 3
"""Case records (a node's cases, for overlaps) stay on the hub: never in a feed."""


def feed_pages(s: Session, after: int, upto: int, limit: int) -> int:
    """The last log seq of the page starting after ``after``: whole log entries, at
    most ``limit`` records unless one entry alone holds more."""
    end = after
    total = 0
    for seq, n in s.execute(
        select(FedRecord.log_seq, func.count())
        .where(FedRecord.log_seq > after, FedRecord.log_seq <= upto, FedRecord.kind != _CASE)
        .group_by(FedRecord.log_seq)
        .order_by(FedRecord.log_seq)
    ):
        if total and total + int(n) > limit:
            break
        end, total = int(seq), total + int(n)
    return end if total else upto


_COLS = (
    FedRecord.origin,
    FedRecord.origin_id,
    FedRecord.kind,
    FedRecord.series_key,
    FedRecord.version,
    FedRecord.deleted,
    FedRecord.payload,
    FedRecord.log_seq,
    FedRecord.local_id,
)


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        origin=row[0],
        origin_id=row[1],
        kind=int(row[2]),
        series_key=row[3],
        version=int(row[4]),
        deleted=bool(row[5]),
        payload=row[6],
        log_seq=int(row[7]),
        local_id=row[8],
    )


def feed_records(
    s: Session, after: int, end: int, exclude_origin: str | None
) -> tuple[list[StoredRecord], list[StoredRecord]]:
    """(series, media and full records) changed in log entries ``after < seq <= end``,
    plus the current version of every series those records belong to."""
    # raw driver rows (a page is up to 50,000 records; the ORM's JSON processing of
    # each payload was a third of the hub's time per page)
    b = Bulk(s)
    m = b.mark
    sql = (
        f"SELECT {', '.join(RECORD_COLUMNS)} FROM fed_record "
        f"WHERE log_seq > {m} AND log_seq <= {m} AND kind != {m}"
    )
    params: tuple[Any, ...] = (after, end, _CASE)
    if exclude_origin is not None:
        sql += f" AND origin != {m}"
        params += (exclude_origin,)
    load = b.load_json
    native = jsontext.loads_native
    rows = [
        frozen(
            StoredRecord,
            origin=o,
            origin_id=oid,
            kind=int(kind),
            series_key=skey,
            version=int(v),
            deleted=bool(d),
            # a media payload (checked on accept: texts only) through orjson alone
            payload=None
            if p is None
            else (native(p) if kind == MEDIA_KIND and not b.pg else None) or load(p),
            log_seq=int(seq),
            local_id=local,
            hidden=False,
        )
        for o, oid, kind, skey, v, d, p, seq, local in b.rows(
            sql + " ORDER BY log_seq, kind, id", params
        )
    ]
    series = {(r.origin, r.origin_id): r for r in rows if r.kind == 0}
    media = [r for r in rows if r.kind != 0]  # media and their full records
    need: dict[str, set[str]] = {}
    for r in media:
        if (r.origin, r.series_key) not in series:
            need.setdefault(r.origin, set()).add(r.series_key)
    for origin, keys in need.items():
        for chunk in chunks(sorted(keys)):
            for row in s.execute(
                select(*_COLS).where(
                    FedRecord.origin == origin,
                    FedRecord.kind == 0,
                    FedRecord.origin_id.in_(chunk),
                )
            ):
                st = _stored(row)
                series[(st.origin, st.origin_id)] = st
    return list(series.values()), media


__all__ = [
    "feed_pages",
    "feed_records",
]
