"""Import and export use cases on SQLite and PostgreSQL: all or nothing, idempotent,
updates applied, hash-only media found by whichever digest they carry, round trips."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.app import App, Caller
from tessera.app import exchange as ex
from tessera.errors import InvalidRecord
from tessera.storage import repo
from tessera.storage.models import (
    AuditEntry,
    Case,
    ExchangeEntry,
    FingerprintModel,
    Media,
    Series,
    Sighting,
)

MD5_A = "0123456789abcdef0123456789abcdef"
SHA1_A = "00112233445566778899aabbccddeeff00112233"
MD5_B = "fedcba9876543210fedcba9876543210"
PDQ_C = "f" * 16 + "0" * 48


def _vics(path: Path, *, victim: str = "false", bad_md5: bool = False) -> Path:
    doc = {
        "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
        "value": [
            {
                "MediaID": 1,
                "Category": 1,
                "MD5": MD5_A.upper(),
                "SHA1": SHA1_A.upper(),
                "VictimIdentified": victim,
                "Series": "Amber",
                "Tags": "poster, bed",
                "AlternativeHashes": [{"HashName": "PhotoDNA", "HashValue": "AQIDBA=="}],
                "MediaFiles": [{"FileName": "a.jpg", "Deleted": "false"}],
            },
            {"MediaID": 2, "MD5": MD5_B, "IsDistributed": "true", "MimeType": "video/mp4"},
            {"MediaID": 3, "MD5": "XYZ" if bad_md5 else MD5_B.replace("f", "e")},
        ],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def agency(app: App, caller: Caller) -> str:
    with app.transaction() as s:
        repo.create_agency(s, "NL-NPU", "NL", "VIT")
    return "NL-NPU"


def _count(app: App, model: type) -> int:
    with app.transaction() as s:
        return s.query(model).count()


def test_import_hash_only_media_found_by_md5_and_sha1(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    r = ex.import_file(app, caller, "vics", _vics(tmp_path / "a.json"), agency_code=agency)
    assert (r.records, r.new_media, r.new_entries) == (3, 3, 3)
    assert r.series_created == ("Amber",)
    with app.transaction() as s:
        (entry,) = [e for e in s.query(AuditEntry) if e.action == "exchange.import"]
        assert entry.result_count == 3 and entry.target == "file:a.json"
    with app.transaction() as s:
        by_md5 = repo.media_by_digest(s, "md5", [bytes.fromhex(MD5_A)])
        by_sha1 = repo.media_by_digest(s, "sha1", [bytes.fromhex(SHA1_A)])
        m = by_md5[bytes.fromhex(MD5_A)]
        assert by_sha1[bytes.fromhex(SHA1_A)].id == m.id
        assert m.sha256 is None and m.has_content is False
        fp = s.query(FingerprintModel).filter_by(media_id=m.id, algorithm="photodna").one()
        assert fp.value == b"AQIDBA=="
        video = repo.media_by_digest(s, "md5", [bytes.fromhex(MD5_B)])[bytes.fromhex(MD5_B)]
        assert video.kind == "video"


def test_reimport_is_idempotent_and_update_applies(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    path = _vics(tmp_path / "a.json")
    ex.import_file(app, caller, "vics", path, agency_code=agency, case="2026-7")
    again = ex.import_file(app, caller, "vics", path, agency_code=agency, case="2026-7")
    assert (again.new_media, again.new_entries, again.updated_entries) == (0, 0, 0)
    assert again.unchanged_entries == 3
    assert _count(app, Media) == 3 and _count(app, ExchangeEntry) == 3
    with app.transaction() as s:
        assert not repo.get_series(s, "Amber").victim_identified
    updated = ex.import_file(
        app, caller, "vics", _vics(tmp_path / "b.json", victim="true"), agency_code=agency
    )
    assert updated.updated_entries == 1 and updated.series_updated == ("Amber",)
    with app.transaction() as s:
        series = repo.get_series(s, "Amber")
        assert series.victim_identified
        assert repo.series_status(s, series).victim_identified_by == agency


def test_bad_record_rejects_the_whole_file(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    path = _vics(tmp_path / "bad.json", bad_md5=True)
    with pytest.raises(InvalidRecord) as err:
        ex.import_file(app, caller, "vics", path, agency_code=agency, batch_size=1)
    assert err.value.record == 3 and err.value.field == "MD5"
    assert "record 3" in str(err.value)
    # batches 1 and 2 had been applied inside the transaction: all rolled back
    assert _count(app, Media) == 0 and _count(app, Series) == 0


def test_contradicting_digest_is_rejected(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    ex.import_file(app, caller, "vics", _vics(tmp_path / "a.json"), agency_code=agency)
    bad = tmp_path / "c.csv"
    bad.write_text(
        f"MD5;SHA1;PhotoDNA\n{MD5_B};;\n{MD5_A};{'9' * 40};\n"  # MD5 of one item, SHA1 not its own
    )
    with pytest.raises(InvalidRecord) as err:
        ex.import_file(app, caller, "icse-csv", bad, agency_code=agency)
    assert err.value.record == 2 and err.value.field == "SHA1"


def test_round_trip_every_format(app: App, caller: Caller, agency: str, tmp_path: Path) -> None:
    """import -> export -> import into a fresh agency gives the same export again."""
    ex.import_file(app, caller, "vics", _vics(tmp_path / "a.json"), agency_code=agency)
    pdq = tmp_path / "p.txt"
    pdq.write_text(f"pdq {PDQ_C}\nnetclean q1w2e3\n")
    ex.import_file(app, caller, "hashlist", pdq, agency_code=agency)
    for fmt in ("vics", "icse-csv", "hashlist", "te-csv", "bundle"):
        first = io.StringIO()
        ex.export(app, caller, fmt, first)
        out = tmp_path / f"out.{fmt}"
        out.write_text(first.getvalue())
        r = ex.import_file(app, caller, fmt, out, agency_code=agency)
        assert r.new_media == 0, fmt  # everything matched what is stored
        second = io.StringIO()
        ex.export(app, caller, fmt, second)
        strip = _strip_volatile if fmt == "bundle" else (lambda t: t)
        assert strip(second.getvalue()) == strip(first.getvalue()), fmt


def _strip_volatile(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[1:-1])  # header has created_at; manifest covers it


def test_export_selects_by_series_and_agency(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    ex.import_file(app, caller, "vics", _vics(tmp_path / "a.json"), agency_code=agency)
    out = io.StringIO()
    r = ex.export(app, caller, "hashlist", out, series="Amber", hash_type="md5")
    assert r.records == 1 and out.getvalue() == MD5_A + "\n"
    assert ex.export(app, caller, "hashlist", io.StringIO(), agency=agency).records == 3


def test_ncmec_deletion_withdraws_hash_only_media(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    first = tmp_path / "n1.xml"
    first.write_text(
        '<?xml version="1.0"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        '<images count="1" maxTimestamp="2017-10-24T15:10:00Z"><image>'
        '<member id="42">M</member><id>image1</id><classification>A1</classification>'
        f"<fingerprints><md5>{MD5_A}</md5><pdq>{PDQ_C}</pdq></fingerprints></image></images>"
        "</queryResult>"
    )
    second = tmp_path / "n2.xml"
    second.write_text(
        '<queryResult><images count="1" maxTimestamp="2017-10-24T15:10:00Z">'
        '<deletedImage><member id="42">M</member><id>image1</id></deletedImage>'
        "</images></queryResult>"
    )
    ex.import_file(app, caller, "ncmec-xml", first, agency_code=agency)
    assert _count(app, Media) == 1
    r = ex.import_file(app, caller, "ncmec-xml", second, agency_code=agency)
    assert r.deleted_entries == 1
    assert _count(app, Media) == 0 and _count(app, FingerprintModel) == 0


def test_vics_cases_become_the_agency_cases(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    """Without --case, a #Cases file's CaseNumbers are the cases its media are seen in."""
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/"
        "US/$metadata#Cases",
        "value": [
            {"CaseNumber": "K-1", "Media": [{"MediaID": 1, "MD5": MD5_A}]},
            {"CaseNumber": "K-2", "Media": [{"MediaID": 2, "MD5": MD5_A}, {"MD5": MD5_B}]},
        ],
    }
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(doc))
    ex.import_file(app, caller, "vics", path, agency_code=agency)
    again = ex.import_file(app, caller, "vics", path, agency_code=agency)
    assert again.new_media == 0
    with app.transaction() as s:
        rows = {
            (c.number, sg.original_path)
            for sg, c in s.query(Sighting, Case).join(Case, Case.id == Sighting.case_id)
        }
        assert rows == {("K-1", "vics:1"), ("K-2", "vics:2"), ("K-2", "vics:3")}
        media = repo.media_by_digest(s, "md5", [bytes.fromhex(MD5_A)])[bytes.fromhex(MD5_A)]
        assert media.submissions == 1  # one agency, however many of its cases


