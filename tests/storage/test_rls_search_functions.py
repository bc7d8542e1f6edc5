"""``tessera_text_search`` and ``tessera_camera_search`` (migration 0031) return the
rows the policy-filtered text and camera serial searches returned, in the same order,
page by page, for every caller.

The oracles are the queries ``tessera.storage.text_search`` and
``tessera.storage.metadata_search.by_camera_key`` ran before 0031, written out here
and run as a role that Row-Level Security filters (NOBYPASSRLS, owning nothing:
``SET ROLE`` inside the owner's connection), so PostgreSQL's own policies decide what
it returns. The worlds are ``test_media_level_function``'s seeded ones (3 agencies in
2 countries, series and cases with random grants of every scope and level, ``none``
included, soft-removed memberships, sightings, exchange entries, blind links), with
OCR text and camera metadata on most items (a few with two text rows, a few items
soft-deleted, serials that end alike) and a fourth agency that owns nothing.
Callers: each agency, an unknown code and none at all. PostgreSQL only (the
functions exist only there)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, literal, select, text, union_all
from sqlalchemy.orm import Session

from tessera.media.metadata import EARTH_RADIUS_M, haversine_m
from tessera.storage.camera_links import near_point
from tessera.storage.db import Database
from tessera.storage.metadata_search import by_camera_key, in_boxes_rls, lon_window
from tessera.storage.models import Media, MediaMetadataModel
from tessera.storage.text_search import search_text

from .conftest import database_at, migrate_to, rls_reader_database
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
    yield from rls_reader_database("tessera_ts")


KEYS = ("canon/123", "nikon/123", "canon/77", "sony/1123", "x/123/9", None)
SUFFIXES = ("/123", "/77", "/1123", "/999")


def _texts(db: Database, media: list[int], seed: int) -> None:
    """OCR text on ~80 % of the items (a tenth with a second row), camera metadata on
    ~80 % (some without a camera key), a few items deleted, a fourth agency (FR-D)
    that owns nothing."""
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
            if rng.random() < 0.8:
                key = rng.choice(KEYS)
                conn.execute(
                    text(
                        "INSERT INTO media_metadata (media_id, make, model, body_serial,"
                        " camera_key, latitude, longitude, data)"
                        " VALUES (:m, :mk, 'M', :sn, :k, :lat, :lon, CAST('{}' AS json))"
                    ),
                    {
                        "m": m,
                        # around two points, one on the antimeridian; some without GPS
                        "lat": None if rng.random() < 0.1 else rng.uniform(-0.01, 0.01),
                        "lon": None
                        if rng.random() < 0.1
                        else rng.choice([0.0, 180.0, -180.0]) + rng.uniform(-0.01, 0.01),
                        "k": key,
                        "mk": key.split("/")[0] if key else None,
                        "sn": key.split("/")[1] if key else None,
                    },
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


@pytest.mark.parametrize("seed", [1, 2])
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


CAMERA_ORACLE = """
SELECT mm.media_id, mm.camera_key, mm.make, mm.model, mm.body_serial FROM media_metadata mm
  JOIN media m ON m.id = mm.media_id
 WHERE right(mm.camera_key, :len) = :k AND m.deleted_at IS NULL {after}
 ORDER BY mm.media_id {way} LIMIT :n
