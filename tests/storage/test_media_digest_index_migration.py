"""Migration 0034 (SQLite): ``ix_media_md5`` / ``ix_media_sha1`` become partial (rows
that have the digest); lookups by digest still read them and find the same rows, and
downgrade makes them whole again. PostgreSQL keeps its indexes as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to

BEFORE = "0035"
_MD5 = bytes(range(16))
_SHA1 = bytes(range(20))


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _seed(db: Database) -> None:
    """Media 1 with MD5 and SHA-1, 2 with SHA-256 alone, 3 with MD5 alone."""
    with db.engine.begin() as conn:
        for mid, sha256, md5, sha1 in (
            (1, b"\x01" * 32, _MD5, _SHA1),
            (2, b"\x02" * 32, None, None),
            (3, None, _MD5[::-1], None),
        ):
            conn.execute(
                text(
                    "INSERT INTO media (id, sha256, md5, sha1, kind, submissions, has_content,"
                    " first_seen_at) VALUES (:i, :s, :m, :h, 'image', 0, false, :t)"
                ),
                {"i": mid, "s": sha256, "m": md5, "h": sha1, "t": "2026-12-06 12:00:00"},
            )


def _index_sql(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            q = (
                "SELECT name, sql FROM sqlite_master"
                " WHERE name IN ('ix_media_md5', 'ix_media_sha1')"
            )
        else:
            q = (
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND indexname IN ('ix_media_md5', 'ix_media_sha1')"
            )
        return {str(n): str(s) for n, s in conn.execute(text(q))}


def _found(db: Database) -> tuple[list[int], list[int], list[int]]:
    with db.engine.connect() as conn:
        by_md5 = conn.execute(
            text("SELECT id FROM media WHERE md5 IN (:a, :b) ORDER BY id"),
            {"a": _MD5, "b": _MD5[::-1]},
        ).scalars()
        by_sha1 = conn.execute(text("SELECT id FROM media WHERE sha1 = :a"), {"a": _SHA1})
        none = conn.execute(text("SELECT id FROM media WHERE md5 IS NULL ORDER BY id"))
        return [int(x) for x in by_md5], [int(x) for (x,) in by_sha1], [int(x) for (x,) in none]


def _plans(db: Database) -> str:
    with db.engine.connect() as conn:
        return " ".join(
            str(r[-1])
            for q in (
                "SELECT id FROM media WHERE md5 IN (x'00', x'01')",
                "SELECT id FROM media WHERE sha1 = x'00'",
            )
            for r in conn.execute(text(f"EXPLAIN QUERY PLAN {q}"))
        )


def test_partial_on_sqlite_same_rows_found(old_db: Database) -> None:
    _seed(old_db)
    before = _index_sql(old_db)
    assert set(before) == {"ix_media_md5", "ix_media_sha1"}
    assert _found(old_db) == ([1, 3], [1], [2])
    migrate_to(old_db, "0034")
    after = _index_sql(old_db)
    if old_db.engine.dialect.name == "sqlite":
        assert "WHERE md5 IS NOT NULL" in after["ix_media_md5"]
        assert "WHERE sha1 IS NOT NULL" in after["ix_media_sha1"]
        plan = _plans(old_db)
        assert "INDEX ix_media_md5" in plan and "INDEX ix_media_sha1" in plan
    else:
        assert after == before
    assert _found(old_db) == ([1, 3], [1], [2])
    migrate_to(old_db, "down", down_to=BEFORE)
    assert _index_sql(old_db) == before
    assert _found(old_db) == ([1, 3], [1], [2])
