"""``tessera_media_level`` (migration 0029, one PL/pgSQL call; 0030, the containers read
once and grants only of the containers the caller does not own) gives the level 0019's
definition gave, for every item and every caller.

The oracle is 0019's SQL text, copied here as it was and created beside the new
function in the test's schema (``oracle_media_level``): the same rule written with
the nested per-container functions. The world is random but seeded: 3 agencies in 2
countries (and an unknown code, and no caller at all), series and cases owned by each
with grants of every scope and level (or none), and 150 items each in random series
(some memberships soft-removed), sighted in random cases, imported into random
exchange entries (with a case or without), with blind links of random agencies.
PostgreSQL only (the function exists only there)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tessera.storage.db import Database

from .conftest import database_at, migrate_to, pg_schema_database

NOW = datetime(2026, 12, 6, tzinfo=UTC)
LEVELS = ("none", "hash", "status", "full")
AGENCIES = (("NL-A", "NL"), ("NL-B", "NL"), ("DE-C", "DE"))

ORACLE = """
CREATE FUNCTION oracle_media_level(p_media bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT coalesce(max(CASE WHEN own AND blind THEN least(l, 2) ELSE l END), 0) FROM (
    SELECT tessera_series_level(sm.series_id) AS l,
           coalesce(tessera_series_owner(sm.series_id) = tessera_caller_agency(), false) AS own
      FROM series_media sm WHERE sm.media_id = p_media
    UNION ALL
    SELECT tessera_case_level(g.case_id),
           coalesce(tessera_case_owner(g.case_id) = tessera_caller_agency(), false)
      FROM sighting g WHERE g.media_id = p_media
    UNION ALL
    SELECT CASE WHEN e.agency_id = tessera_caller_agency() THEN 3
                ELSE coalesce(tessera_case_level(e.case_id), 0) END,
           coalesce(e.agency_id = tessera_caller_agency(), false)
      FROM exchange_entry e WHERE e.media_id = p_media
  ) x, (SELECT EXISTS (SELECT 1 FROM blind_link b WHERE b.media_id = p_media
                         AND b.agency_id = tessera_caller_agency()) AS blind) y
$$
"""


@pytest.fixture
def pg() -> Iterator[Database]:
    yield from pg_schema_database(Database.migrate)


def _grants(conn: object, rng: random.Random, column: str, target: int) -> None:
    """Random grants on one series or case: each scope absent or at a random level."""
    for scope, grantee in (
        ("network", "*"),
        ("country", rng.choice(["NL", "DE", "FR"])),
        ("agency", rng.choice([a for a, _ in AGENCIES] + ["XX-Z"])),
    ):
        if rng.random() < 0.5:
            conn.execute(  # type: ignore[attr-defined]
                text(
                    f"INSERT INTO sharing_grant ({column}, scope, grantee, level, granted_at)"
                    " VALUES (:t, :scope, :g, :lv, :now)"
                ),
                {"t": target, "scope": scope, "g": grantee, "lv": rng.choice(LEVELS), "now": NOW},
            )


def _world(db: Database, seed: int) -> list[int]:
    rng = random.Random(seed)
    with db.engine.begin() as conn:
        ids = {}
        for n, (code, country) in enumerate(AGENCIES, 1):
            conn.execute(
                text(
                    "INSERT INTO agency (id, code, country, name, contact, created_at)"
                    " VALUES (:i, :c, :k, :c, 'x@example.org', :now)"
                ),
                {"i": n, "c": code, "k": country, "now": NOW},
            )
            ids[code] = n
        series, cases = [], []
        for i in range(12):
            owner = rng.randint(1, 3)
            sid = conn.execute(
                text(
                    "INSERT INTO series (name, agency_id, victim_identified, offender_identified,"
                    " baseline, created_at) VALUES (:n, :a, false, false, false, :now) RETURNING id"
                ),
                {"n": f"S{i}", "a": owner, "now": NOW},
            ).scalar_one()
            series.append(sid)
            _grants(conn, rng, "series_id", sid)
            cid = conn.execute(
                text(
                    "INSERT INTO cases (agency_id, number, created_at) VALUES (:a, :n, :now)"
                    " RETURNING id"
                ),
                {"a": rng.randint(1, 3), "n": f"C{i}", "now": NOW},
            ).scalar_one()
            cases.append(cid)
            _grants(conn, rng, "case_id", cid)
        media = []
        for m in range(150):
            d = hashlib.sha256(f"{seed}/{m}".encode()).digest()
            mid = conn.execute(
                text(
                    "INSERT INTO media (sha256, md5, kind, byte_size, submissions, first_seen_at,"
                    " has_content) VALUES (:h, :m, 'image', 1, 1, :now, true) RETURNING id"
                ),
                {"h": d, "m": d[:16], "now": NOW},
            ).scalar_one()
            media.append(mid)
            for sid in rng.sample(series, rng.choice([0, 0, 1, 1, 2, 3])):
                conn.execute(
                    text(
                        "INSERT INTO series_media (series_id, media_id, deleted_at)"
                        " VALUES (:s, :m, :d)"
                    ),
                    {"s": sid, "m": mid, "d": NOW if rng.random() < 0.2 else None},
                )
            for n, cid in enumerate(rng.sample(cases, rng.choice([0, 1, 1, 2]))):
                conn.execute(
                    text(
                        "INSERT INTO sighting (media_id, case_id, agency_id, original_path,"
                        " seen_at) VALUES (:m, :c, (SELECT agency_id FROM cases WHERE id = :c),"
                        " :p, :now)"
                    ),
                    {"m": mid, "c": cid, "p": f"/e/{m}/{n}", "now": NOW},
                )
            for agency in rng.sample([1, 2, 3], rng.choice([0, 0, 1, 2])):
                conn.execute(
                    text(
                        "INSERT INTO exchange_entry (media_id, agency_id, case_id, source_format,"
                        " data, updated_at) VALUES (:m, :a, :c, 'vics', '{}', :now)"
                    ),
                    {"m": mid, "a": agency, "c": rng.choice([None, *cases]), "now": NOW},
                )
            for agency in rng.sample([1, 2, 3], rng.choice([0, 0, 0, 1, 2])):
                conn.execute(
                    text("INSERT INTO blind_link (media_id, agency_id) VALUES (:m, :a)"),
                    {"m": mid, "a": agency},
                )
        conn.execute(text(ORACLE))
    return media


# what 0030 decides on its own: an item whose containers are not the caller's reaches
# each level through grants; the caller's own one under a blind link counts as status
# (or more through another container); another agency's entry in the caller's case is
# full however the item is linked
BRANCHES = """
SELECT m.id,
  EXISTS (SELECT 1 FROM blind_link b JOIN agency a ON a.id = b.agency_id
           WHERE b.media_id = m.id AND a.code = :c) AS blind,
  EXISTS (SELECT 1 FROM series_media sm JOIN series s ON s.id = sm.series_id
           JOIN agency a ON a.id = s.agency_id WHERE sm.media_id = m.id AND a.code = :c)
  OR EXISTS (SELECT 1 FROM sighting g JOIN cases k ON k.id = g.case_id
           JOIN agency a ON a.id = k.agency_id WHERE g.media_id = m.id AND a.code = :c)
  OR EXISTS (SELECT 1 FROM exchange_entry e JOIN agency a ON a.id = e.agency_id
           WHERE e.media_id = m.id AND a.code = :c) AS own,
  EXISTS (SELECT 1 FROM exchange_entry e JOIN cases k ON k.id = e.case_id
           JOIN agency a ON a.id = k.agency_id
           WHERE e.media_id = m.id AND a.code = :c AND e.agency_id <> a.id) AS top
FROM media m WHERE m.id = ANY(:ids)
"""


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_one_call_gives_the_level_the_nested_functions_gave(pg: Database, seed: int) -> None:
    media = _world(pg, seed)
    seen_levels: set[int] = set()
    cases: set[tuple[str, int]] = set()
    with pg.engine.connect() as conn:
        for caller in [*(a for a, _ in AGENCIES), "XX-Z", ""]:
            conn.execute(text("SELECT set_config('tessera.agency', :c, false)"), {"c": caller})
            rows = conn.execute(
                text(
                    "SELECT id, tessera_media_level(id), oracle_media_level(id)"
                    " FROM media WHERE id = ANY(:ids) ORDER BY id"
                ),
                {"ids": media},
            ).all()
            assert len(rows) == len(media)
            wrong = [(m, new, old) for m, new, old in rows if new != old]
            assert not wrong, (caller, wrong[:10])
            seen_levels.update(old for _, _, old in rows)
            level = {m: old for m, _, old in rows}
            for m, blind, own, top in conn.execute(text(BRANCHES), {"c": caller, "ids": media}):
                if top:
                    cases.add(("top", level[m]))
                elif own:
                    cases.add(("own blind" if blind else "own", level[m]))
                else:
                    cases.add(("others", level[m]))
    assert seen_levels == {0, 1, 2, 3}  # the world reaches every level
    # and every way 0030 reaches one (seeds 1-5 together reach all of them)
    REACHED.update(cases)


REACHED: set[tuple[str, int]] = set()


def test_the_worlds_reach_every_branch_of_0030(pg: Database) -> None:
    """Runs after the seeds above (file order): their worlds together went through every
    branch of 0030's function, so the comparison covered each."""
    if not REACHED:
        pytest.skip("the comparisons above did not run")
    want = {("others", lv) for lv in range(4)} | {("own", 3), ("own blind", 2), ("top", 3)}
    assert want <= REACHED, sorted(want - REACHED)


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0028(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_at(request.param, tmp_path, "0028")


def _schema(db: Database) -> tuple[set[str], str | None]:
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("media_metadata")}
    if db.dialect != "postgresql":
        return indexes, None
    with db.engine.connect() as conn:
        lang = conn.scalar(
            text(
                "SELECT l.lanname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " JOIN pg_language l ON l.oid = p.prolang"
                " WHERE p.proname = 'tessera_media_level' AND n.nspname = current_schema()"
            )
        )
    return indexes, str(lang)


def test_migration_0029_up_and_down(at_0028: Database) -> None:
    pg = at_0028.dialect == "postgresql"
    indexes, lang = _schema(at_0028)
    assert "ix_media_metadata_camera_key" in indexes and lang == ("sql" if pg else None)
    migrate_to(at_0028, "0029")
    indexes, lang = _schema(at_0028)
    assert "ix_media_metadata_camera_key" not in indexes
    assert "ix_media_metadata_camera_key_media_id" in indexes
    assert lang == ("plpgsql" if pg else None)
    migrate_to(at_0028, "down", down_to="0028")
    indexes, lang = _schema(at_0028)
    assert "ix_media_metadata_camera_key" in indexes
    assert "ix_media_metadata_camera_key_media_id" not in indexes
    assert lang == ("sql" if pg else None)


def _source(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(
            conn.scalar(
                text(
                    "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE p.proname = 'tessera_media_level' AND n.nspname = current_schema()"
                )
            )
        )


@pytest.fixture
def pg_at_0026(tmp_path: Path) -> Iterator[Database]:
    yield from database_at("postgresql", tmp_path, "0026")


FULL_ONLY = ("marker", "media_location", "media_metadata", "media_text")


def _full_only_rules(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tablename, qual FROM pg_policies WHERE schemaname = current_schema()"
                " AND policyname = 'tessera_read' AND tablename = ANY(:t)"
            ),
            {"t": list(FULL_ONLY)},
        ).all()
    return {str(t): " ".join(str(q).split()) for t, q in rows}


def test_migration_0030_up_and_down(pg_at_0026: Database) -> None:
    old = {t: "(tessera_media_level(media_id) = 3)" for t in FULL_ONLY}
    new = {t: "(tessera_media_level(media_id) >= 3)" for t in FULL_ONLY}
    assert "v_own" not in _source(pg_at_0026)
    assert _full_only_rules(pg_at_0026) == old
    migrate_to(pg_at_0026, "0030")
    assert "v_own" in _source(pg_at_0026) and "LIMIT 1" not in _source(pg_at_0026)
    # the same rows (levels are 0..3): a third of rows for the planner, not 1 in 200
    assert _full_only_rules(pg_at_0026) == new
    migrate_to(pg_at_0026, "down", down_to="0026")
    assert "v_own" not in _source(pg_at_0026) and "LIMIT 1" in _source(pg_at_0026)
    assert _full_only_rules(pg_at_0026) == old
