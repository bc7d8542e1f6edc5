"""Migration 0035 adds ``ix_exchange_entry_category_profile`` on SQLite and PostgreSQL
over the entries already there; downgrade drops it and leaves the rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to, seed_agency_and_media

BEFORE = "0032"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _indexes(db: Database) -> set[str]:
    return {str(i["name"]) for i in inspect(db.engine).get_indexes("exchange_entry")}


def _profiles(db: Database) -> list[tuple[int, str | None]]:
    with db.engine.connect() as conn:
        q = "SELECT media_id, category_profile FROM exchange_entry ORDER BY id"
        return [(int(m), p) for m, p in conn.execute(text(q))]


def test_the_index_comes_and_goes(old_db: Database) -> None:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    with old_db.engine.begin() as conn:
        seed_agency_and_media(conn, at)
        conn.execute(
            text(
                "INSERT INTO exchange_entry (media_id, agency_id, source_format, source_id,"
                " category_profile, category, data, updated_at)"
                " VALUES (7, 1, 'vics', '1', 'UK', 2, '{}', :t)"
            ),
            {"t": at},
        )
    assert "ix_exchange_entry_category_profile" not in _indexes(old_db)
    migrate_to(old_db, "0035")
    assert "ix_exchange_entry_category_profile" in _indexes(old_db)
    assert _profiles(old_db) == [(7, "UK")]
    migrate_to(old_db, "down", down_to=BEFORE)
    assert "ix_exchange_entry_category_profile" not in _indexes(old_db)
    assert _profiles(old_db) == [(7, "UK")]
