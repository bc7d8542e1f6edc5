"""The audit trail's rows: appending entries and checkpoints, reading them back.

Appends are serialised by the single ``audit_head`` row: the append first writes
it (a row lock on PostgreSQL, the write lock on SQLite), then reads the size and
Merkle frontier, so concurrent writers get consecutive sequence numbers and the
stored roots form one chain. The append runs in the caller's transaction, so an
audited change and its entry commit or vanish together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from tessera.audit.entry import AuditRecord, as_utc
from tessera.audit.merkle import Frontier
from tessera.audit.verify import StoredCheckpoint, StoredEntry
from tessera.errors import ConfigError
from tessera.storage.models import AuditCheckpoint, AuditEntry, AuditHead, Meta
from tessera.storage.sorting import ordered


@dataclass(frozen=True)
class NewEntry:
    """An entry's content before the log gives it a sequence number."""

    at: datetime
    user: str
    agency: str | None
    role: str
    action: str
    target: str | None
    series: str | None
    params_digest: str
    result_count: int | None
    request_id: str


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes
    checkpoint_size: int


def _frontier_text(f: Frontier) -> str:
    return ",".join(f"{h}:{d.hex()}" for h, d in f.state())


def _frontier_parse(size: int, text: str) -> Frontier:
    stack = []
    for part in filter(None, text.split(",")):
        h, d = part.split(":")
        stack.append((int(h), bytes.fromhex(d)))
    return Frontier(size, stack)


_ENTRY = cast(Table, AuditEntry.__table__)
_CHECKPOINT = cast(Table, AuditCheckpoint.__table__)
_HEAD = cast(Table, AuditHead.__table__)


def append(
    s: Session,
    entry: NewEntry,
    *,
    sign: Callable[[int, bytes], str] | None = None,
    every: int = 1,
) -> tuple[AuditRecord, bytes, bool]:
    """Append one entry; returns its record, the tree root after it, and whether a
    checkpoint was signed (``sign(size, root)`` -> note, when ``every`` entries have
    passed since the last one)."""
    records, root, signed = append_many(s, [entry], sign=sign, every=every)
    return records[0], root, signed


def append_many(
    s: Session,
    entries: Sequence[NewEntry],
    *,
    sign: Callable[[int, bytes], str] | None = None,
    every: int = 1,
) -> tuple[list[AuditRecord], bytes, bool]:
    """Append entries in order under one lock; at most one checkpoint, after the last.

    Four statements whatever the batch size, no ORM unit of work: this runs on every
    audited request (or once per batch of them). Returns the records, the tree root
    after the last, and whether a checkpoint was signed.
    """
    if not entries:
        raise ConfigError("append_many needs at least one entry")
    # Write first: the row lock (PostgreSQL) or the write lock (SQLite) is taken
    # before we read, so two appenders never read the same head.
    row = s.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(size=_HEAD.c.size)
        .returning(_HEAD.c.size, _HEAD.c.frontier, _HEAD.c.checkpoint_size)
    ).one_or_none()
    if row is None:
        raise ConfigError("the audit trail is not initialised; run `tessera init`")
    size, frontier_text, checkpoint_size = row
    frontier = _frontier_parse(size, frontier_text)
    records, rows = [], []
    for i, entry in enumerate(entries, start=size + 1):
        record = AuditRecord(seq=i, **entry.__dict__)
        leaf = record.leaf_hash()
        frontier.append(leaf)
        records.append(record)
        rows.append({**record.__dict__, "leaf_hash": leaf, "root": frontier.root()})
    s.execute(insert(_ENTRY), rows)
    last, root = records[-1], rows[-1]["root"]
    signed = sign is not None and last.seq - checkpoint_size >= every
    if sign is not None and signed:
        s.execute(
            insert(_CHECKPOINT).values(
                size=last.seq, root=root, note=sign(last.seq, root), created_at=last.at
            )
        )
        checkpoint_size = last.seq
    s.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(
            size=frontier.size,
            frontier=_frontier_text(frontier),
            checkpoint_size=checkpoint_size,
        )
    )
    return records, root, signed


def head(s: Session) -> Head:
    h = s.get(AuditHead, 1)
    if h is None:
        raise ConfigError("the audit trail is not initialised; run `tessera init`")
    return Head(h.size, _frontier_parse(h.size, h.frontier).root(), h.checkpoint_size)


