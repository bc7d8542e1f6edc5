"""Blind-hit notices between nodes (``fed_notice``): stored once by (sender, notice
id), carried by a delta, handed to their recipient in a feed page; and what a notice
may name (a received series' origin keys, an own series' media).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tessera.storage.federation.records import chunks
from tessera.storage.models import FedAgency, FedNotice, FedRecord, Series, series_media


@dataclass(frozen=True)
class NoticeRow:
    sender: str
    notice_id: str
    recipient: str
    body: dict[str, Any]
    signature: str
    carried_by: int


def _notice_row(n: FedNotice) -> NoticeRow:
    return NoticeRow(
        n.sender, n.notice_id, n.recipient, dict(n.body), n.signature, int(n.carried_by)
    )


def add_notice(s: Session, row: NoticeRow) -> bool:
    """Store a notice once: False when (sender, notice id) is already stored."""
    seen = s.scalar(
        select(FedNotice.id).where(
            FedNotice.sender == row.sender, FedNotice.notice_id == row.notice_id
        )
    )
    if seen is not None:
        return False
    s.add(
        FedNotice(
            sender=row.sender,
            notice_id=row.notice_id,
            recipient=row.recipient,
            body=row.body,
            signature=row.signature,
            carried_by=row.carried_by,
        )
    )
    s.flush()
    return True


def pending_notices(s: Session, sender: str) -> list[NoticeRow]:
    """A node's own notices no delta has carried yet."""
    q = (
        select(FedNotice)
        .where(FedNotice.sender == sender, FedNotice.carried_by == 0)
        .order_by(FedNotice.id)
    )
    return [_notice_row(n) for n in s.scalars(q)]


def mark_carried(s: Session, sender: str, ids: Sequence[str], delta_no: int) -> None:
    for chunk in chunks(list(ids)):
        s.execute(
            update(FedNotice)
            .where(FedNotice.sender == sender, FedNotice.notice_id.in_(chunk))
            .values(carried_by=delta_no)
        )


def notices_for(s: Session, recipient: str, after: int, end: int) -> list[NoticeRow]:
    """Hub: the notices to ``recipient`` carried by log entries ``after < seq <= end``."""
    q = (
        select(FedNotice)
        .where(
            FedNotice.recipient == recipient,
            FedNotice.carried_by > after,
            FedNotice.carried_by <= end,
        )
        .order_by(FedNotice.carried_by, FedNotice.id)
    )
    return [_notice_row(n) for n in s.scalars(q)]


def remote_keys_of(
    s: Session, series_id: int, media_ids: Iterable[int]
) -> tuple[str, str, list[str]] | None:
    """(origin, series key, media keys) when ``series_id`` is a received series: the
    ids its origin gave them (what a notice to that origin may name)."""
    row = s.execute(
        select(FedRecord.origin, FedRecord.origin_id).where(
            FedRecord.kind == 0, FedRecord.local_id == series_id, FedRecord.deleted.is_(False)
        )
    ).first()
    if row is None:
        return None
    origin, key = str(row[0]), str(row[1])
    keys: list[str] = []
    for chunk in chunks(sorted(set(media_ids))):
        keys.extend(
            str(k)
            for k in s.scalars(
                select(FedRecord.origin_id).where(
                    FedRecord.origin == origin,
                    FedRecord.kind == 1,
                    FedRecord.series_key == key,
                    FedRecord.deleted.is_(False),
                    FedRecord.local_id.in_(chunk),
                )
            )
        )
    return origin, key, sorted(keys)


def own_series_media(
    s: Session, series_id: int, media_ids: Iterable[int]
) -> tuple[Series, set[int]] | None:
    """The live series ``series_id`` of one of this node's own agencies and which of
    ``media_ids`` it holds now (None: no such series, or one standing for another node)."""
    series = s.get(Series, series_id)
    if series is None or series.deleted_at is not None:
        return None
    if s.scalar(select(FedAgency.agency_id).where(FedAgency.agency_id == series.agency_id)):
        return None
    held: set[int] = set()
    for chunk in chunks(sorted(set(media_ids))):
        held.update(
            int(m)
            for m in s.scalars(
                select(series_media.c.media_id).where(
                    series_media.c.series_id == series_id,
                    series_media.c.deleted_at.is_(None),
                    series_media.c.media_id.in_(chunk),
                )
            )
        )
    return series, held


__all__ = [
    "NoticeRow",
    "add_notice",
    "mark_carried",
    "notices_for",
    "own_series_media",
    "pending_notices",
    "remote_keys_of",
]
