"""A node's outbox (``fed_outbox``): the signed deltas it prepared, kept until the
hub acknowledges them and sent byte for byte until then.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tessera.storage.models import FedOutbox


def outbox(s: Session) -> list[FedOutbox]:
    return list(s.scalars(select(FedOutbox).order_by(FedOutbox.delta_no)))


def outbox_summary(s: Session) -> tuple[int, int]:
    row = s.execute(select(func.count(), func.coalesce(func.sum(FedOutbox.records), 0))).one()
    return int(row[0]), int(row[1])


def next_delta_no(s: Session, accepted: int) -> int:
    top = s.scalar(select(func.max(FedOutbox.delta_no)))
    return max(int(top or 0), accepted) + 1


def add_outbox(s: Session, delta_no: int, sha256: str, records: int, body: bytes) -> None:
    s.add(FedOutbox(delta_no=delta_no, sha256=sha256, records=records, body=body))
    s.flush()


def drop_outbox(s: Session, upto: int) -> int:
    r = s.execute(delete(FedOutbox).where(FedOutbox.delta_no <= upto))
    return int(getattr(r, "rowcount", 0) or 0)


__all__ = [
    "add_outbox",
    "drop_outbox",
    "next_delta_no",
    "outbox",
    "outbox_summary",
]
