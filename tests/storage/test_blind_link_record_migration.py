"""Migration 0025 adds what an agency's own record said to its blind links, on
SQLite and PostgreSQL: a link made before keeps its row with no recorded digests
(NULL: it shows less, never more) and a link time; downgrade drops the columns.

The "before" row goes in through plain SQL at revision 0024, as 0019's code wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to, seed_agency_and_media

BEFORE = "0024"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADDED = {"sha256", "sha1", "md5", "kind", "byte_size", "linked_at"}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("blind_link")}


def test_old_links_keep_their_rows_with_nothing_recorded(old_db: Database) -> None:
    with old_db.engine.begin() as conn:
        seed_agency_and_media(conn, T0)
        conn.execute(text("INSERT INTO blind_link (media_id, agency_id) VALUES (7, 1)"))
    assert not (_columns(old_db) & ADDED)
    migrate_to(old_db, "0025", down_to=BEFORE)
    assert _columns(old_db) >= ADDED
    with old_db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT media_id, sha256, sha1, md5, kind, byte_size, linked_at FROM blind_link")
        ).one()
    assert tuple(row[:6]) == (7, None, None, None, None, None)
    assert row[6] is not None
    migrate_to(old_db, "down", down_to=BEFORE)
    assert not (_columns(old_db) & ADDED)
    with old_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM blind_link")).scalar_one() == 1
