"""``tessera_text_search`` (migration 0031) returns the rows the policy-filtered text
search returned, in the same order, page by page, for every caller.

The oracle is the query ``tessera.storage.text_search`` ran before 0031, written out
here and run as a role that Row-Level Security filters (NOBYPASSRLS, owning nothing:
``SET ROLE`` inside the owner's connection), so PostgreSQL's own policies decide what
it returns. The worlds are ``test_media_level_function``'s seeded ones (3 agencies in
2 countries, series and cases with random grants of every scope and level, ``none``
included, soft-removed memberships, sightings, exchange entries, blind links), with
OCR text on most items (a few with two rows, a few items soft-deleted) and a fourth
agency that owns nothing. Callers: each agency, an unknown code and none at all.
PostgreSQL only (the function exists only there)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from tessera.storage.db import Database
from tessera.storage.text_search import search_text

from .conftest import database_at, migrate_to, pg_schema_database
from .test_media_level_function import AGENCIES, NOW, _world

WORDS = ("harbour", "hotel", "room", "park", "station", "garden")
QUERIES = ("harbour", "harbour & hotel", "ho:*", "park & garden & room", "nowhere")
PAGES = ((1000, 0), (7, 0), (7, 7), (5, 23), (1, 0))

# the text search before 0031 (tessera.storage.text_search), read through the policies
ORACLE = """
SELECT t.media_id, t.position, t.language, t.text, t.boxes FROM media_text t
  JOIN media m ON m.id = t.media_id AND m.deleted_at IS NULL
 WHERE to_tsvector('simple', t.text) @@ to_tsquery('simple', :q)
 ORDER BY {order} LIMIT :n OFFSET :o
"""
RANK = "ts_rank(to_tsvector('simple', t.text), to_tsquery('simple', :q))"
FUNCTION = (
    "SELECT f.media_id, f.position, f.language, f.text, f.boxes"
    " FROM tessera_text_search(:q, :rel, :desc, :n, :o) WITH ORDINALITY f ORDER BY f.ordinality"
)
CALLERS = (*(a for a, _ in AGENCIES), "FR-D", "XX-Z", "")


def _order(relevance: bool, descending: bool) -> str:
    way = "DESC" if descending else "ASC"
    tail = f"t.media_id {way}, t.id {way}"
    if relevance:
        return f"{RANK} {'ASC' if descending else 'DESC'}, {tail}"
    return tail


@pytest.fixture
def pg() -> Iterator[tuple[Database, str]]:
    """A migrated schema and a role RLS filters there (dropped after)."""
    role = f"tessera_ts_{uuid.uuid4().hex[:10]}"
    for db in pg_schema_database(Database.migrate):
        with db.engine.begin() as conn:
            schema = conn.scalar(text("SELECT current_schema()"))
            conn.execute(text(f"CREATE ROLE {role} NOLOGIN NOBYPASSRLS"))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
            conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
        try:
            yield db, role
        finally:
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))


def _texts(db: Database, media: list[int], seed: int) -> None:
    """OCR text on ~80 % of the items (a tenth with a second row), a few items deleted,
    a fourth agency (FR-D) that owns nothing."""
    rng = random.Random(seed * 7919)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agency (id, code, country, name, contact, created_at)"
                " VALUES (4, 'FR-D', 'FR', 'FR-D', 'x@example.org', :now)"
            ),
            {"now": NOW},
        )
        for m in media:
            if rng.random() < 0.05:
                conn.execute(
                    text("UPDATE media SET deleted_at = :now WHERE id = :m"), {"m": m, "now": NOW}
                )
            if rng.random() < 0.2:
                continue
            for position in range(2 if rng.random() < 0.1 else 1):
                words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
                conn.execute(
                    text(
                        "INSERT INTO media_text (media_id, position, engine, language, text, boxes)"
                        " VALUES (:m, :p, 'test', 'eng', :t, CAST(:b AS json))"
                    ),
                    {
                        "m": m,
                        "p": position,
                        "t": " ".join(words),
                        "b": json.dumps([[0, 0, 1, 1, w] for w in words]),
                    },
                )


def _as_role(conn: Connection, role: str | None, caller: str) -> None:
    conn.execute(text(f"SET ROLE {role}" if role else "RESET ROLE"))
    conn.execute(text("SELECT set_config('tessera.agency', :c, false)"), {"c": caller})


REACHED: set[str] = set()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_function_returns_what_the_policies_returned(
    pg: tuple[Database, str], seed: int
) -> None:
    db, role = pg
    media = _world(db, seed)
    _texts(db, media, seed)
    with db.engine.connect() as conn:
        for caller in CALLERS:
            for q in QUERIES:
                for relevance in (True, False):
                    for descending in (False, True):
                        for n, o in PAGES:
                            args = {"q": q, "rel": relevance, "desc": descending, "n": n, "o": o}
                            sql = ORACLE.format(order=_order(relevance, descending))
                            _as_role(conn, None, caller)  # the owner: no policy applies
                            everything = conn.execute(text(sql), args).all()
                            # the owner calling the function gets the caller's rows too
                            by_owner = conn.execute(text(FUNCTION), args).all()
                            _as_role(conn, role, caller)
                            assert conn.scalar(text("SELECT row_security_active('media_text')"))
                            want = conn.execute(text(sql), args).all()
                            got = conn.execute(text(FUNCTION), args).all()
                            assert got == want, (caller, args)
                            assert by_owner == want, (caller, args)
                            if want and len(want) < len(everything):
                                REACHED.add("some hidden")
                            if everything and not want:
                                REACHED.add("all hidden")
                            if want and want != everything[: len(want)]:
                                REACHED.add("page shifted")
                        # and the storage function, through a connection RLS filters
                        with Session(bind=conn) as s:
                            hits = search_text(
                                s,
                                q.replace(" & ", " ").replace(":*", "*"),
                                9,
                                3,
                                sort="relevance" if relevance else "media",
                                descending=descending,
                            )
                        want = conn.execute(
                            text(ORACLE.format(order=_order(relevance, descending))),
                            {"q": q, "n": 9, "o": 3},
                        ).all()
                        assert [
                            (h.media_id, h.position, h.language, h.text, h.boxes) for h in hits
                        ] == [tuple(r) for r in want], (caller, q)
        conn.execute(text("RESET ROLE"))
        conn.rollback()


def test_the_worlds_reach_every_case(pg: tuple[Database, str]) -> None:
    """Runs after the seeds above: for some caller the policies hid some matches, all
    of them, and moved a page (so the comparisons covered the filter, not only its
    absence)."""
    if not REACHED:
        pytest.skip("the comparisons above did not run")
    assert {"some hidden", "all hidden", "page shifted"} == REACHED


@pytest.fixture
def pg_at_0027(tmp_path: Path) -> Iterator[Database]:
    yield from database_at("postgresql", tmp_path, "0027")


def _has_function(db: Database) -> bool:
    with db.engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE p.proname = 'tessera_text_search' AND n.nspname = current_schema()"
                    " AND p.prosecdef"
                )
            )
        )


def test_migration_0031_up_and_down(pg_at_0027: Database) -> None:
    assert not _has_function(pg_at_0027)
    migrate_to(pg_at_0027, "0031")
    assert _has_function(pg_at_0027)
    migrate_to(pg_at_0027, "down", down_to="0027")
    assert not _has_function(pg_at_0027)