def test_vics_cases_round_trip(app: App, caller: Caller, agency: str, tmp_path: Path) -> None:
    """#Cases in -> #Cases out -> in again: every record keeps its case, hashes and
    category; importing the export adds nothing and the second export is the first."""
    from tessera.exchange import vics

    golden = Path(__file__).parents[1] / "exchange" / "golden" / "vics_2_0_us_cases.json"
    with golden.open("rb") as f:
        source = list(vics.read(f))
    r = ex.import_file(app, caller, "vics", golden, agency_code=agency)
    assert r.records == 3
    first = io.StringIO()
    assert ex.export(app, caller, "vics", first, vics_root="Cases").records == 3
    out = tmp_path / "cases.json"
    out.write_text(first.getvalue())
    with out.open("rb") as f:
        assert vics.read_header(f).root == "Cases"
        back = list(vics.read(f))

    def key(x: object) -> tuple[object, ...]:
        return tuple(getattr(x, k) for k in ("md5", "sha1", "photodna", "category", "case_ref"))

    assert sorted(map(key, back), key=str) == sorted(map(key, source), key=str)
    assert {x.case_ref for x in back} == {"2026-0042", "2026-0043"}
    again = ex.import_file(app, caller, "vics", out, agency_code=agency)
    # MediaID is file-local (written as the position): only the source ids change
    assert (again.new_media, again.new_entries) == (0, 0)
    third = ex.import_file(app, caller, "vics", out, agency_code=agency)
    assert (third.updated_entries, third.unchanged_entries) == (0, 3)
    second = io.StringIO()
    ex.export(app, caller, "vics", second, vics_root="Cases")
    assert second.getvalue() == first.getvalue()


