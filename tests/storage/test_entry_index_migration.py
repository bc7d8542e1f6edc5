"""Migration 0032 drops ``ix_exchange_entry_media_id`` on SQLite and PostgreSQL: the
unique ``(media_id, agency_id)`` index covers every lookup by ``media_id`` (the
plans below use it); downgrade creates the plain index again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to

BEFORE = "0031"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _indexes(db: Database) -> set[str]:
    return {str(i["name"]) for i in inspect(db.engine).get_indexes("exchange_entry")}


def _uses_unique_index(db: Database) -> bool:
    query = "SELECT id, agency_id FROM exchange_entry WHERE media_id BETWEEN 5 AND 9"
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
            return "sqlite_autoindex_exchange_entry_1" in plan
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {query}")))
        return "uq_exchange_entry_media_id" in plan


def test_the_duplicate_index_goes_and_comes_back(old_db: Database) -> None:
    assert "ix_exchange_entry_media_id" in _indexes(old_db)
    migrate_to(old_db, "0032")
    assert "ix_exchange_entry_media_id" not in _indexes(old_db)
    assert _uses_unique_index(old_db)
    migrate_to(old_db, "down", down_to=BEFORE)
    assert "ix_exchange_entry_media_id" in _indexes(old_db)
