"""``Bulk.insert``: every row arrives once, in statements of many rows on SQLite (more
rows than one statement takes, and a last partial one), conflicts skipped only when
asked; PostgreSQL (COPY or ``executemany``) gives the same rows."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tessera.storage import bulk
from tessera.storage.bulk import Bulk
from tessera.storage.db import Database

_INTEGRITY = (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)
"""The driver's own error: ``Bulk`` talks to the driver, not through SQLAlchemy."""
_KEYS = [bytes([i % 256, i // 256]) * 16 for i in range(2_345)]


def _rows(keys: list[bytes]) -> list[tuple[bytes, int]]:
    return [(k, 7) for k in keys]


def _keys(db: Database) -> list[bytes]:
    with db.engine.connect() as conn:
        return [bytes(k) for (k,) in conn.execute(text("SELECT key FROM exchange_hash"))]


def _media(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO media (id, kind, submissions, has_content, first_seen_at) "
                "VALUES (7, 'image', 0, false, '2026-12-06 12:00:00')"
            )
        )


def test_many_rows_arrive_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "SQLITE_ROWS", 1000)  # 2,345 rows: 3 statements
    _media(db)
    with db.session() as s:
        Bulk(s, ("exchange_hash",)).insert("exchange_hash", ("key", "media_id"), _rows(_KEYS))
    assert sorted(_keys(db)) == sorted(_KEYS)


def test_skip_conflicts_keeps_the_rows_held(db: Database) -> None:
    _media(db)
    with db.session() as s:
        b = Bulk(s)
        b.insert("exchange_hash", ("key", "media_id"), _rows(_KEYS[:1500]))
        # half held already, and one key twice in the same call
        again = _rows(_KEYS[750:] + _KEYS[2000:2001])
        b.insert("exchange_hash", ("key", "media_id"), again, skip_conflicts=True)
    assert sorted(_keys(db)) == sorted(_KEYS)


def test_a_conflict_not_skipped_fails(db: Database) -> None:
    _media(db)
    with pytest.raises(_INTEGRITY), db.session() as s:
        b = Bulk(s)
        b.insert("exchange_hash", ("key", "media_id"), _rows(_KEYS[:10]))
        b.insert("exchange_hash", ("key", "media_id"), _rows(_KEYS[5:20]))
    assert _keys(db) == []