def _hashlist(path: Path, n: int, *, bad_at: int | None = None) -> Path:
    lines = [f"{i:032x}" if i != bad_at else "not-a-hash" for i in range(1, n + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _deferred_spy(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Deferral from 500 records coming (not 20,000); the names each import dropped."""
    from tessera.storage import bulk_load

    monkeypatch.setattr(bulk_load, "MIN_RECORDS", 500)
    calls: list[list[str]] = []
    real = bulk_load.defer

    def spy(s: object, names: list[str]) -> None:
        calls.append(list(names))
        real(s, names)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk_load, "defer", spy)
    return calls


def _missing(app: App) -> list[str]:
    from tessera.storage import bulk_load

    with app.transaction() as s:
        return bulk_load.missing(s)


def test_large_import_builds_its_indexes_after_the_rows(
    app: App, caller: Caller, agency: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _deferred_spy(monkeypatch)
    path = _hashlist(tmp_path / "big.txt", 3000)
    r = ex.import_file(app, caller, "hashlist", path, agency_code=agency, batch_size=100)
    assert (r.records, r.new_media, r.new_entries) == (3000, 3000, 3000)
    sqlite = app.db.engine.dialect.name == "sqlite"
    assert calls == ([[*_IMPORT_DEFERRED, "ix_exchange_entry_agency_source"]] if sqlite else [])
    assert _missing(app) == []  # created again before the import committed
    # a file of fewer records than the database holds goes in row by row
    more = tmp_path / "more.txt"
    more.write_text("".join(f"{i:032x}\n" for i in range(5001, 6001)))
    r = ex.import_file(app, caller, "hashlist", more, agency_code=agency, batch_size=100)
    assert r.new_media == 1000 and len(calls) == (1 if sqlite else 0)
    # the same file again changes nothing, found through the rebuilt indexes
    again = ex.import_file(app, caller, "hashlist", path, agency_code=agency, batch_size=100)
    assert (again.new_media, again.unchanged_entries) == (0, 3000)
    with app.transaction() as s:
        found = repo.media_by_digest(s, "md5", [bytes.fromhex(f"{2999:032x}")])
        assert len(found) == 1
        assert s.execute(text("SELECT count(*) FROM media WHERE kind = 'other'")).scalar() == 4000


def test_large_import_finds_held_and_earlier_media_by_every_digest(
    app: App, caller: Caller, agency: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large import does not look up digests the node surely does not hold
    (``storage.digest_filter``); media held before it, made by its earlier batches or
    given a digest by an earlier record are still found by it."""
    from tessera.storage import bulk_load
    from tessera.storage.digest_filter import DigestFilter

    calls = _deferred_spy(monkeypatch)
    monkeypatch.setattr(bulk_load, "MIN_RECORDS", 50)
    asked: list[int] = []
    real = DigestFilter.maybe

    def spy(self: DigestFilter, digests: set[bytes]) -> set[bytes]:
        asked.append(len(digests))
        return real(self, digests)

    monkeypatch.setattr(DigestFilter, "maybe", spy)
    md5s = [hashlib.md5(str(i).encode()).hexdigest() for i in range(1201)]  # 1-1200
    held = tmp_path / "held.txt"
    held.write_text("".join(f"{x}\n" for x in md5s[1:51]))
    ex.import_file(app, caller, "hashlist", held, agency_code=agency)
    sha1 = hashlib.sha1(b"1").hexdigest()
    media = [{"MD5": x.upper()} for x in md5s[1:]]
    media.insert(4, {"MD5": md5s[10], "SHA1": sha1})  # held: its SHA-1 filled in
    made = {"MD5": "0f" * 16, "SHA1": hashlib.sha1(b"2").hexdigest()}  # new, both digests
    media.insert(20, made)
    media += [{"SHA1": sha1.upper()}, {"MD5": md5s[700]}, {"SHA1": made["SHA1"]}]
    doc = {"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media"}
    path = tmp_path / "large.json"
    path.write_text(json.dumps({**doc, "value": media}))
    r = ex.import_file(app, caller, "vics", path, agency_code=agency, batch_size=100)
    assert (r.records, r.new_media, r.matched_media) == (1205, 1151, 54)
    sqlite = app.db.engine.dialect.name == "sqlite"
    assert len(calls) == (2 if sqlite else 0) and (sum(asked) > 0) == sqlite
    assert _count(app, Media) == 1201
    with app.transaction() as s:
        (m,) = repo.media_by_digest(s, "sha1", [bytes.fromhex(sha1)]).values()
        assert m.md5 == bytes.fromhex(md5s[10])


def test_failed_large_import_leaves_the_indexes(
    app: App, caller: Caller, agency: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _deferred_spy(monkeypatch)
    path = _hashlist(tmp_path / "bad.txt", 3000, bad_at=2900)
    with pytest.raises(InvalidRecord) as err:
        ex.import_file(app, caller, "hashlist", path, agency_code=agency, batch_size=100)
    assert err.value.record == 2900
    assert len(calls) == (1 if app.db.engine.dialect.name == "sqlite" else 0)
    assert _missing(app) == [] and _count(app, Media) == 0  # the drop rolled back too


def test_import_leaves_a_federation_pull_cut_short_to_it(
    app: App, caller: Caller, agency: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tessera.storage import bulk_load

    if app.db.engine.dialect.name != "sqlite":
        pytest.skip("indexes are deferred on SQLite only")
    with app.transaction() as s:
        bulk_load.defer(s)  # what a killed first pull leaves: its marker
    calls = _deferred_spy(monkeypatch)
    path = _hashlist(tmp_path / "big.txt", 3000)
    ex.import_file(app, caller, "hashlist", path, agency_code=agency, batch_size=100)
    assert calls == [] and _missing(app) == list(bulk_load.DEFERRED)


def test_ncmec_import_keeps_the_source_id_index(
    app: App, caller: Caller, agency: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tessera.app.exchange import _DELETING

    assert {"ncmec-xml", "bundle"} <= _DELETING  # formats whose records may be deletions
    calls = _deferred_spy(monkeypatch)
    out = io.StringIO()
    from tessera.exchange import bundle
    from tessera.exchange.model import ExchangeRecord

    bundle.write((ExchangeRecord(md5=f"{i:032x}") for i in range(1, 3001)), out)
    path = tmp_path / "big.bundle"
    path.write_text(out.getvalue())
    ex.import_file(app, caller, "bundle", path, agency_code=agency, batch_size=100)
    assert calls == ([list(_IMPORT_DEFERRED)] if app.db.engine.dialect.name == "sqlite" else [])
    assert _missing(app) == []


_IMPORT_DEFERRED = (
    "ix_media_submissions",
    "ix_media_byte_size",
    "ix_media_first_seen_at",
    "ix_media_kind",
    "ix_fingerprint_algorithm_id",
)


def test_export_of_everything_reads_pages_with_their_rows(
    app: App, caller: Caller, agency: str, tmp_path: Path
) -> None:
    """``iter_items(all_live=True)`` (an export of everything) gives what the paged
    id selection gives: live items only, in id order, across pages."""
    from sqlalchemy import update

    from tessera.storage.exchange import export as export_store

    ex.import_file(app, caller, "vics", _vics(tmp_path / "a.json"), agency_code=agency)
    ex.import_file(app, caller, "hashlist", _hashlist(tmp_path / "h.txt", 5), agency_code=agency)
    with app.transaction() as s:
        gone = repo.media_by_digest(s, "md5", [bytes.fromhex(MD5_B)])[bytes.fromhex(MD5_B)]
        s.execute(update(Media).where(Media.id == gone.id).values(deleted_at=Media.first_seen_at))
    with app.transaction() as s:
        ids = export_store.select_media()
        paged = list(export_store.iter_items(s, ids, chunk=2))
        assert list(export_store.iter_items(s, ids, chunk=2, all_live=True)) == paged
        assert len(paged) == 7 and gone.id not in {i.media_id for i in paged}
