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

The statements are those of the migrations (``tests/storage/test_bulk_load.py``
checks them against a migrated database): a later migration that changes one of
these indexes changes them here too.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

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


def defer(s: Session) -> None:
    """Drop the deferred indexes in this transaction (SQLite only)."""
    if _sqlite(s):
        for name in DEFERRED:
            s.execute(text(f"DROP INDEX IF EXISTS {name}"))


def restore(s: Session) -> list[str]:
    """Create the deferred indexes that are missing, in this transaction; their names."""
    gone = missing(s)
    for name in gone:
        s.execute(text(DEFERRED[name]))
    return gone


__all__ = ["DEFERRED", "MIN_RECORDS", "defer", "missing", "restore", "worth_it"]
