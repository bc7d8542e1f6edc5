"""Federated records (``fed_record``), on a hub and on a node: versions decide
everything that arrives: a record (origin, origin id) is written only when its
version is higher than the stored one, so applying the same delta or feed page twice
changes nothing (exactly once after any crash, whatever was committed before it).
Set-based per batch, like ``storage.exchange``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tessera.storage.bulk import Bulk
from tessera.storage.models import FedRecord

_CHUNK = 500
MEDIA_KIND = 1

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


_T = TypeVar("_T", bound="DataclassInstance")
_FIELD_COUNT: dict[type, int] = {}


def frozen(cls: type[_T], **fields: Any) -> _T:
    """``cls(**fields)`` for a frozen dataclass without slots, every field given: set
    at once instead of one ``object.__setattr__`` each (what a frozen dataclass's
    ``__init__`` does). A full pull makes a few per record received; a field left
    out is a ``TypeError``, and the tests check the result against the
    constructor's, field by field."""
    n = _FIELD_COUNT.get(cls)
    if n is None:
        n = _FIELD_COUNT[cls] = len(dataclasses.fields(cls))
    if len(fields) != n:
        raise TypeError(f"{cls.__name__} has {n} fields, {len(fields)} given")
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True)
class StoredRecord:
    origin: str
    origin_id: str
    kind: int
    series_key: str
    version: int
    deleted: bool
    payload: dict[str, Any] | None
    log_seq: int
    local_id: int | None
    hidden: bool = False
    """A deletion the hub makes for a node outside the series' audience."""


def _existing(
    s: Session, origin: str, ids: Sequence[str]
) -> dict[str, tuple[int, int, int | None]]:
    """origin id -> (row id, version, local id)."""
    b = Bulk(s)
    out: dict[str, tuple[int, int, int | None]] = {}
    for rid, oid, v, local in b.where_in(
        f"SELECT id, origin_id, version, local_id FROM fed_record WHERE origin = {b.mark} AND",
        "origin_id",
        sorted(set(ids)),
        sql_type="TEXT",
        params=(origin,),
    ):
        out[str(oid)] = (int(rid), int(v), None if local is None else int(local))
    return out


@dataclass(frozen=True)
class Incoming:
    origin: str
    origin_id: str
    kind: int
    series_key: str
    version: int
    deleted: bool
    payload: dict[str, Any] | None


@dataclass(frozen=True)
class Newer:
    """A received record newer than the stored one (``row_id`` None: not stored yet)."""

    record: Incoming
    row_id: int | None
    old_local: int | None


def latest_of(records: Iterable[Incoming]) -> dict[str, dict[str, Newer]]:
    """origin -> origin id -> the highest version of each key among ``records``, as
    not stored yet (what ``newer`` finds of a fresh key): a pure function of a page,
    made on the sync's fetch thread while the page before is applied."""
    latest: dict[str, dict[str, Newer]] = {}
    for r in records:
        mine = latest.get(r.origin)
        if mine is None:
            mine = latest[r.origin] = {}
        cur = mine.get(r.origin_id)
        if cur is None or r.version > cur.record.version:
            mine[r.origin_id] = frozen(Newer, record=r, row_id=None, old_local=None)
    return latest


def newer(
    s: Session,
    records: Sequence[Incoming],
    latest: Mapping[str, Mapping[str, Newer]] | None = None,
) -> list[Newer]:
    """The records whose version is higher than the stored one (the highest of each
    key when a batch holds several); older or equal versions are left out.
    ``latest``: ``latest_of(records)``, made earlier."""
    out: list[Newer] = []
    for origin, mine in (latest_of(records) if latest is None else latest).items():
        have = _existing(s, origin, list(mine))
        if not have:  # a fresh node's pull: none of them stored yet
            out.extend(mine.values())
            continue
        for oid, n in mine.items():
            old = have.get(oid)
            if old is None:
                out.append(n)
            elif n.record.version > old[1]:
                out.append(frozen(Newer, record=n.record, row_id=old[0], old_local=old[2]))
    return out


RECORD_COLUMNS = (
    "origin",
    "origin_id",
    "kind",
    "series_key",
    "version",
    "deleted",
    "payload",
    "log_seq",
    "local_id",
)


def store_records(
    s: Session,
    items: Sequence[tuple[Newer, int | None]],
    log_seq: int,
    *,
    media_payload: bool = True,
) -> None:
    """Write newer records (with their local series / media id) in bulk (raw driver
    statements: a full pull writes one row per record received). ``media_payload``
    False: a media record keeps its key, version and local id but not its hashes (a
    node: the local media row and its fingerprints hold them, and nothing reads
    them here; a hub forwards them)."""
    b = Bulk(s, ("fed_record",))
    rows: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    null = b.json(None)
    for n, local in items:
        r = n.record
        # as the JSON column stores it: None is JSON null
        payload = (
            null if r.deleted or (r.kind == MEDIA_KIND and not media_payload) else b.json(r.payload)
        )
        if n.row_id is None:
            rows.append(
                (
                    r.origin,
                    r.origin_id,
                    r.kind,
                    r.series_key,
                    r.version,
                    r.deleted,
                    payload,
                    log_seq,
                    local,
                )
            )
        else:
            changes.append((r.version, r.deleted, payload, r.series_key, log_seq, local, n.row_id))
    b.insert("fed_record", RECORD_COLUMNS, rows, json_columns=("payload",))
    if changes:
        m = b.mark
        json_hole = f"CAST({m} AS JSON)" if b.pg else m
        b.execute_many(
            f"UPDATE fed_record SET version = {m}, deleted = {m}, payload = {json_hole}, "
            f"series_key = {m}, log_seq = {m}, local_id = {m} WHERE id = {m}",
            changes,
        )


def upsert_records(s: Session, records: Sequence[Incoming], log_seq: int) -> int:
    """Hub: store the records newer than what is stored; returns how many."""
    items = newer(s, records)
    store_records(s, [(n, None) for n in items], log_seq)
    return len(items)


def set_local_ids(s: Session, origin: str, ids: dict[str, int | None]) -> None:
    for oid, local in ids.items():
        s.execute(
            update(FedRecord)
            .where(FedRecord.origin == origin, FedRecord.origin_id == oid)
            .values(local_id=local)
        )


def count_records(s: Session, *, kind: int | None = None, live: bool = True) -> dict[str, int]:
    """origin -> number of (live) records."""
    q = select(FedRecord.origin, func.count()).group_by(FedRecord.origin)
    if kind is not None:
        q = q.where(FedRecord.kind == kind)
    if live:
        q = q.where(FedRecord.deleted.is_(False))
    return {str(o): int(n) for o, n in s.execute(q)}


__all__ = [
    "MEDIA_KIND",
    "RECORD_COLUMNS",
    "Incoming",
    "Newer",
    "StoredRecord",
    "chunks",
    "count_records",
    "frozen",
    "latest_of",
    "newer",
    "set_local_ids",
    "store_records",
    "upsert_records",
]
