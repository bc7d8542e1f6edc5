"""Migration 0023 backfills the kept series counts from the rows already there, its
triggers keep them from then on, and downgrade drops tables and triggers (writes
still work), on SQLite and PostgreSQL.

The "before" rows go in through plain SQL at revision 0022, as the previous code wrote
them; the expected counts are worked out by hand below."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to

BEFORE = "0022"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEPT = ("series_stats", "media_agency_sightings", "series_agency_submissions")


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _sql(db: Database, *stmts: str, **params: object) -> None:
    with db.engine.begin() as conn:
        for stmt in stmts:
            conn.execute(text(stmt), params)


def _world(db: Database) -> None:
    """Series 1 (agency 1) holds media 1, 2, 3 (3 soft-deleted) and media 4 (its
    membership removed); agency 1 saw 1 twice (cases 1, 2) and 2 once, agency 2 saw 1
    once and 4 once; one sighting of 2 by agency 2 was undone."""
    _sql(
        db,
        "INSERT INTO agency (id, code, country, name, created_at) VALUES"
        " (1, 'NL-A', 'NL', 'A', :t), (2, 'DE-B', 'DE', 'B', :t)",
        "INSERT INTO cases (id, agency_id, number, created_at) VALUES"
        " (1, 1, 'c1', :t), (2, 1, 'c2', :t), (3, 2, 'b1', :t)",
        "INSERT INTO series (id, name, agency_id, victim_identified, offender_identified,"
        " baseline, created_at) VALUES (1, 'S', 1, false, false, false, :t)",
        t=T0,
    )
    for m in (1, 2, 3, 4):
        _sql(
            db,
            "INSERT INTO media (id, sha256, kind, byte_size, submissions, first_seen_at,"
            " has_content, deleted_at) VALUES (:m, :h, 'image', 1, 1, :t, true, :gone)",
            m=m,
            h=bytes([m]) * 32,
            t=T0,
            gone=T0 if m == 3 else None,
        )
    _sql(
        db,
        "INSERT INTO series_media (series_id, media_id, deleted_at) VALUES"
        " (1, 1, NULL), (1, 2, NULL), (1, 3, NULL), (1, 4, :t)",
        t=T0,
    )
    for i, (m, case, agency, hours, gone) in enumerate(
        [(1, 1, 1, 1, None), (1, 2, 1, 5, None), (2, 1, 1, 3, None), (1, 3, 2, 2, None),
         (4, 3, 2, 0, None), (2, 3, 2, 9, T0)],
        start=1,
    ):  # fmt: skip
        _sql(
            db,
            "INSERT INTO sighting (id, media_id, case_id, agency_id, original_path, seen_at,"
            " deleted_at) VALUES (:i, :m, :c, :a, :p, :at, :gone)",
            i=i,
            m=m,
            c=case,
            a=agency,
            p=f"/p{i}",
            at=T0 + timedelta(hours=hours),
            gone=gone,
        )


def _read(db: Database) -> dict[str, object]:
    def when(v: object) -> datetime:
        t = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)

    with db.engine.connect() as conn:
        return {
            "members": conn.execute(text("SELECT series_id, members FROM series_stats")).all(),
            "by_case": sorted(
                conn.execute(
                    text("SELECT series_id, case_id, n FROM series_case_sightings WHERE n > 0")
                ).all()
            ),
            "by_agency": sorted(
                (int(a), int(g), int(n), when(lo), when(hi), bool(x))
                for a, g, n, lo, hi, x in conn.execute(
                    text(
                        "SELECT series_id, agency_id, media, first_seen, last_seen, exact"
                        " FROM series_agency_submissions WHERE media > 0"
                    )
                )
            ),
        }


def test_backfill_triggers_and_downgrade(old_db: Database) -> None:
    _world(old_db)
    migrate_to(old_db, "0023")
    h = lambda n: T0 + timedelta(hours=n)  # noqa: E731
    assert _read(old_db) == {
        "members": [(1, 2)],  # 1 and 2 (3 is deleted, 4 was removed)
        "by_case": [(1, 1, 2), (1, 2, 1), (1, 3, 1)],  # media 1 in c1, c2, b1; 2 in c1
        "by_agency": [(1, 1, 2, h(1), h(5), True), (1, 2, 1, h(2), h(2), True)],
    }
    # from here the triggers: media 4 back in the series, media 3 restored, a sighting
    _sql(
        old_db,
        "UPDATE series_media SET deleted_at = NULL WHERE media_id = 4",
        "UPDATE media SET deleted_at = NULL WHERE id = 3",
        "INSERT INTO sighting (id, media_id, case_id, agency_id, original_path, seen_at)"
        " VALUES (7, 3, 2, 1, '/p7', :at)",
        at=T0 + timedelta(hours=7),
    )
    assert _read(old_db) == {
        "members": [(1, 4)],
        "by_case": [(1, 1, 2), (1, 2, 2), (1, 3, 2)],
        "by_agency": [(1, 1, 3, h(1), h(7), True), (1, 2, 2, h(0), h(2), True)],
    }
    migrate_to(old_db, "down", down_to=BEFORE)
    names = set(inspect(old_db.engine).get_table_names())
    assert not names & {*KEPT, "series_case_sightings"}
    _sql(  # no trigger left behind that would write to a dropped table
        old_db,
        "INSERT INTO sighting (id, media_id, case_id, agency_id, original_path, seen_at)"
        " VALUES (8, 1, 1, 1, '/p8', :at)",
        "DELETE FROM series_media WHERE media_id = 1",
        "UPDATE media SET deleted_at = :at WHERE id = 2",
        at=T0,
    )
    migrate_to(old_db, "0023")  # and up again: the backfill starts from the rows as they are
    assert _read(old_db)["members"] == [(1, 2)]
