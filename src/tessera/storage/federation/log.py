"""The hub's log (``fed_log_entry``): one entry per accepted delta, with its leaf
hash, the tree's root, the signed checkpoint and the origin's signed manifest.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.storage.federation.records import chunks
from tessera.storage.models import FedLogEntry


def log_leaves(s: Session) -> list[bytes]:
    return [bytes(x) for x in s.scalars(select(FedLogEntry.leaf_hash).order_by(FedLogEntry.seq))]


def log_entry(s: Session, origin: str, delta_no: int) -> FedLogEntry | None:
    return s.scalar(
        select(FedLogEntry).where(FedLogEntry.origin == origin, FedLogEntry.delta_no == delta_no)
    )


def last_log_entry(s: Session) -> FedLogEntry | None:
    return s.scalar(select(FedLogEntry).order_by(FedLogEntry.seq.desc()).limit(1))


def log_entry_at(s: Session, seq: int) -> FedLogEntry | None:
    return s.get(FedLogEntry, seq)


def last_delta_of(s: Session, origin: str) -> int:
    return int(
        s.scalar(select(func.max(FedLogEntry.delta_no)).where(FedLogEntry.origin == origin)) or 0
    )


def append_log(s: Session, entry: FedLogEntry) -> None:
    s.add(entry)
    s.flush()


def attests_of(s: Session, seqs: Iterable[int]) -> list[str]:
    """The origins' signed manifests (JSON) of these log entries, in log order."""
    out: list[str] = []
    for chunk in chunks(sorted(set(seqs))):
        out.extend(
            str(a)
            for a in s.scalars(
                select(FedLogEntry.attest)
                .where(FedLogEntry.seq.in_(chunk), FedLogEntry.attest.is_not(None))
                .order_by(FedLogEntry.seq)
            )
        )
    return out


__all__ = [
    "append_log",
    "attests_of",
    "last_delta_of",
    "last_log_entry",
    "log_entry",
    "log_entry_at",
    "log_leaves",
]
