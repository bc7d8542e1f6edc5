"""Migration 0018 moves the per-file lines of finished triage jobs' reports into
``triage_job_file`` rows (the head stays in ``triage_job.result``), on SQLite and
PostgreSQL; downgrade puts the documents back as they were. It also replaces the
audit log's single-column indexes with one per sort order.

The "before" report is a literal document in the shape ``tessera triage --json``
wrote, stored through plain SQL as the previous code did.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to

BEFORE = "0017"


def _at(db: Database, revision: str) -> None:
    migrate_to(db, revision, down_to=BEFORE)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, BEFORE)


def _item(path: str, status: str, matches: list[dict[str, Any]], group: int | None) -> dict:
    return {
        "path": path,
        "status": status,
        "sha256": "ab" * 32,
        "matches": matches,
        "new_group": group,
        "error": None,
        "similar": [],
    }


REPORT = {
    "summary": {"files": 3, "known": 1, "near": 0, "new": 2, "error": 0},
    "series": [{"name": "Series Amber", "paths": ["k.jpg"]}],
    "new_groups": [["n1.jpg"], ["n2.jpg"]],
    "similar_scenes": [],
    "results": [
        _item("n1.jpg", "new", [], 1),
        _item(
            "k.jpg",
            "known",
            [
                {"media_id": 4, "via": "pdq", "distance": 12, "series": ["Series Zeta"]},
                {"media_id": 3, "via": "sha256", "distance": 0, "series": ["Series Amber"]},
            ],
            None,
        ),
        _item("n2.jpg", "new", [], 2),
    ],
}

_job = sa.table(
    "triage_job",
    *(
        sa.column(c, t)
        for c, t in (
            ("id", sa.Integer),
            ("public_id", sa.String),
            ("role", sa.String),
            ("state", sa.String),
            ("params", sa.JSON),
            ("fingerprints", sa.JSON),
            ("total", sa.Integer),
            ("done", sa.Integer),
            ("attempts", sa.Integer),
            ("cancel_requested", sa.Boolean),
            ("result", sa.JSON),
            ("created_at", sa.DateTime(timezone=True)),
        )
    ),
)


def test_migration_0018_splits_reports_into_rows_and_back(old_db: Database) -> None:
    now = datetime.now(UTC)
    common = {
        "role": "analyst",
        "params": {"radius": 31, "min_quality": 50},
        "fingerprints": [],
        "total": 3,
        "done": 3,
        "attempts": 1,
        "cancel_requested": False,
        "created_at": now,
    }
    with old_db.engine.begin() as conn:
        conn.execute(
            sa.insert(_job),
            [
                {"id": 1, "public_id": "a" * 32, "state": "done", "result": REPORT, **common},
                {"id": 2, "public_id": "b" * 32, "state": "queued", "result": None, **common},
            ],
        )
    _at(old_db, "head")
    with old_db.engine.connect() as conn:
        head = conn.scalar(sa.select(_job.c.result).where(_job.c.id == 1))
        rows = conn.execute(
            text(
                "SELECT job_id, seq, path, status, series, distance, new_group "
                "FROM triage_job_file ORDER BY seq"
            )
        ).all()
    assert head == {k: v for k, v in REPORT.items() if k != "results"}
    assert [tuple(r) for r in rows] == [
        (1, 0, "n1.jpg", "new", "", None, 1),
        (1, 1, "k.jpg", "known", "Series Amber", 0, None),
        (1, 2, "n2.jpg", "new", "", None, 2),
    ]
    audit = {
        ix["name"]: ix["column_names"] for ix in inspect(old_db.engine).get_indexes("audit_entry")
    }
    assert audit["ix_audit_entry_agency_action"] == ["agency", "action", "seq"]
    assert "ix_audit_entry_user" not in audit
    _at(old_db, "down")
    with old_db.engine.connect() as conn:
        assert conn.scalar(sa.select(_job.c.result).where(_job.c.id == 1)) == REPORT
        assert conn.scalar(sa.select(_job.c.result).where(_job.c.id == 2)) is None
    assert "triage_job_file" not in inspect(old_db.engine).get_table_names()
