"""Looking at, changing and removing stored data: the same answers on SQLite and PostgreSQL.

Removals are soft: rows stay (recoverable) with who and when, and every read path
(exact lookup, index feeds, series status, stats, lists) leaves them out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.ingest.writer import write_batch
from tessera.matching.pdq_store import PdqStore
from tessera.storage import cases_agencies, media_queries, repo, runs, series_changes
from tessera.storage.db import Database
from tessera.storage.exchange import export as export_store
from tessera.storage.models import IngestRun, Media, Series, Sighting, series_media
from tests.storage.test_repo_contract import _file, _run

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "0" * 63 + "1"
PDQ_C = "ff" * 32


def _sha(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def _setup(db: Database) -> tuple[int, int]:
    """NL ingests a and b into series Amber (run 1); DE then ingests b and c (run 2)."""
    with db.session() as s:
        nl = repo.create_agency(s, "NL", "NL", "nl", "nl@example.org")
        repo.create_agency(s, "DE", "DE", "de")
        repo.create_series(s, "Amber", nl)
    r1 = _run(db, "NL", "c1", "Amber")
    with db.session() as s:
        write_batch(
            s,
            s.get(IngestRun, r1),
            [_file("/nl/a.jpg", b"a", PDQ_A), _file("/nl/b.jpg", b"b", PDQ_B)],
        )
    r2 = _run(db, "DE", "c9")
    with db.session() as s:
        write_batch(
            s,
            s.get(IngestRun, r2),
            [_file("/de/b.jpg", b"b", PDQ_B), _file("/de/c.jpg", b"c", PDQ_C)],
        )
    return r1, r2


def _media_id(db: Database, content: bytes) -> int:
    with db.session() as s:
        return s.scalars(select(Media.id).where(Media.sha256 == _sha(content))).one()


def test_undo_removes_what_the_run_added_and_nothing_else(db: Database) -> None:
    r1, r2 = _setup(db)
    a, b, c = (_media_id(db, x) for x in (b"a", b"b", b"c"))
    with db.session() as s:
        pdq_a = [fid for fid, mid, *_ in repo.fingerprints_after(s, "pdq", 0) if mid == a]
        out = runs.undo_run(s, r1, "local:alice")
    assert out.sightings_removed == 2
    assert out.media_removed == (a,)  # b is still seen by DE's run
    assert list(out.pdq_ids) == pdq_a
    with db.session() as s:
        # every read path forgets a; b and c stay, b now submitted by DE only
        assert repo.media_by_digest(s, "sha256", [_sha(b"a")]) == {}
        assert set(repo.media_by_digest(s, "sha256", [_sha(b"b"), _sha(b"c")])) == {
            _sha(b"b"),
            _sha(b"c"),
        }
        assert {m for _, m, *_ in repo.fingerprints_after(s, "pdq", 0)} == {b, c}
        assert s.get(Media, b).submissions == 1  # type: ignore[union-attr]
        st = repo.stats(s)
        assert (st.media, st.sightings) == (2, 2)
        assert st.per_agency["NL"]["sightings"] == 0 and st.per_agency["DE"]["media"] == 2
        assert repo.series_status(s, repo.get_series(s, "Amber")).media_count == 1  # b only
        with pytest.raises(NotFound):
            repo.media_by_id(s, a)
        # nothing was dropped: the rows carry who and when
        gone = s.get(Media, a)
        assert gone is not None and gone.deleted_by == "local:alice" and gone.deleted_at
        assert s.scalar(select(func.count()).select_from(Sighting)) == 4
        info = {r.id: r for r in runs.list_runs(s)}
        assert info[r1].state == "undone" and info[r1].undone_by == "local:alice"
        assert info[r1].counts["sightings"] == 0 and info[r1].counts["new"] == 2
        assert info[r2].state == "finished" or info[r2].state == "unfinished"
        assert info[r2].counts == {
            "new": 1,
            "known": 1,
            "error": 0,
            "skipped": 0,
            "files": 2,
            "sightings": 2,
        }
    with pytest.raises(Conflict), db.session() as s:
        runs.undo_run(s, r1, "local:alice")
    with pytest.raises(NotFound), db.session() as s:
        runs.undo_run(s, 999, "local:alice")


def test_reingest_after_undo_brings_media_back_with_fresh_fingerprint_rows(db: Database) -> None:
    r1, _ = _setup(db)
    a = _media_id(db, b"a")
    with db.session() as s:
        out = runs.undo_run(s, r1, "op")
        old_max = repo.max_fingerprint_id(s, "pdq")
    r3 = _run(db, "NL", "c1", "Amber")
    with db.session() as s:
        run = s.get(IngestRun, r3)
        assert run is not None and r3 != r1  # the undone run is closed, never resumed
        batch = write_batch(s, run, [_file("/nl/a.jpg", b"a", PDQ_A)])
    assert batch.statuses == {"/nl/a.jpg": "new"}
    assert [row[1] for row in batch.new_pdq] == [a]
    assert batch.new_pdq[0][0] > old_max and batch.new_pdq[0][0] not in out.pdq_ids
    with db.session() as s:
        assert _sha(b"a") in repo.media_by_digest(s, "sha256", [_sha(b"a")])
        assert s.get(Media, a).submissions == 1  # type: ignore[union-attr]
        # the same path in the same case: the removed sighting comes back, now run 3's
        assert [(x.original_path, x.run_id) for x in repo.sightings_of(s, a)] == [("/nl/a.jpg", r3)]
        counts = {r.id: r.counts["sightings"] for r in runs.list_runs(s)}
        assert counts[r3] == 1 and counts[r1] == 0


def test_undo_keeps_media_known_before_the_run(db: Database) -> None:
    """A run that only re-saw stored media removes its sightings, never the media."""
    _, r2 = _setup(db)
    with db.session() as s:
        out = runs.undo_run(s, r2, "op")
    assert out.media_removed == (_media_id(db, b"c"),)  # b was NL's before DE saw it
    with db.session() as s:
        b = s.get(Media, _media_id(db, b"b"))
        assert b is not None and b.deleted_at is None and b.submissions == 1


def test_series_edit_rename_and_conflicts(db: Database) -> None:
    _setup(db)
    with db.session() as s:
        nl = repo.get_agency(s, "NL")
        repo.create_series(s, "Coral", nl)
        amber = repo.get_series(s, "Amber")
        changed = series_changes.edit_series(
            s,
            amber,
            series_changes.SeriesEdit(rename="Amber 2", notes="n", category=2, baseline=True),
        )
        assert changed == ["name", "notes", "category", "baseline"]
    with db.session() as s:
        st = repo.series_status(s, repo.get_series(s, "Amber 2"))
        assert st.baseline and st.category == 2 and st.media_count == 2
        with pytest.raises(NotFound):
            repo.get_series(s, "Amber")
    for bad, error in (
        (series_changes.SeriesEdit(rename="Coral"), Conflict),
        (series_changes.SeriesEdit(rename=" "), InvalidInput),
        (series_changes.SeriesEdit(category=-1), InvalidInput),
        (series_changes.SeriesEdit(), InvalidInput),
    ):
        with pytest.raises(error), db.session() as s:
            series_changes.edit_series(s, repo.get_series(s, "Amber 2"), bad)
    with db.session() as s:
        assert repo.get_series(s, "Amber 2").notes == "n"  # failed edits changed nothing


def test_remove_media_from_series_is_soft_and_checked(db: Database) -> None:
    _setup(db)
    a, b, c = (_media_id(db, x) for x in (b"a", b"b", b"c"))
    with pytest.raises(NotFound), db.session() as s:
        series_changes.remove_media(s, repo.get_series(s, "Amber"), [a, c], "op")  # c: no member
    with db.session() as s:
        amber = repo.get_series(s, "Amber")
        assert series_changes.remove_media(s, amber, [a], "op") == [a]
    with db.session() as s:
        amber = repo.get_series(s, "Amber")
        assert repo.series_status(s, amber).media_count == 1
        assert repo.series_of_media(s, [a, b]) == {b: [amber.id]}
        page = media_queries.list_media(s, series_id=amber.id)
        assert [m.id for m in page.items] == [b]
        row = s.execute(select(series_media).where(series_media.c.media_id == a)).one()
        assert row.deleted_by == "op" and row.deleted_at is not None
        assert repo.link(s, "series", amber.id, "media", a) is True  # linked again: back
    with db.session() as s:
        assert repo.series_status(s, repo.get_series(s, "Amber")).media_count == 2


def test_series_delete_hides_it_everywhere_and_restore_brings_it_back(db: Database) -> None:
    _setup(db)
    a = _media_id(db, b"a")
    with db.session() as s:
        series_changes.delete_series(s, repo.get_series(s, "Amber"), "local:bob")
    with db.session() as s:
        with pytest.raises(NotFound):
            repo.get_series(s, "Amber")
        assert [x.name for x in repo.list_series(s)] == []
        assert repo.series_of_media(s, [a]) == {}
        assert repo.stats(s).series == 0
        assert media_queries.media_detail(s, repo.media_by_id(s, a)).media.series == ()
        row = s.scalars(select(Series)).one()
        assert row.deleted_by == "local:bob"
    with pytest.raises(Conflict), db.session() as s:
        repo.create_series(s, "Amber", repo.get_agency(s, "NL"))  # the name stays reserved
    with db.session() as s:
        series_changes.restore_series(s, "Amber")
    with db.session() as s:
        assert repo.series_status(s, repo.get_series(s, "Amber")).media_count == 2


def test_resolve_and_show_media(db: Database) -> None:
    _setup(db)
    b = _media_id(db, b"b")
    with db.session() as s:
        for ref in (
            str(b),
            hashlib.sha256(b"b").hexdigest(),
            hashlib.md5(b"b").hexdigest().upper(),
            hashlib.sha1(b"b").hexdigest(),
        ):
            assert media_queries.resolve_media(s, ref).id == b
        for ref, error in (("999", NotFound), ("zz", InvalidInput), ("ab" * 16, NotFound)):
            with pytest.raises(error):
                media_queries.resolve_media(s, ref)
        d = media_queries.media_detail(s, media_queries.resolve_media(s, str(b)))
    assert d.media.sha256 == hashlib.sha256(b"b").hexdigest() and d.media.series == ("Amber",)
    assert [(x.agency_code, x.case_number, x.original_path) for x in d.sightings] == [
        ("NL", "c1", "/nl/b.jpg"),
        ("DE", "c9", "/de/b.jpg"),
    ]
    assert [(f.algorithm, f.value) for f in d.fingerprints] == [("pdq", PDQ_B)]
    assert d.media.submissions == 2


def test_list_media_filters_and_pages_in_sql(db: Database) -> None:
    _setup(db)
    a, b, c = (_media_id(db, x) for x in (b"a", b"b", b"c"))
    with db.session() as s:
        first = media_queries.list_media(s, limit=2)
        assert [m.id for m in first.items] == sorted([a, b, c])[:2] and first.next_after
        rest = media_queries.list_media(s, limit=2, after_id=first.next_after)
        assert [m.id for m in rest.items] == sorted([a, b, c])[2:] and rest.next_after is None
        de = repo.get_agency(s, "DE")
        assert [m.id for m in media_queries.list_media(s, agency_id=de.id).items] == [b, c]
        c1 = cases_agencies.find_case(s, "c1")
        assert [m.id for m in media_queries.list_media(s, case_ids=[c1.id]).items] == [a, b]
        for bad in ({"limit": 0}, {"limit": 100_000}, {"after_id": -1}):
            with pytest.raises(InvalidInput):
                media_queries.list_media(s, **bad)  # type: ignore[arg-type]


def test_cases_and_agencies_show_edit_list(db: Database) -> None:
    _setup(db)
    with db.session() as s:
        repo.get_or_create_case(s, repo.get_agency(s, "DE"), "c1")  # same number, other agency
    with db.session() as s:
        with pytest.raises(InvalidInput):
            cases_agencies.find_case(s, "c1")  # ambiguous without the agency
        with pytest.raises(NotFound):
            cases_agencies.find_case(s, "nope")
        case = cases_agencies.find_case(s, "c1", "NL")
        assert cases_agencies.edit_case(s, case, title="Op. Amber", number="c1-2026") == [
            "number",
            "title",
        ]
        with pytest.raises(Conflict):
            cases_agencies.edit_case(s, cases_agencies.find_case(s, "c9"), number="c1")  # DE's
        infos = {(i.agency_code, i.number): i for i in cases_agencies.list_cases(s)}
        nl_case = infos[("NL", "c1-2026")]
        assert (nl_case.title, nl_case.sightings, nl_case.media, len(nl_case.runs)) == (
            "Op. Amber",
            2,
            2,
            1,
        )
        assert [i.number for i in cases_agencies.list_cases(s, "DE")] == ["c1", "c9"]
        nl = repo.get_agency(s, "NL")
        assert cases_agencies.edit_agency(s, nl, name="Dutch VIT", contact="", country="be") == [
            "name",
            "contact",
            "country",
        ]
        info = cases_agencies.agency_info(s, nl)
        assert (info.name, info.contact, info.country) == ("Dutch VIT", None, "BE")
        assert (info.series, info.cases, info.sightings, info.media) == (1, 1, 2, 2)
        with pytest.raises(InvalidInput):
            cases_agencies.edit_agency(s, nl, country="Belgium")
        with pytest.raises(InvalidInput):
            cases_agencies.edit_agency(s, nl)


def test_exports_leave_removed_media_and_memberships_out(db: Database) -> None:
    r1, _ = _setup(db)
    _, b, c = (_media_id(db, x) for x in (b"a", b"b", b"c"))
    with db.session() as s:
        amber = repo.get_series(s, "Amber")
        series_changes.remove_media(s, amber, [b], "op")
        runs.undo_run(s, r1, "op")  # a goes; b stays (DE saw it)
    with db.session() as s:
        nl = repo.get_agency(s, "NL")
        assert list(s.scalars(export_store.select_media())) == [b, c]
        assert list(s.scalars(export_store.select_media(series_id=amber.id))) == []
        assert list(s.scalars(export_store.select_media(agency_id=nl.id))) == []
        c1 = cases_agencies.find_case(s, "c1")
        assert list(s.scalars(export_store.select_media(case_id=c1.id))) == []


def test_pdq_search_skips_removed_media_even_before_the_index_drops_them(
    db: Database, tmp_path: Path
) -> None:
    """Undo commits first and the index drops entries after: a crash in between must
    not bring removed media back, so search itself skips rows of removed media."""
    r1, _ = _setup(db)
    a, b = _media_id(db, b"a"), _media_id(db, b"b")
    store = PdqStore(db, tmp_path / "index")
    query = np.frombuffer(bytes.fromhex(PDQ_A) + bytes.fromhex(PDQ_B), dtype=np.uint8)
    codes = query.reshape(-1, 32)
    assert {h.media_id for h in store.search(codes, radius=0)} == {a, b}
    with db.session() as s:
        out = runs.undo_run(s, r1, "op")
    assert {h.media_id for h in store.search(codes, radius=0)} == {b}  # index still holds a
    assert store.remove(list(out.pdq_ids)) == 1
    reopened = PdqStore(db, tmp_path / "index")
    assert len(reopened.index) == 2 and reopened.rebuild() == 2  # b and c
