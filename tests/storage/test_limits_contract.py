"""Defect 8 (issue 10): the same length limits on SQLite and PostgreSQL, checked first.

On main, an agency name over 200 (the issue saw 255) or a series name over 200
characters was stored by SQLite and an internal error (``DataError``, exit 70) on
PostgreSQL. Each limit now refuses the same value on both backends as
``InvalidInput`` before any SQL, and the longest allowed value is stored by both.
"""

from __future__ import annotations

import pytest

from tessera.errors import InvalidInput
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.limits import MAX_PATH_BYTES, check_path


def test_agency_name_limit_is_the_same_on_both_backends(db: Database) -> None:
    with db.session() as s:
        repo.create_agency(s, "OK1", "NL", "n" * 200)
    with pytest.raises(InvalidInput) as info, db.session() as s:
        repo.create_agency(s, "LONG", "NL", "n" * 256)
    assert "agency name" in info.value.message and "200" in info.value.message


def test_series_name_and_case_number_limits(db: Database) -> None:
    with db.session() as s:
        agency = repo.create_agency(s, "A1", "NL", "unit")
        repo.create_series(s, "s" * 200, agency)
        repo.get_or_create_case(s, agency, "c" * 100)
    for make in (
        lambda s, a: repo.create_series(s, "s" * 201, a),
        lambda s, a: repo.get_or_create_case(s, a, "c" * 101),
        lambda s, a: repo.get_or_create_victim(s, "v" * 101),
    ):
        with pytest.raises(InvalidInput), db.session() as s:
            make(s, repo.get_agency(s, "A1"))


def test_path_limit() -> None:
    check_path("a" * MAX_PATH_BYTES)
    with pytest.raises(InvalidInput) as info:
        check_path("é" * (MAX_PATH_BYTES // 2 + 1))  # counted in UTF-8 bytes
    assert info.value.reason == "path-too-long"


def test_country_codes_must_be_assigned_iso_3166(db: Database) -> None:
    """Defect 15: ``--country XX`` was accepted (any two letters)."""
    with db.session() as s:
        assert repo.create_agency(s, "BE1", "be", "Belgian unit").country == "BE"
    for bad in ("XX", "ZZ", "Netherlands", "N1"):
        with pytest.raises(InvalidInput), db.session() as s:
            repo.create_agency(s, f"C{len(bad)}{bad[:1]}", bad, "unit")


def test_names_refuse_line_breaks_and_escapes_and_categories_are_bounded(db: Database) -> None:
    """Defect 15: newlines in names and negative categories were accepted."""
    with db.session() as s:
        repo.create_agency(s, "A2", "NL", "unit")
    for name in ("two\nlines", "esc\x1b[31m", "bidi\u202e"):
        with pytest.raises(InvalidInput), db.session() as s:
            repo.create_series(s, name, repo.get_agency(s, "A2"))
        with pytest.raises(InvalidInput), db.session() as s:
            repo.create_agency(s, "A3", "NL", name)
    with pytest.raises(InvalidInput), db.session() as s:
        repo.create_series(s, "negative", repo.get_agency(s, "A2"), category=-1)
    with db.session() as s:
        made = repo.create_series(s, "ok", agency=repo.get_agency(s, "A2"), category=2)
        assert made.category == 2


def test_hostile_member_name_is_stored_shortened_on_both_backends(db: Database) -> None:
    """Defect 8: a 20,000-character archive member name was an internal error on
    PostgreSQL (index row too large), losing the batch. It is now stored under a
    shortened key on both backends, its file kept, and a re-run of the same batch
    (resume) adds nothing."""
    from sqlalchemy import func, select

    from tessera.ingest.writer import write_batch
    from tessera.storage.models import IngestItem, IngestRun, Media, Sighting
    from tests.storage.test_repo_contract import _file

    long_a = "seizure.zip!/" + "a" * 20_000 + "/x.jpg"
    long_b = "seizure.zip!/" + "a" * 20_000 + "/y.jpg"  # same start, other file
    with db.session() as s:
        agency = repo.create_agency(s, "HN", "NL", "unit")
        case = repo.get_or_create_case(s, agency, "c1")
        run = IngestRun(agency_id=agency.id, case_id=case.id, root="/e")
        s.add(run)
        s.flush()
        batch = [_file(long_a, b"one"), _file(long_b, b"two"), _file("/e/short.jpg", b"three")]
        out = write_batch(s, run, batch)
        assert out.statuses == {long_a: "new", long_b: "new", "/e/short.jpg": "new"}
        again = write_batch(s, run, batch)  # a resumed run meets the same paths
        assert again.statuses == {}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 3
        paths = s.scalars(select(Sighting.original_path)).all()
        items = s.scalars(select(IngestItem.path)).all()
    assert len(paths) == 3 and len(items) == 3 and "/e/short.jpg" in paths
    for p in paths:
        assert len(p.encode()) <= MAX_PATH_BYTES
    assert sum("-byte name, sha256 " in p for p in paths) == 2  # apart, though one start
