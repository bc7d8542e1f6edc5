"""A fresh node's first big pull: secondary indexes built after the load, not row by row.

A full pull writes ~25 B-tree entries per received record (media, fingerprint,
exchange hash and entry, series link, federation record, and their indexes). The
indexes below are never read while feed pages are applied (listing orders of the
media table, the hub's feed order, lookups of deletions by source id), so on SQLite
a node that is about to receive many more records than it holds drops them in the
transaction of the first page and creates them again, sorted, in the transaction
of the last one (SQLite's DDL is transactional: each page and the schema change it
makes commit together).

A kill between the two leaves committed pages and the indexes missing; the state
is its own marker (``missing`` reads ``sqlite_master``): the next sync goes on in
the same mode and creates them at its last page, a sync with nothing to pull or
``tessera init`` creates them at once. Unique indexes (what makes a record arrive
once) and those a load reads (digests, media ids) always stay. PostgreSQL: no-op.

In that mode the series links of media the load has just created skip the two
per-row triggers of ``series_media`` (four statements per link: kept counts from
the media row, its sightings and camera metadata, migrations 0023-0024): a new
hash-only item has no sighting or metadata and is not deleted, so all they would
add is one member per link, which ``link_new_media`` adds per series instead. The
triggers are dropped and created again from their own text in the same
transaction, and only when that text is the one this was written for.

The statements are those of the migrations (``tests/storage/test_bulk_load.py``
checks them against a migrated database): a later migration that changes one of
these indexes changes them here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from tessera.storage.bulk import Bulk

DEFERRED: dict[str, str] = {
    "ix_media_submissions": "CREATE INDEX ix_media_submissions ON media (submissions, id)",
    "ix_media_byte_size": "CREATE INDEX ix_media_byte_size ON media (byte_size, id)",
    "ix_media_first_seen_at": "CREATE INDEX ix_media_first_seen_at ON media (first_seen_at, id)",
    "ix_media_kind": "CREATE INDEX ix_media_kind ON media (kind, id)",
    "ix_fingerprint_algorithm_id": (
        "CREATE INDEX ix_fingerprint_algorithm_id ON fingerprint (algorithm, id)"
    ),
    "ix_exchange_entry_agency_source": (
        "CREATE INDEX ix_exchange_entry_agency_source ON exchange_entry (agency_id, source_id)"
    ),
    "ix_fed_record_log_seq_kind_id": (
        "CREATE INDEX ix_fed_record_log_seq_kind_id ON fed_record (log_seq, kind, id)"
    ),
}
"""Index name -> its CREATE statement (as the migrations made it)."""

MIN_RECORDS = 20_000
"""Below this many records coming, the row-by-row inserts cost less than a rebuild."""


_LINK_TRIGGERS = {
    "tessera_agg_sm_ins": "120efb3c82d5d927c2156fbb18912ca07ba62e4f5bb10559b80938c3eac27e7f",
    "tessera_cam_sm_ins": "24c00d8f47e9a515b0329848ba4d1f2ab807775fe52b63c0832d0a54c936015c",
}
"""The insert triggers of ``series_media`` by name -> SHA-256 of their SQL (0023, 0024)."""
_ADD_MEMBERS = (
    "INSERT INTO series_stats (series_id, members) VALUES (?, ?) "
    "ON CONFLICT (series_id) DO UPDATE SET members = members + excluded.members"
)


def _sqlite(s: Session) -> bool:
    return s.get_bind().dialect.name == "sqlite"


def missing(s: Session) -> list[str]:
    """The deferred indexes that are not there now (a bulk load is under way or was
    cut short); always empty on PostgreSQL."""
    if not _sqlite(s):
        return []
    names = ", ".join(f"'{n}'" for n in DEFERRED)
    have = {
        str(n)
        for (n,) in s.execute(
            text(f"SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ({names})")
        )
    }
    return [n for n in DEFERRED if n not in have]


def worth_it(s: Session, coming: int) -> bool:
    """True when ``coming`` records are enough more than the node holds that building
    the indexes afresh costs less than inserting them one by one (SQLite only)."""
    if not _sqlite(s) or coming < MIN_RECORDS:
        return False
    held = s.execute(text("SELECT COALESCE(MAX(id), 0) FROM media")).scalar()
    return coming >= int(held or 0)


IMPORT_DEFERRED = (
    "ix_media_submissions",
    "ix_media_byte_size",
    "ix_media_first_seen_at",
    "ix_media_kind",
    "ix_fingerprint_algorithm_id",
)
"""What a large exchange import defers: the indexes of the tables it writes that it
never reads (``ix_exchange_entry_agency_source`` too when its records cannot be
deletions, which look entries up by source id)."""


def defer(s: Session, names: Sequence[str] = tuple(DEFERRED)) -> None:
    """Drop the deferred indexes (all, or ``names`` among them) in this transaction
    (SQLite only)."""
    if _sqlite(s):
        for name in names:
            if name not in DEFERRED:
                raise ValueError(f"{name} is not a deferred index")
            s.execute(text(f"DROP INDEX IF EXISTS {name}"))


def restore(s: Session) -> list[str]:
    """Create the deferred indexes that are missing, in this transaction; their names."""
    gone = missing(s)
    for name in gone:
        s.execute(text(DEFERRED[name]))
    return gone


def link_triggers(s: Session) -> dict[str, str]:
    """Name -> SQL of the insert triggers ``link_new_media`` stands in for, when they
    are the ones it was written for (else empty: links go in row by row)."""
    if not _sqlite(s):
        return {}
    names = ", ".join(f"'{n}'" for n in _LINK_TRIGGERS)
    sql = f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})"
    saved = {str(n): str(q) for n, q in s.execute(text(sql))}
    digests = {n: hashlib.sha256(q.encode()).hexdigest() for n, q in saved.items()}
    return saved if digests == _LINK_TRIGGERS else {}


def link_new_media(s: Session, pairs: Sequence[tuple[int, int]]) -> bool:
    """Insert (series id, media id) links of media created in this transaction (live,
    no sighting, no metadata yet) with each series' member count raised once, in
    place of the per-row triggers; False (nothing written) when the triggers are not
    the expected ones or this is not SQLite."""
    saved = link_triggers(s)
    if not saved or not pairs:
        return bool(saved)
    for name in saved:
        s.execute(text(f"DROP TRIGGER {name}"))
    _insert_links(s, pairs)
    for sql in saved.values():
        s.execute(text(sql))
    return True


def _insert_links(s: Session, pairs: Sequence[tuple[int, int]]) -> None:
    """The links and what the insert triggers would add for them (one member each)."""
    b = Bulk(s)
    b.insert("series_media", ("series_id", "media_id"), list(pairs))
    per: dict[int, int] = {}
    for sid, _ in pairs:
        per[sid] = per.get(sid, 0) + 1
    b.execute_many(_ADD_MEMBERS, sorted(per.items()))


class HeldLinkTriggers:
    """``link_new_media`` for an import of many batches: the insert triggers are
    dropped at the first batch with such links and created again only when a link
    must go through them (:meth:`restore`: before links of older media, and before
    the import commits), not once per batch.

    Each DROP or CREATE changes the schema, and a schema change makes SQLite prepare
    every statement of the connection again at its next use (the import's multi-row
    ``INSERT``s of up to 9,000 values among them): with the triggers dropped and
    created per batch, that was a tenth of the CPU of applying a 100k-record file.
    SQLite's DDL is transactional: a failed import rolls the drop back with the rows.
    Whoever holds this must call :meth:`restore` before the transaction commits.
    """

    def __init__(self, s: Session) -> None:
        self._s = s
        self._saved = link_triggers(s)
        self._dropped = False

    def link_new(self, pairs: Sequence[tuple[int, int]]) -> bool:
        """As ``link_new_media``: False (nothing written) when the triggers are not the
        expected ones or this is not SQLite."""
        if not self._saved or not pairs:
            return bool(self._saved)
        if not self._dropped:
            for name in self._saved:
                self._s.execute(text(f"DROP TRIGGER {name}"))
            self._dropped = True
        _insert_links(self._s, pairs)
        return True

    def restore(self) -> None:
        """The triggers back (no-op when they are there)."""
        if self._dropped:
            for sql in self._saved.values():
                self._s.execute(text(sql))
            self._dropped = False


__all__ = [
    "DEFERRED",
    "IMPORT_DEFERRED",
    "MIN_RECORDS",
    "HeldLinkTriggers",
    "defer",
    "link_new_media",
    "link_triggers",
    "missing",
    "restore",
    "worth_it",
]
