"""Migration 0028 on PostgreSQL: the function that lets a connection under RLS skip
cameras wholly in a series, and ``series_camera_members`` read only at ``full``;
downgrade gives 0025's function-less schema and its ``hash`` read rule back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to

BEFORE = "0025"


@pytest.fixture
def old_pg(tmp_path: Path) -> Iterator[Database]:
    yield from database_at("postgresql", tmp_path, BEFORE)


def _state(db: Database) -> tuple[bool, str]:
    with db.engine.connect() as conn:
        fn = conn.scalar(
            text(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE p.proname = 'tessera_whole_cameras' AND n.nspname = current_schema()"
            )
        )
        rule = conn.scalar(
            text(
                "SELECT qual FROM pg_policies WHERE tablename = 'series_camera_members'"
                " AND policyname = 'tessera_read' AND schemaname = current_schema()"
            )
        )
    return bool(fn), str(rule)


def test_upgrade_adds_the_function_and_reads_camera_members_at_full(old_pg: Database) -> None:
    assert _state(old_pg) == (False, "(tessera_series_level((series_id)::bigint) >= 1)")
    migrate_to(old_pg, "0028")
    assert _state(old_pg) == (True, "(tessera_series_level((series_id)::bigint) = 3)")
    migrate_to(old_pg, "down", down_to=BEFORE)
    assert _state(old_pg) == (False, "(tessera_series_level((series_id)::bigint) >= 1)")