def add_checkpoint(s: Session, size: int, root: bytes, note: str) -> None:
    """Store a signed checkpoint of the tree at ``size`` (idempotent per size)."""
    if s.get(AuditCheckpoint, size) is None:
        s.add(AuditCheckpoint(size=size, root=root, note=note))
    s.execute(
        update(AuditHead)
        .where(AuditHead.id == 1, AuditHead.checkpoint_size < size)
        .values(checkpoint_size=size)
    )
    s.flush()


def instance_id(s: Session) -> str:
    """The database's random instance id (made by migration 0001)."""
    value = s.scalar(select(Meta.value).where(Meta.key == "instance_id"))
    if value is None:
        raise ConfigError("the database has no instance id; run `tessera init`")
    return value


def root_at(s: Session, size: int) -> bytes | None:
    """The stored root after entry ``size`` (None past the end)."""
    return s.scalar(select(AuditEntry.root).where(AuditEntry.seq == size))


def latest_checkpoint(s: Session) -> AuditCheckpoint | None:
    return s.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1))


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=as_utc(row.at),
        user=row.user,
        agency=row.agency,
        role=row.role,
        action=row.action,
        target=row.target,
        series=row.series,
        params_digest=row.params_digest,
        result_count=row.result_count,
        request_id=row.request_id,
    )


def iter_stored(s: Session, batch: int = 5000) -> Iterator[StoredEntry]:
    """Every entry in sequence order, in batches of plain rows (the log may be large)."""
    c = _ENTRY.c
    cols = (
        c.seq,
        c.at,
        c.user,
        c.agency,
        c.role,
        c.action,
        c.target,
        c.series,
        c.params_digest,
        c.result_count,
        c.request_id,
        c.leaf_hash,
        c.root,
    )
    after = -1
    while True:
        rows = s.execute(select(*cols).where(c.seq > after).order_by(c.seq).limit(batch)).all()
        if not rows:
            return
        for r in rows:
            record = AuditRecord(
                seq=r.seq,
                at=as_utc(r.at),
                user=r.user,
                agency=r.agency,
                role=r.role,
                action=r.action,
                target=r.target,
                series=r.series,
                params_digest=r.params_digest,
                result_count=r.result_count,
                request_id=r.request_id,
            )
            yield StoredEntry(record, bytes(r.leaf_hash), bytes(r.root))
        after = rows[-1].seq


def leaf_hashes(s: Session, size: int) -> list[bytes]:
    """The stored leaf hashes of entries 1..size, in order (for proofs)."""
    return list(
        s.scalars(
            select(AuditEntry.leaf_hash).where(AuditEntry.seq <= size).order_by(AuditEntry.seq)
        )
    )


def checkpoints(s: Session) -> list[StoredCheckpoint]:
    return [
        StoredCheckpoint(c.size, c.root, c.note)
        for c in s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size))
    ]


AUDIT_SORTS = ("seq", "user", "agency", "action", "series")


def find(
    s: Session,
    *,
    user: str | None = None,
    agency: str | None = None,
    series: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    before: int | None = None,
    newest_first: bool = False,
    sort: str = "seq",
    offset: int = 0,
) -> Sequence[AuditRecord]:
    """Entries matching every given filter, oldest first (or newest first; ``before``:
    only entries with a smaller ``seq``, to page back through the log); by another
    ``AUDIT_SORTS`` key (then by seq) when asked, paged with ``offset``."""
    keys = {
        "seq": AuditEntry.seq,
        "user": AuditEntry.user,
        "agency": AuditEntry.agency,
        "action": AuditEntry.action,
        "series": AuditEntry.series,
    }
    q = ordered(
        select(AuditEntry), keys, sort, descending=newest_first, tie=AuditEntry.seq, what="audit"
    )
    if offset:
        q = q.offset(offset)
    if before is not None:
        q = q.where(AuditEntry.seq < before)
    if user is not None:
        q = q.where(AuditEntry.user == user)
    if agency is not None:
        q = q.where(AuditEntry.agency == agency)
    if series is not None:
        q = q.where(AuditEntry.series == series)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if limit is not None:
        q = q.limit(limit)
    return [_record(r) for r in s.scalars(q)]


__all__ = [
    "AUDIT_SORTS",
    "Head",
    "NewEntry",
    "add_checkpoint",
    "append",
    "append_many",
    "checkpoints",
    "find",
    "head",
    "instance_id",
    "iter_stored",
    "latest_checkpoint",
    "leaf_hashes",
    "root_at",
]
