"""Migration 0022 keeps one flood-guard hit row per (media item, query key, agency), at
its latest time, on SQLite and PostgreSQL; lookups then move that row instead of adding
one (``storage.trust.log_hits``), and downgrade drops only the unique index.

The "before" rows go in through plain SQL at revision 0019, as the previous code wrote
them (a row per matching lookup)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from tessera.storage import trust
from tessera.storage.db import Database

from .conftest import database_at, migrate_to

BEFORE = "0019"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _at(db: Database, revision: str) -> None:
    migrate_to(db, revision, down_to=BEFORE)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _rows(db: Database) -> list[tuple[int, str, int, datetime]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT media_id, query_key, agency_id, at FROM hit_log ORDER BY query_key")
        ).all()
    out = []
    for m, k, a, at in rows:
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        out.append((int(m), str(k), int(a), when.replace(tzinfo=UTC)))
    return out


def test_repeats_collapse_to_the_latest_and_upsert_after(old_db: Database) -> None:
    with old_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agency (id, code, country, name, contact, created_at)"
                " VALUES (1, 'NL-A', 'NL', 'A', 'a@example.org', :t)"
            ),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO media (id, sha256, kind, byte_size, submissions, first_seen_at,"
                " has_content) VALUES (7, :h, 'image', 1, 1, :t, true)"
            ),
            {"h": bytes(32), "t": T0},
        )
        # key "a" asked three times (the latest not the last id), key "b" once
        for i, (key, hours) in enumerate([("a", 3), ("a", 1), ("a", 2), ("b", 5)], start=1):
            conn.execute(
                text(
                    "INSERT INTO hit_log (id, media_id, query_key, agency_id, at)"
                    " VALUES (:i, 7, :k, 1, :at)"
                ),
                {"i": i, "k": key, "at": T0 + timedelta(hours=hours)},
            )
    _at(old_db, "0022")
    assert _rows(old_db) == [
        (7, "a", 1, T0 + timedelta(hours=3)),
        (7, "b", 1, T0 + timedelta(hours=5)),
    ]
    later = T0 + timedelta(hours=9)
    with Session(old_db.engine) as s, s.begin():
        trust.log_hits(s, [(7, "a", 1), (7, "c", 1)], later)
    assert _rows(old_db) == [
        (7, "a", 1, later),
        (7, "b", 1, T0 + timedelta(hours=5)),
        (7, "c", 1, later),
    ]
    with Session(old_db.engine) as s:  # the same counts a row per hit gave
        since = T0 + timedelta(hours=4)
        assert trust.flood_counts(s, [7], since, {}) == {7: (3, 1)}
        released = {7: T0 + timedelta(hours=6)}
        assert trust.flood_counts(s, [7], T0, released) == {7: (2, 1)}
    _at(old_db, "down")
    names = {ix["name"] for ix in inspect(old_db.engine).get_indexes("hit_log")}
    assert "uq_hit_log_media_key_agency" not in names
    assert len(_rows(old_db)) == 3