"""
CAMERA_FUNCTION = (
    "SELECT f.media_id, f.camera_key, f.make, f.model, f.body_serial"
    " FROM tessera_camera_search(:k, :newest, :after, :n) WITH ORDINALITY f"
    " ORDER BY f.ordinality"
)


def _camera_oracle(newest: bool, after: int) -> str:
    if not newest:
        return CAMERA_ORACLE.format(after="AND mm.media_id > :after", way="ASC")
    return CAMERA_ORACLE.format(after="AND mm.media_id < :after" if after else "", way="DESC")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_camera_function_returns_what_the_policies_returned(
    pg: tuple[Database, str], seed: int
) -> None:
    db, role = pg
    media = _world(db, seed)
    _texts(db, media, seed)
    middle = media[len(media) // 2]
    with db.engine.connect() as conn:
        for caller in CALLERS:
            for k in SUFFIXES:
                for newest in (False, True):
                    for after in (0, middle, media[-1] + 1, -1):
                        for n in (1, 5, 500):
                            args = {"k": k, "len": len(k), "newest": newest, "after": after}
                            args["n"] = n
                            sql = _camera_oracle(newest, after)
                            _as_role(conn, None, caller)
                            everything = conn.execute(text(sql), args).all()
                            by_owner = conn.execute(text(CAMERA_FUNCTION), args).all()
                            _as_role(conn, role, caller)
                            assert conn.scalar(text("SELECT row_security_active('media_metadata')"))
                            want = conn.execute(text(sql), args).all()
                            assert conn.execute(text(CAMERA_FUNCTION), args).all() == want, (
                                caller,
                                args,
                            )
                            assert by_owner == want, (caller, args)
                            if want and len(want) < len(everything):
                                CAMERA_REACHED.add("some hidden")
                            if everything and not want:
                                CAMERA_REACHED.add("all hidden")
                            if want and want != everything[: len(want)]:
                                CAMERA_REACHED.add("page shifted")
                            with Session(bind=conn) as s:
                                rows = by_camera_key(
                                    s, k, exact=False, limit=n, after_id=after, newest=newest
                                )
                            assert [
                                (r.media_id, r.camera_key, r.make, r.model, r.body_serial)
                                for r in rows
                            ] == [tuple(r) for r in want]
        conn.execute(text("RESET ROLE"))
        conn.rollback()


CAMERA_REACHED: set[str] = set()

# (lat, dlat, lon, dlon): boxes around the world's points, across the antimeridian,
# one covering every longitude, one holding nothing
BOXES = [
    (0.0, 0.005, 0.0, 0.005),
    (0.002, 0.01, 179.995, 0.01),
    (-0.003, 0.004, -179.999, 0.006),
    (0.0, 0.02, 0.0, 200.0),
    (10.0, 0.01, 10.0, 0.01),
    (0.0, 0.001, 180.0, 0.002),
]


def _boxes_oracle(
    conn: Connection, boxes: list[tuple[float, float, float, float]]
) -> list[tuple[int, int, float, float]]:
    """camera_links' policy-filtered union (one part a box), rows with both coordinates."""
    md = MediaMetadataModel
    parts = [
        select(literal(j).label("j"), md.media_id, md.latitude, md.longitude)
        .join(Media, Media.id == md.media_id)
        .where(
            Media.deleted_at.is_(None),
            md.latitude.between(lat - dlat, lat + dlat),
            lon_window(md.longitude, lon, dlon),
        )
        for j, (lat, dlat, lon, dlon) in enumerate(boxes)
    ]
    rows = conn.execute(union_all(*parts)).all()
    return sorted((int(j), int(m), a, b) for j, m, a, b in rows if a is not None and b is not None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_boxes_function_returns_what_the_policies_returned(
    pg: tuple[Database, str], seed: int
) -> None:
    """Rows without a latitude or longitude (which ``camera_links`` skips) aside."""
    db, role = pg
    media = _world(db, seed)
    _texts(db, media, seed)
    with db.engine.connect() as conn:
        for caller in CALLERS:
            _as_role(conn, None, caller)
            everything = _boxes_oracle(conn, BOXES)
            with Session(bind=conn) as s:
                by_owner = sorted(in_boxes_rls(s, BOXES))
            _as_role(conn, role, caller)
            want = _boxes_oracle(conn, BOXES)
            with Session(bind=conn) as s:
                got = sorted(in_boxes_rls(s, BOXES))
                near = near_point(s, 0.0, 180.0, radius_m=900.0)
            assert got == want, caller
            assert by_owner == want, caller
            # near_point (a media item's GPS links) through the function: the oracle's box
            # around the point, cut to the radius, nearest first
            dlat = math.degrees(900.0 / EARTH_RADIUS_M)
            box = _boxes_oracle(conn, [(0.0, dlat, 180.0, dlat)])
            ring = [(m, haversine_m((0.0, 180.0), (a, b))) for _, m, a, b in box]
            assert near == sorted(
                ((m, d) for m, d in ring if d <= 900.0), key=lambda x: (x[1], x[0])
            )
            if near:
                BOXES_REACHED.add("near")
            if want and len(want) < len(everything):
                BOXES_REACHED.add("some hidden")
            if everything and not want:
                BOXES_REACHED.add("all hidden")
            if {j for j, *_ in want} >= {0, 1, 2, 3, 5}:
                BOXES_REACHED.add("every box")
        conn.execute(text("RESET ROLE"))
        conn.rollback()


BOXES_REACHED: set[str] = set()


def test_the_worlds_reach_every_case(pg: tuple[Database, str]) -> None:
    """Runs after the seeds above: for some caller the policies hid some matches, all
    of them, and moved a page (so the comparisons covered the filter, not only its
    absence)."""
    if not REACHED:
        pytest.skip("the comparisons above did not run")
    assert {"some hidden", "all hidden", "page shifted"} == REACHED
    assert {"some hidden", "all hidden", "page shifted"} == CAMERA_REACHED
    assert {"some hidden", "all hidden", "every box", "near"} == BOXES_REACHED


@pytest.fixture
def pg_at_0027(tmp_path: Path) -> Iterator[Database]:
    yield from database_at("postgresql", tmp_path, "0027")


def _functions(db: Database) -> set[str]:
    """This schema's SECURITY DEFINER search functions, with their pinned settings."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.proname, p.proconfig FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE p.proname IN ('tessera_text_search', 'tessera_camera_search',"
                " 'tessera_metadata_in_boxes')"
                " AND n.nspname = current_schema() AND p.prosecdef"
            )
        ).all()
        schema = conn.scalar(text("SELECT current_schema()"))
    assert all(c == [f"search_path={schema}, pg_temp"] for _, c in rows), rows
    return {str(name) for name, _ in rows}


def test_migration_0031_up_and_down(pg_at_0027: Database) -> None:
    assert _functions(pg_at_0027) == set()
    migrate_to(pg_at_0027, "0031")
    assert _functions(pg_at_0027) == {
        "tessera_text_search",
        "tessera_camera_search",
        "tessera_metadata_in_boxes",
    }
    migrate_to(pg_at_0027, "down", down_to="0027")
    assert _functions(pg_at_0027) == set()


def _rules(db: Database) -> dict[str, str]:
    """Each search function's read rule: 0036's view, or 0031's per-row function call."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.proname, p.prosrc FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE p.proname IN ('tessera_text_search', 'tessera_camera_search',"
                " 'tessera_metadata_in_boxes') AND n.nspname = current_schema()"
            )
        ).all()
    return {
        str(name): ("view" if "tessera_rls_media_full" in src else "")
        + ("call" if "tessera_media_level" in src else "")
        for name, src in rows
    }


def test_migration_0039_reads_the_rule_from_the_view_and_down_restores_0031(
    pg: tuple[Database, str],
) -> None:
    db, _ = pg
    names = ("tessera_text_search", "tessera_camera_search", "tessera_metadata_in_boxes")
    assert _rules(db) == dict.fromkeys(names, "view")
    migrate_to(db, "down", down_to="0036")
    assert _rules(db) == dict.fromkeys(names, "call")
    assert _functions(db) == set(names)  # still SECURITY DEFINER with the pinned path
    migrate_to(db, "head")
    assert _rules(db) == dict.fromkeys(names, "view")
