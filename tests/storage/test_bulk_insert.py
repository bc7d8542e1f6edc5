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
from tessera.storage import db as storage_db
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


_MEDIA_COLUMNS = (
    "id",
    "sha256",
    "sha1",
    "md5",
    "kind",
    "byte_size",
    "submissions",
    "has_content",
    "first_seen_at",
)


def _media_rows(ids: range, md5: bool, has_content: bool) -> list[tuple[object, ...]]:
    return [
        (
            i,
            bytes([i]) * 32,
            None,  # NULL in every row
            bytes([i]) * 16 if md5 and i % 2 else None,  # NULL in some rows only
            "image",
            None,
            0,
            has_content,  # the same flag in every row
            "2026-12-06 12:00:00.000000",
        )
        for i in ids
    ]


def test_columns_empty_or_flagged_alike_in_every_row_store_what_bound_values_store(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite writes a column holding the same None, False or True in every row of a
    call as a literal in the statement instead of binding it per row (the driver's
    adaptation of each such value cost ~4.5 % of a big pull's instructions); the
    rows read back as bound values give them: NULL, and integers 0 and 1. Only the
    Nones of a column that is not empty in every row are still bound."""
    monkeypatch.setattr(bulk, "SQLITE_ROWS", 7)  # 20 rows a call: 3 statements
    bound: list[None] = []

    def counted(value: None) -> None:
        bound.append(value)

    sqlite3.register_adapter(type(None), counted)
    try:
        with db.session() as s:
            b = Bulk(s)
            b.insert("media", _MEDIA_COLUMNS, _media_rows(range(1, 21), True, False))
            b.insert("media", _MEDIA_COLUMNS, _media_rows(range(21, 41), False, True))
    finally:
        sqlite3.register_adapter(type(None), storage_db._none)
    if db.dialect == "sqlite":  # the 10 empty MD5s of the first call, nothing else
        assert len(bound) == 10
    with db.engine.connect() as conn:
        got = conn.execute(
            text("SELECT id, sha256, sha1, md5, byte_size, has_content FROM media ORDER BY id")
        ).all()
        assert [tuple(r) for r in got] == [
            (
                i,
                bytes([i]) * 32,
                None,
                bytes([i]) * 16 if i <= 20 and i % 2 else None,
                None,
                i > 20,
            )
            for i in range(1, 41)
        ]
        if db.dialect == "sqlite":
            types = conn.execute(
                text(
                    "SELECT DISTINCT typeof(sha1), typeof(byte_size), typeof(has_content), "
                    "has_content FROM media ORDER BY has_content"
                )
            ).all()
            assert [tuple(r) for r in types] == [
                ("null", "null", "integer", 0),
                ("null", "null", "integer", 1),
            ]
