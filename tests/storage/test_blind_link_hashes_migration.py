"""Migration 0026 adds the own record's PDQ and opaque hashes to blind links, on
SQLite and PostgreSQL: a link made before keeps its row and recorded digests with no
hashes (NULL: it shows none, less than the record said, never more); downgrade
drops the column and keeps the row.

The "before" row goes in through plain SQL at revision 0029, as 0025's code wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to, seed_agency_and_media

BEFORE = "0029"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("blind_link")}


def test_old_links_keep_their_digests_with_no_hashes(old_db: Database) -> None:
    with old_db.engine.begin() as conn:
        seed_agency_and_media(conn, T0)
        conn.execute(
            text(
                "INSERT INTO blind_link (media_id, agency_id, sha256, kind, linked_at)"
                " VALUES (7, 1, :h, 'image', :t)"
            ),
            {"h": bytes(32), "t": T0},
        )
    assert "hashes" not in _columns(old_db)
    migrate_to(old_db, "0026", down_to=BEFORE)
    assert "hashes" in _columns(old_db)
    with old_db.engine.connect() as conn:
        row = conn.execute(text("SELECT media_id, sha256, kind, hashes FROM blind_link")).one()
    assert (row[0], bytes(row[1]), row[2], row[3]) == (7, bytes(32), "image", None)
    migrate_to(old_db, "down", down_to=BEFORE)
    assert "hashes" not in _columns(old_db)
    with old_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM blind_link")).scalar_one() == 1
