"""The read policies of migration 0036 (plain SQL over the ``tessera_rls_*`` views) let
through exactly the rows the functions' rule lets through, for every caller.

The oracle is the rule as the functions state it, asked by the table owner (which
Row-Level Security does not filter): ``tessera_media_level(m) >= 1`` for media and
fingerprints, ``>= 3`` for metadata and text, ``tessera_series_level`` for
memberships and ``tessera_case_level`` for sightings; those functions are themselves
compared with 0019's definition (``test_media_level_function.py``). The worlds are
that file's seeded random ones (grants of every scope and level, memberships some
soft-removed, sightings, exchange entries with and without a case, blind links), with
a fingerprint, camera metadata and OCR text on every item. The rows are read as a role
that neither owns the tables nor bypasses RLS, for each agency, an unknown code and no
caller at all. And a downgrade to 0034 restores the policies as they were.
PostgreSQL only (the policies exist only there)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from tessera.storage.db import Database

from .conftest import migrate_to, rls_reader_database
from .test_media_level_function import AGENCIES, _world

# (table, what the caller reads, the oracle's rule over the same rows)
TABLES = (
    ("media", "SELECT id FROM media", "tessera_media_level(id) >= 1"),
    ("fingerprint", "SELECT media_id FROM fingerprint", "tessera_media_level(media_id) >= 1"),
    (
        "media_metadata",
        "SELECT media_id FROM media_metadata",
        "tessera_media_level(media_id) >= 3",
    ),
    ("media_text", "SELECT media_id FROM media_text", "tessera_media_level(media_id) >= 3"),
    (
        "series_media",
        "SELECT series_id * 100000 + media_id FROM series_media",
        "tessera_series_level(series_id) >= 1",
    ),
    (
        "sighting",
        "SELECT id FROM sighting",
        "tessera_case_level(case_id) >= 1",
    ),
)


@pytest.fixture
def pg() -> Iterator[tuple[Database, str]]:
    """A migrated schema and a role RLS filters there (dropped after)."""
    yield from rls_reader_database("tessera_pv")


def _facts(db: Database, media: list[int]) -> None:
    """A fingerprint, camera metadata and a line of OCR text on every item."""
    with db.engine.begin() as conn:
        for m in media:
            conn.execute(
                text(
                    "INSERT INTO fingerprint (media_id, algorithm, version, position, value,"
                    " quality) VALUES (:m, 'pdq', 1, 0, :v, 100)"
                ),
                {"m": m, "v": m.to_bytes(32, "big")},
            )
            conn.execute(
                text(
                    "INSERT INTO media_metadata (media_id, camera_key, data)"
                    " VALUES (:m, 'canon/1', '{}')"
                ),
                {"m": m},
            )
            conn.execute(
                text(
                    "INSERT INTO media_text (media_id, position, engine, language, text, boxes)"
                    " VALUES (:m, 0, 'test', 'eng', 'harbour', '[]')"
                ),
                {"m": m},
            )


def _rows(conn: Connection, sql: str) -> set[int]:
    return {int(x) for x in conn.execute(text(sql)).scalars()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_read_policy_lets_through_what_the_functions_rule_does(
    pg: tuple[Database, str], seed: int
) -> None:
    db, role = pg
    media = _world(db, seed)
    _facts(db, media)
    reached: dict[str, set[bool]] = {}
    with db.engine.connect() as conn:
        for caller in [*(a for a, _ in AGENCIES), "XX-Z", ""]:
            with conn.begin():
                conn.execute(text("SELECT set_config('tessera.agency', :c, true)"), {"c": caller})
                want = {t: _rows(conn, f"{sql} WHERE {rule}") for t, sql, rule in TABLES}
                every = {t: _rows(conn, sql) for t, sql, _ in TABLES}
                conn.execute(text(f"SET LOCAL ROLE {role}"))
                got = {t: _rows(conn, sql) for t, sql, _ in TABLES}
            for table, _, _ in TABLES:
                assert got[table] == want[table], (caller, table, got[table] ^ want[table])
                reached.setdefault(table, set()).update(x in want[table] for x in every[table])
    # every table had rows the rule let through and rows it kept back
    assert all(seen == {True, False} for seen in reached.values()), reached


def _policies(conn: Connection) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    rows = conn.execute(
        text(
            "SELECT tablename, policyname, qual, with_check FROM pg_policies"
            " WHERE schemaname = current_schema()"
        )
    )
    return {(t, p): (q, w) for t, p, q, w in rows}


def test_a_downgrade_restores_the_policies_0034_had(pg: tuple[Database, str]) -> None:
    db, _ = pg
    with db.engine.connect() as conn:
        now = _policies(conn)
    migrate_to(db, "down", "0034")
    with db.engine.connect() as conn:
        before = _policies(conn)
        views = conn.scalar(
            text("SELECT count(*) FROM pg_views WHERE schemaname = current_schema()")
        )
    assert views == 0
    changed = {t for t, p in now if now[t, p] != before[t, p]}
    assert changed == {t for t, _, _ in TABLES} | {"exchange_hash", "marker", "media_location"}
    assert all(now[t, p] == before[t, p] for t, p in now if p != "tessera_read")
    assert all("level(" in (before[t, "tessera_read"][0] or "") for t in changed)
    migrate_to(db, "head")
    with db.engine.connect() as conn:
        assert _policies(conn) == now
