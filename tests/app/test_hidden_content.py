"""Content another agency holds unshared: an import names it, learns nothing of it.

The world is ``tests.app.sharing_world``: NL-A's series ``S-unshared`` holds a media
item nobody else may see; NL-B imports records naming the same content (by SHA-256,
by MD5 alone, by an opaque hash NL-A imported before). Content identity is global
(one row per SHA-256 or opaque key), visibility is per agency: NL-B's records link
to the one row through NL-B's own entries, and everything NL-B is told (the
summary's counts, errors) is what it would be told if NL-A held nothing, which a
control file of fresh digests shows side by side. Runs on SQLite (the application's
rules) and on PostgreSQL as the network service (Row-Level Security, migration
0019's id-only lookups).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tessera.app import App, Caller, Role
from tessera.app import exchange as ex
from tessera.app import lookup as lk
from tessera.app.settings import Settings
from tessera.storage.db import Database
from tests.app.sharing_world import build, digest, pg_service_world, secrets

NL_A = Caller(role=Role.CURATOR, user_id=None, email="cur@nl-a.example", agency_code="NL-A")
NL_B = Caller(role=Role.CURATOR, user_id=None, email="cur@nl-b.example", agency_code="NL-B")
PDQ_HELD = "f" * 16 + "0" * 48  # imported by NL-A first (its own record only)
NLB_WORDS = ("nlb-tag", "nlb-comment")


def _h(word: str) -> bytes:
    return hashlib.sha256(word.encode()).digest()


def _vics(path: Path, sha_a: bytes, md5_only: bytes, pdq: str, fresh: bytes) -> Path:
    records = [
        {  # SHA-256 (+ its MD5) of content held elsewhere, or fresh in the control
            "MediaID": 1,
            "MD5": sha_a[:16].hex().upper(),
            "AlternativeHashes": [{"HashName": "SHA256", "HashValue": sha_a.hex()}],
            "PhotoDNA": "ab" * 48,
            "Series": "NLB Import",
            "Tags": NLB_WORDS[0],
            "Comments": NLB_WORDS[1],
        },
        {"MediaID": 2, "MD5": md5_only.hex(), "Series": "NLB Import"},  # MD5 alone
        {"MediaID": 3, "AlternativeHashes": [{"HashName": "PDQ", "HashValue": pdq}]},
        {  # fresh content in both files
            "MediaID": 4,
            "MD5": fresh[:16].hex(),
            "AlternativeHashes": [{"HashName": "SHA256", "HashValue": fresh.hex()}],
        },
    ]
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": records,
    }
    path.write_text(json.dumps(doc))
    return path


def _summary(r: ex.ImportSummary) -> tuple[int, ...]:
    return (
        r.records,
        r.new_media,
        r.matched_media,
        r.new_entries,
        r.updated_entries,
        r.unchanged_entries,
    )


@pytest.fixture(params=["sqlite", "postgresql-rls"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[App, Database]]:
    """(the app as the network service runs it, the table owner's database)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'tessera.sqlite'}")
        db.migrate()
        with db.session() as s:
            build(s)
        with App(Settings.for_home(tmp_path)) as app:
            yield app, db
        db.dispose()
    else:
        for owner, service, _ids in pg_service_world():
            with App(Settings.for_home(tmp_path, database_url=service.url)) as app:
                yield app, owner


def _owner_rows(db: Database, sha: bytes) -> dict[str, object]:
    with db.session() as s:
        q = {
            "media": "SELECT count(*) FROM media WHERE sha256 = :d",
            "sightings": "SELECT count(*) FROM sighting g JOIN media m ON m.id = g.media_id "
            "WHERE m.sha256 = :d",
            "series": "SELECT count(*) FROM series_media sm JOIN media m ON m.id = sm.media_id "
            "WHERE m.sha256 = :d",
            "entries": "SELECT count(*) FROM exchange_entry e JOIN media m ON m.id = e.media_id "
            "WHERE m.sha256 = :d",
        }
        return {k: int(s.execute(text(v), {"d": sha}).scalar_one()) for k, v in q.items()}


def _export(app: App, caller: Caller, **sel: str) -> str:
    out = io.StringIO()
    ex.export(app, caller, "bundle", out, **sel)
    return out.getvalue()


def test_import_naming_content_held_unshared(world: tuple[App, Database], tmp_path: Path) -> None:
    app, owner = world
    held = digest("unshared")
    pdq_file = tmp_path / "a.txt"
    pdq_file.write_text(f"pdq {PDQ_HELD}\n")
    ex.import_file(app, NL_A, "hashlist", pdq_file, agency_code="NL-A")
    before = _owner_rows(owner, held)
    assert before == {"media": 1, "sightings": 1, "series": 1, "entries": 0}

    # the control first: fresh digests everywhere (nobody holds any of them)
    control = _vics(tmp_path / "control.json", _h("c1"), _h("c2")[:16], "0f" * 32, _h("fresh-c"))
    ctl = ex.import_file(app, NL_B, "vics", control, agency_code="NL-B")
    # hand-derived: four records, each new to NL-B, each its own entry
    assert _summary(ctl) == (4, 4, 0, 4, 0, 0)

    path = _vics(tmp_path / "b.json", held, digest("other-agency-full")[:16], PDQ_HELD, _h("fresh"))
    first = ex.import_file(app, NL_B, "vics", path, agency_code="NL-B")
    assert _summary(first) == _summary(ctl)
    again = ex.import_file(app, NL_B, "vics", path, agency_code="NL-B")
    ctl_again = ex.import_file(app, NL_B, "vics", control, agency_code="NL-B")
    assert _summary(again) == _summary(ctl_again) == (4, 0, 4, 0, 0, 4)

    # one row for the content: NL-A's, its sighting and series link as they were,
    # NL-B's record and NL-B's series linked to it
    assert _owner_rows(owner, held) == {**before, "entries": 1, "series": 2}
    # MD5 alone never links to media NL-B cannot see: NL-B's own row beside NL-A's
    with owner.session() as s:
        md5_rows = s.execute(
            text("SELECT count(*) FROM media WHERE md5 = :m"),
            {"m": digest("other-agency-full")[:16]},
        ).scalar_one()
        assert md5_rows == 2
        pdq_rows = s.execute(
            text(
                "SELECT count(DISTINCT media_id) FROM fingerprint WHERE algorithm = 'pdq' "
                "AND value = :v"
            ),
            {"v": bytes.fromhex(PDQ_HELD)},
        ).scalar_one()
        assert pdq_rows == 1

    # NL-B sees its own records (the held content among them), nothing of NL-A's
    mine = _export(app, NL_B, agency="NL-B")
    assert held.hex() in mine and PDQ_HELD in mine
    for leak in [*secrets("unshared")["status"], *secrets("unshared")["full"], "path-unshared"]:
        assert leak not in mine
    # ... and NL-A, which holds the content, sees none of NL-B's record
    theirs = _export(app, NL_A, series="S-unshared")
    assert held.hex() in theirs
    for word in NLB_WORDS:
        assert word not in theirs


def test_rls_keeps_each_agency_record_its_own(tmp_path: Path) -> None:
    """Under RLS, NL-A's connection (which holds the content in full) reads none of
    NL-B's exchange entries, and NL-B's reads none of NL-A's rows of it."""
    for owner, service, _ids in pg_service_world():
        held = digest("unshared")
        path = tmp_path / "h.txt"
        path.write_text(f"sha256 {held.hex()}\n")
        with App(Settings.for_home(tmp_path, database_url=service.url)) as app:
            ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B")
        with owner.session() as s:
            mid = s.execute(text("SELECT id FROM media WHERE sha256 = :d"), {"d": held})
            media_id = int(mid.scalar_one())
        q = {
            "entries": "SELECT count(*) FROM exchange_entry WHERE media_id = :m",
            "sightings": "SELECT count(*) FROM sighting WHERE media_id = :m",
            "series": "SELECT count(*) FROM series_media WHERE media_id = :m",
            "text": "SELECT count(*) FROM media_text WHERE media_id = :m",
            "markers": "SELECT count(*) FROM marker WHERE media_id = :m",
        }
        seen: dict[str, dict[str, int]] = {}
        for code in ("NL-A", "NL-B"):
            with service.session() as s:
                s.execute(text("SELECT set_config('tessera.agency', :c, true)"), {"c": code})
                seen[code] = {
                    k: int(s.execute(text(v), {"m": media_id}).scalar_one()) for k, v in q.items()
                }
        assert seen["NL-A"] == {"entries": 0, "sightings": 1, "series": 1, "text": 1, "markers": 1}
        assert seen["NL-B"] == {"entries": 1, "sightings": 0, "series": 0, "text": 0, "markers": 0}


def test_blind_link_shows_status_not_full(world: tuple[App, Database], tmp_path: Path) -> None:
    """NL-B's own series and record show the held item up to ``status``: its OCR text,
    metadata and markers came with NL-A's file (rule 5 of ``app.visibility``)."""
    from tessera.app.visibility import Level, Visibility

    app, owner = world
    held = digest("unshared")
    path = tmp_path / "h.txt"
    path.write_text(f"sha256 {held.hex()}\n")
    ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series="NLB Blind")
    with owner.session() as s:
        media_id = int(
            s.execute(text("SELECT id FROM media WHERE sha256 = :d"), {"d": held}).scalar_one()
        )
    with app.transaction() as s:
        if app.db.dialect == "postgresql":
            s.execute(text("SELECT set_config('tessera.agency', 'NL-B', true)"))
        assert Visibility.of(s, NL_B).media_level(media_id) == Level.STATUS
    with app.transaction() as s:
        if app.db.dialect == "postgresql":
            s.execute(text("SELECT set_config('tessera.agency', 'NL-A', true)"))
        assert Visibility.of(s, NL_A).media_level(media_id) == Level.FULL


def _pictures(folder: Path, seed: int) -> Path:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(3):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((128, 128), Image.BILINEAR).save(folder / f"p{i}.png")
    return folder


def _ingest(
    app: App, folder: Path, agency: str, case: str, series: str | None = None
) -> tuple[int, int]:
    from tessera.app import ingest as ingest_uc

    op = Caller.local_operator()
    r = ingest_uc.run(
        app,
        op,
        folder,
        agency_code=agency,
        case_number=case,
        series_name=series,
        features=False,
        workers=1,
    )
    return r.new_media, r.already_known


def test_ingest_of_the_file_ends_a_blind_link(world: tuple[App, Database], tmp_path: Path) -> None:
    """NL-B's hash-only records of NL-A's unshared files are blind links (``status``);
    NL-B then ingests the files themselves (``tessera ingest``, run as the table owner
    on the server): one media row per file still, NL-B's sighting added, NL-A's rows
    as they were, and NL-B, which now holds the content, sees it in ``full``."""
    from tessera.app.visibility import Level, Visibility

    app, owner = world
    files = _pictures(tmp_path / "held", 5)
    with App(Settings.for_home(tmp_path / "op", database_url=owner.url)) as op_app:
        assert _ingest(op_app, files, "NL-A", "A-7", "S-unshared") == (3, 0)
        with owner.session() as s:
            rows = s.execute(
                text(
                    "SELECT id, sha256, submissions FROM media WHERE has_content "
                    "AND id IN (SELECT media_id FROM sighting g JOIN cases c ON c.id = g.case_id "
                    "WHERE c.number = 'A-7') ORDER BY id"
                )
            ).all()
        ids = [int(r[0]) for r in rows]
        listing = tmp_path / "held.txt"
        listing.write_text("".join(f"sha256 {bytes(r[1]).hex()}\n" for r in rows))
        r = ex.import_file(app, NL_B, "hashlist", listing, agency_code="NL-B")
        assert (r.new_media, r.matched_media) == (3, 0)
        with owner.session() as s:
            vis = Visibility.of(s, NL_B)
            assert set(vis.media_levels(ids).values()) == {Level.STATUS}
        _ingest(op_app, files, "NL-B", "B-1")
        with owner.session() as s:
            vis = Visibility.of(s, NL_B)
            assert set(vis.media_levels(ids).values()) == {Level.FULL}
            assert s.execute(text("SELECT count(*) FROM blind_link")).scalar_one() == 0
            after = s.execute(
                text(
                    "SELECT id, submissions FROM media WHERE id IN (SELECT media_id FROM "
                    "sighting) ORDER BY id"
                )
            ).all()
            # no second row for any file; each counts NL-B's submission
            subs = {int(i): int(n) for i, n in after}
            assert [subs[i] for i in ids] == [int(r[2]) + 1 for r in rows]


def test_series_of_another_agency_is_refused_alike(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """A record naming a series another agency holds: one answer whether NL-B may see
    that series or not (series names are unique node-wide; under RLS a hidden one was
    a unique-constraint 500), nothing stored, nothing linked into the other's series."""
    from tessera.errors import InvalidRecord

    app, owner = world
    path = tmp_path / "h.txt"
    path.write_text(f"sha256 {_h('series-test').hex()}\n")
    with owner.session() as s:
        before = int(s.execute(text("SELECT count(*) FROM series_media")).scalar_one())
    answers = []
    for name in ("S-unshared", "S-network-status"):  # hidden / seen at status
        with pytest.raises(InvalidRecord) as err:
            ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series=name)
        answers.append((err.value.record, err.value.field, err.value.message.replace(name, "X")))
    assert answers[0] == answers[1] == (1, "Series", answers[0][2])
    with owner.session() as s:
        assert int(s.execute(text("SELECT count(*) FROM series_media")).scalar_one()) == before
        assert (
            s.execute(
                text("SELECT count(*) FROM media WHERE sha256 = :d"), {"d": _h("series-test")}
            ).scalar_one()
            == 0
        )


def test_ingest_of_files_held_unshared_tells_nothing(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """NL-A ingests pictures into its unshared series; NL-B ingests the same files
    (as NL-B, not as the table owner): one row per file still, NL-B's sighting on it,
    and NL-B's summary is the one a control folder of fresh pictures gets."""
    from tessera.app import ingest as ingest_uc

    app, owner = world

    def run(
        caller: Caller, folder: Path, agency: str, case: str, series: str | None = None
    ) -> tuple[int, int, int, int]:
        r = ingest_uc.run(
            app,
            caller,
            folder,
            agency_code=agency,
            case_number=case,
            series_name=series,
            features=False,
            workers=1,
        )
        return (r.files_seen, r.new_media, r.already_known, r.errors)

    files = _pictures(tmp_path / "held", 7)
    assert run(NL_A, files, "NL-A", "A-8", "S-unshared") == (3, 3, 0, 0)
    control = run(NL_B, _pictures(tmp_path / "control", 8), "NL-B", "B-8")
    assert control == (3, 3, 0, 0)
    assert run(NL_B, files, "NL-B", "B-8") == control
    shas = [hashlib.sha256(p.read_bytes()).digest() for p in sorted(files.iterdir())]
    with owner.session() as s:
        rows = s.execute(
            text(
                "SELECT m.id, m.submissions, count(g.id) FROM media m JOIN sighting g "
                "ON g.media_id = m.id WHERE m.sha256 IN (:a, :b, :c) GROUP BY m.id, m.submissions"
            ),
            dict(zip("abc", shas, strict=True)),
        ).all()
    assert sorted(tuple(r[1:]) for r in rows) == [(2, 2)] * 3


@pytest.mark.parametrize(
    ("res", "after"),
    [("network-status", "status"), ("network-hash", "status"), ("network-full", "full")],
)
def test_own_record_of_content_seen_below_full_stays_capped(
    world: tuple[App, Database], tmp_path: Path, res: str, after: str
) -> None:
    """NL-B sees NL-A's item through NL-A's series (at ``hash``, ``status``, ``full``)
    and imports a record of it into its own series: its own record and series do not
    lift the item to ``full`` (OCR text, metadata, markers came with NL-A's file), as
    for content it could not see at all (a blind link, capped at ``status``); an item
    already shared in full stays full. Before, the own series gave NL-B ``full``."""
    from tessera.app import media as media_uc
    from tessera.app.visibility import Level, Visibility

    app, owner = world
    held = digest(res)
    path = tmp_path / "h.txt"
    path.write_text(f"sha256 {held.hex()}\n")
    r = ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series="NLB Own")
    assert (r.new_media, r.matched_media) == (0, 1)
    with owner.session() as s:
        media_id = int(
            s.execute(text("SELECT id FROM media WHERE sha256 = :d"), {"d": held}).scalar_one()
        )
    with app.transaction() as s:
        if app.db.dialect == "postgresql":
            s.execute(text("SELECT set_config('tessera.agency', 'NL-B', true)"))
        assert Visibility.of(s, NL_B).media_level(media_id) == Level.parse(after)
    shown = media_uc.show(app, NL_B, str(media_id)).model_dump_json()
    for word in (f"marker-{res}", f"text-{res}"):  # what a media item shows at full
        assert (word in shown) is (after == "full"), word
    # re-importing changes nothing; NL-A still sees it in full
    again = ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series="NLB Own")
    assert (again.new_media, again.matched_media, again.unchanged_entries) == (0, 1, 1)
    with app.transaction() as s:
        if app.db.dialect == "postgresql":
            s.execute(text("SELECT set_config('tessera.agency', 'NL-A', true)"))
        assert Visibility.of(s, NL_A).media_level(media_id) == Level.FULL


def test_blind_link_shows_only_what_the_own_record_said(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """NL-B imports the SHA-256 of NL-A's unshared item, and, as a control, a SHA-256
    nobody holds: ``media show`` must tell NL-B the same of both (only the SHA-256 it
    gave, no submission, first seen at its own import)."""
    from datetime import UTC, datetime

    from tessera.app import media as media_uc

    app, _owner = world
    start = datetime.now(UTC)
    shown = {}
    for name, sha in (("held", digest("unshared")), ("control", _h("blind-control"))):
        path = tmp_path / f"{name}.txt"
        path.write_text(f"sha256 {sha.hex()}\n")
        ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B")
        m = media_uc.show(app, NL_B, sha.hex()).media
        first = m.first_seen_at.replace(tzinfo=m.first_seen_at.tzinfo or UTC)  # SQLite: naive
        shown[name] = (m.md5, m.sha1, m.submissions, first >= start)
    assert shown["control"] == (None, None, 0, True)  # hand-derived: only the SHA-256 given
    assert shown["held"] == shown["control"]


def _blind_import(app: App, tmp_path: Path) -> tuple[bytes, list[str]]:
    """NL-B imports the SHA-256 of NL-A's unshared item; the held item's other
    digests (sharing_world: MD5 and SHA-1 are the SHA-256's first 16/20 bytes, from
    NL-A's file) in hex, lower and upper case."""
    held = digest("unshared")
    path = tmp_path / "held.txt"
    path.write_text(f"sha256 {held.hex()}\n")
    ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series="NLB Blind")
    return held, [h for d in (held[:16], held[:20]) for h in (d.hex(), d.hex().upper())]


def test_blind_link_narrowed_in_list_lookup_and_exports(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """Every read NL-B has of the blind-linked item shows only its own record: the
    media list, a lookup by a digest only NL-A's file gave (missing, as for content
    nobody holds), and the bundle, VICS and hash-list exports."""
    from tessera.app import media as media_uc
    from tessera.errors import NotFound

    app, _owner = world
    held, theirs = _blind_import(app, tmp_path)
    listed = media_uc.list_media(app, NL_B, series="NLB Blind").items
    items = [m for m in listed if m.sha256 == held.hex()]
    assert [(m.sha256, m.md5, m.sha1, m.kind, m.byte_size, m.submissions) for m in items] == [
        (held.hex(), None, None, "other", None, 0)
    ]
    m = items[0]
    assert media_uc.picture_sizes(app, NL_B, [m.id]) == {}
    for ref in (held[:16].hex(), held[:20].hex()):
        with pytest.raises(NotFound) as err:
            media_uc.show(app, NL_B, ref)
        assert str(err.value) == f"no media item with digest {ref}"
    assert media_uc.show(app, NL_B, str(m.id)).media == m
    for fmt in ("bundle", "vics", "hashlist"):
        out = io.StringIO()
        ex.export(app, NL_B, fmt, out, agency="NL-B")
        body = out.getvalue()
        assert held.hex() in body.lower(), fmt
        body = body.replace(held.hex(), "").replace(held.hex().upper(), "")  # MD5 its prefix
        for leak in theirs:
            assert leak not in body, (fmt, leak)
    # NL-A, which holds the file, still sees its row as it is
    a = media_uc.show(app, NL_A, held.hex()).media
    assert (a.md5, a.sha1, a.submissions) == (held[:16].hex(), held[:20].hex(), 1)


def test_blind_link_narrowed_in_api_and_web(world: tuple[App, Database], tmp_path: Path) -> None:
    """The API media routes and the web media page show NL-B the same narrowed item."""
    from fastapi.testclient import TestClient

    from tessera.app import accounts
    from tessera.web import create_app

    app, owner = world
    held, theirs = _blind_import(app, tmp_path)
    op = Caller.local_operator()
    with App(Settings.for_home(tmp_path / "op", database_url=owner.url)) as op_app:
        accounts.create_user(
            op_app, op, "v@nl-b.example", agency="NL-B", role="viewer", password="pw-" + "x" * 16
        )
        token = accounts.create_token(op_app, op, "v@nl-b.example").token
        cookie = accounts.login(op_app, "v@nl-b.example", "pw-" + "x" * 16).cookie
    settings = Settings.for_home(tmp_path / "srv", database_url=app.db.url)
    with TestClient(
        create_app(settings, poll_interval=0.05, run_jobs=False), base_url="https://testserver"
    ) as c:
        auth = {"Authorization": f"Bearer {token}"}
        one = c.get(f"/api/v1/media/{held.hex()}", headers=auth)
        assert one.status_code == 200, one.text
        got = one.json()["media"]
        assert (got["md5"], got["sha1"], got["submissions"]) == (None, None, 0)
        listed = c.get("/api/v1/media?agency=NL-B", headers=auth)
        assert listed.status_code == 200
        assert c.get(f"/api/v1/media/{held[:16].hex()}", headers=auth).status_code == 404
        c.cookies.set("tessera_session", cookie)
        page = c.get(f"/media/{got['id']}")
        assert page.status_code == 200, page.text[:300]
        assert held.hex() in page.text
        for body in (one.text, listed.text, page.text):
            rest = body.replace(held.hex(), "")  # the MD5 and SHA-1 are its prefixes
            for leak in theirs:
                assert leak not in rest, leak


_INGEST_TABLES = ("media", "sighting", "series_media", "ingest_run", "cases", "fingerprint")


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in _INGEST_TABLES
        }


def test_ingest_into_another_agencys_series_is_not_found(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """``tessera ingest --series NAME`` naming another agency's series, hidden from the
    ingesting agency or seen by it at status or full, is refused before any work with
    the answer a series nobody holds gets (a series takes media only from its owner;
    on SQLite it linked the files into NL-A's series, under RLS the link was refused
    half-way). Nothing is written: no media, sighting, case, run or series link."""
    from tessera.app import ingest as ingest_uc
    from tessera.errors import NotFound

    app, owner = world
    files = _pictures(tmp_path / "files", 11)
    before = _counts(owner)
    answers = []
    for name in ("S-no-such-series", "S-unshared", "S-network-status", "S-network-full"):
        with pytest.raises(NotFound) as err:
            ingest_uc.run(
                app,
                NL_B,
                files,
                agency_code="NL-B",
                case_number="B-series",
                series_name=name,
                features=False,
                workers=1,
            )
        answers.append(str(err.value).replace(name, "X"))
        assert _counts(owner) == before, name
    assert answers == ["no series 'X'"] * 4
    # its own series still takes the files
    r = ingest_uc.run(
        app,
        NL_B,
        files,
        agency_code="NL-B",
        case_number="B-series",
        series_name="S-own",
        features=False,
        workers=1,
    )
    assert r.new_media == 3


# hashes of NL-A's file and record of its unshared item (PDQ computed, PhotoDNA and a
# NetClean hash imported as received), and NL-B's own record's, as written in its files
A_HASHES = ("a5" * 32, "a7" * 48, "a9" * 20)
B_HASHES = ("b6" * 32, "b8" * 48, "bb" * 20)
B_UPDATED_PDQ = "bc" * 32
EXPORTS = ("hashlist", "te-csv", "bundle", "vics", "icse-csv")


def _plant_a_hashes(owner: Database, held: bytes) -> None:
    from tessera.storage.models import FingerprintModel

    pdq, pdna, net = A_HASHES
    with owner.session() as s:
        mid = int(
            s.execute(text("SELECT id FROM media WHERE sha256 = :d"), {"d": held}).scalar_one()
        )
        for alg, version, value in (
            ("pdq", 1, bytes.fromhex(pdq)),
            ("photodna", 0, pdna.encode()),
            ("netclean", 0, net.encode()),
        ):
            s.add(
                FingerprintModel(
                    media_id=mid, algorithm=alg, version=version, position=0, value=value
                )
            )


def _b_record(path: Path, held: bytes, pdq: str, pdna: str | None) -> Path:
    alt = [{"HashName": "SHA256", "HashValue": held.hex()}, {"HashName": "PDQ", "HashValue": pdq}]
    alt.append({"HashName": "NetClean", "HashValue": B_HASHES[2]})
    rec: dict[str, object] = {
        "MediaID": 1,
        "MD5": held[:16].hex().upper(),
        "AlternativeHashes": alt,
        "Series": "NLB Blind",
    }
    if pdna is not None:
        rec["PhotoDNA"] = pdna
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": [rec],
    }
    path.write_text(json.dumps(doc))
    return path


def _b_reads(app: App) -> dict[str, str]:
    """Every read NL-B has of its records: the five exports, media list and show."""
    from tessera.app import media as media_uc

    out: dict[str, str] = {}
    for fmt in EXPORTS:
        buf = io.StringIO()
        ex.export(app, NL_B, fmt, buf, agency="NL-B")
        body = buf.getvalue().lower()
        if fmt == "bundle":  # its records (the header and manifest carry the export's time)
            body = "".join(x for x in body.splitlines(True) if '"part":"records"' in x)
        out[fmt] = body
    listed = media_uc.list_media(app, NL_B, series="NLB Blind")
    out["list"] = listed.model_dump_json()
    out["show"] = "".join(
        media_uc.show(app, NL_B, str(m.id)).model_dump_json() for m in listed.items
    )
    return out


def test_blind_link_exports_only_the_own_records_hashes(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """NL-A's unshared item has a PDQ (computed from its file), a PhotoDNA and a NetClean
    hash; NL-B imports a record of it (SHA-256, MD5) with its own PDQ, PhotoDNA and
    NetClean hash. NL-B's hash list, TE CSV, bundle, VICS and ICSE CSV exports and its
    media list/show carry NL-B's hashes (where the format has them) and none of
    NL-A's; re-importing the file changes nothing, an updated file (another PDQ, no
    PhotoDNA) shows the update. Before, NL-A's hashes left in every export."""
    app, owner = world
    held = digest("unshared")
    _plant_a_hashes(owner, held)
    path = _b_record(tmp_path / "b.json", held, B_HASHES[0], B_HASHES[1])
    ex.import_file(app, NL_B, "vics", path, agency_code="NL-B")
    first = _b_reads(app)
    carriers = {  # hand-derived from the formats: which of the three hashes each writes
        "hashlist": B_HASHES,
        "te-csv": B_HASHES,
        "bundle": B_HASHES,
        "vics": B_HASHES,
        "icse-csv": B_HASHES[1:2],
    }
    for where, body in first.items():
        assert held.hex() in body or held[:16].hex() in body, where
        for h in A_HASHES:
            assert h not in body, (where, h)
        for h in carriers.get(where, ()):
            assert h in body, (where, h)
    again = ex.import_file(app, NL_B, "vics", path, agency_code="NL-B")
    assert (again.new_media, again.unchanged_entries) == (0, 1)
    assert _b_reads(app) == first
    updated = _b_record(tmp_path / "b2.json", held, B_UPDATED_PDQ, None)
    ex.import_file(app, NL_B, "vics", updated, agency_code="NL-B")
    for fmt, body in _b_reads(app).items():
        for h in (*A_HASHES, B_HASHES[0], B_HASHES[1]):
            assert h not in body, (fmt, h)
        if fmt in ("hashlist", "te-csv", "bundle", "vics"):
            assert B_UPDATED_PDQ in body and B_HASHES[2] in body, fmt
    # NL-A, which holds the file, still exports its own hashes
    buf = io.StringIO()
    ex.export(app, NL_A, "hashlist", buf, series="S-unshared")
    assert all(h in buf.getvalue() for h in A_HASHES)


@pytest.mark.parametrize(
    ("res", "lowered"),
    [
        ("network-full", "status"),
        ("network-full", "hash"),
        ("network-full", "none"),
        ("network-status", "hash"),
        ("network-status", "none"),
    ],
)
def test_cap_follows_a_later_lowering_of_the_owners_sharing(
    world: tuple[App, Database], tmp_path: Path, res: str, lowered: str
) -> None:
    """NL-B imports the SHA-256 of NL-A's item (seen through NL-A's series at ``full``
    or ``status``) into its own series; NL-A then lowers the series' sharing. At once,
    NL-B sees what it would had the series been shared that low when it imported:
    ``status`` through its own record (never NL-A's full rows: OCR text, markers),
    and where NL-A's series no longer shows it at status, only what its own record
    said (no MD5/SHA-1 of NL-A's file, no submission). Before, an item imported while
    shared in full stayed full through NL-B's own series after any lowering."""
    from tessera.app import media as media_uc
    from tessera.app.visibility import Level, Visibility
    from tessera.storage import sharing
    from tessera.storage.models import Series

    app, owner = world
    held = digest(res)
    path = tmp_path / "h.txt"
    path.write_text(f"sha256 {held.hex()}\n")
    ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series="NLB Own")
    with owner.session() as s:
        sid = s.execute(select(Series.id).where(Series.name == f"S-{res}")).scalar_one()
        sharing.set_grant(s, "series", sid, scope="network", grantee="*", level=lowered)
        media_id = int(
            s.execute(text("SELECT id FROM media WHERE sha256 = :d"), {"d": held}).scalar_one()
        )
    with app.transaction() as s:
        if app.db.dialect == "postgresql":
            s.execute(text("SELECT set_config('tessera.agency', 'NL-B', true)"))
        assert Visibility.of(s, NL_B).media_level(media_id) == Level.STATUS
    shown = media_uc.show(app, NL_B, held.hex())
    body = shown.model_dump_json()
    for word in (f"marker-{res}", f"text-{res}", f"Make-{res}"):
        assert word not in body, word
    m = shown.media
    if lowered == "status":  # NL-A's series still shows its status facts
        assert (m.md5, m.submissions, m.series) == (held[:16].hex(), 1, ("NLB Own", f"S-{res}"))
    else:  # hand-derived: only the SHA-256 NL-B's record gave, in NL-B's series
        assert (m.sha256, m.md5, m.sha1, m.submissions, m.series) == (
            held.hex(),
            None,
            None,
            0,
            ("NLB Own",),
        )
    out = io.StringIO()
    ex.export(app, NL_B, "bundle", out, series="NLB Own")
    for leak in (f"marker-{res}", f"text-{res}", f"Make-{res}", "path-" + res):
        assert leak not in out.getvalue(), leak


def _sized(path: Path, records: list[tuple[bytes, int]]) -> Path:
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": [
            {
                "MediaID": i,
                "AlternativeHashes": [{"HashName": "SHA256", "HashValue": sha.hex()}],
                "MediaSize": size,
                "Series": "NLB Sorted",
            }
            for i, (sha, size) in enumerate(records, 1)
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def test_sorted_media_list_orders_a_blind_item_by_the_own_record(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """NL-B's series holds two items of its own (sizes 100 and 300) and, imported
    later, a record of NL-A's unshared item saying size 200 (the row says 1, first
    seen when NL-A's file came, before NL-B's imports). Sorted by size or first seen,
    both ways, the blind item sits where NL-B's record puts it: the order tells
    nothing of the row's values. Before, it sorted by the row's (first by size)."""
    from tessera.app import media as media_uc

    app, _owner = world
    held = digest("unshared")
    own = [(_h("sorted-100"), 100), (_h("sorted-300"), 300)]
    ex.import_file(app, NL_B, "vics", _sized(tmp_path / "own.json", own), agency_code="NL-B")
    ex.import_file(
        app, NL_B, "vics", _sized(tmp_path / "b.json", [(held, 200)]), agency_code="NL-B"
    )

    def order(sort: str, descending: bool) -> list[int | None]:
        page = media_uc.list_media(app, NL_B, series="NLB Sorted", sort=sort, descending=descending)
        return [m.byte_size for m in page.items]

    # hand-derived from NL-B's records: sizes 100, 200 (blind), 300; the blind one
    # recorded last (linked after the own items were first seen)
    assert order("size", False) == [100, 200, 300]
    assert order("size", True) == [300, 200, 100]
    assert order("first-seen", False)[-1] == 200
    assert order("first-seen", True)[0] == 200


def test_sorted_pages_of_blind_and_own_items_never_repeat_or_skip(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """Own items and blind ones (records of NL-A's items at every level NL-B may or may
    not see), sizes with ties across the two kinds and missing sizes: paged two at a
    time by offset, both directions, the pages are the one long page, each item once,
    in the order of the sizes NL-B's records say (ties by id; missing sizes where the
    database puts NULLs: after every value on PostgreSQL, before on SQLite)."""
    from tessera.app import media as media_uc

    app, owner = world
    records = [
        (_h("paged-100"), 100),
        (_h("paged-300"), 300),
        (_h("paged-200"), 200),
        (_h("paged-none"), None),
        (digest("unshared"), 200),
        (digest("network-none"), 50),
        (digest("network-hash"), 300),
        (digest("default"), None),
        (digest("network-full"), 150),
    ]
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": [
            {
                "MediaID": i,
                "AlternativeHashes": [{"HashName": "SHA256", "HashValue": sha.hex()}],
                **({"MediaSize": size} if size is not None else {}),
                "Series": "NLB Paged",
            }
            for i, (sha, size) in enumerate(records, 1)
        ],
    }
    (tmp_path / "paged.json").write_text(json.dumps(doc))
    ex.import_file(app, NL_B, "vics", tmp_path / "paged.json", agency_code="NL-B")
    nulls_last = owner.dialect == "postgresql"
    for descending in (False, True):
        whole = media_uc.list_media(
            app, NL_B, series="NLB Paged", sort="size", descending=descending, limit=100
        ).items
        pages = []
        for offset in range(0, 12, 2):
            pages.extend(
                media_uc.list_media(
                    app,
                    NL_B,
                    series="NLB Paged",
                    sort="size",
                    descending=descending,
                    limit=2,
                    offset=offset,
                ).items
            )
        assert [m.id for m in pages] == [m.id for m in whole]
        assert len({m.id for m in whole}) == len(records) == len(whole)
        # what NL-B's record said of each (shown items at status may show the row's)
        said = {sha.hex(): size for sha, size in records}
        got = [said[str(m.sha256)] for m in whole]
        sizes = [size for _, size in records]
        known = sorted(x for x in sizes if x is not None)
        none = [None] * sizes.count(None)
        want = known + none if nulls_last else none + known
        assert got == (want[::-1] if descending else want)
        for (a, sa), (b, sb) in itertools.pairwise(zip(whole, got, strict=True)):
            if sa == sb:  # ties by id, in the same direction
                assert (a.id > b.id) if descending else (a.id < b.id)


def test_record_contradicting_a_blind_items_digest_tells_nothing(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """NL-B linked NL-A's unshared item by its SHA-256; an updated record of it gives
    another MD5. The MD5 NL-A's file gave is not NL-B's to compare with: the import
    goes through as for content nobody else holds (no error quoting NL-A's MD5), and
    NL-B is shown the MD5 its record said. Before: an error naming NL-A's MD5."""
    from tessera.app import media as media_uc

    app, _owner = world
    held = digest("unshared")
    path = tmp_path / "a.txt"
    path.write_text(f"sha256 {held.hex()}\n")
    ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B")
    mine = "0e" * 16
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": [
            {
                "MediaID": 1,
                "MD5": mine,
                "AlternativeHashes": [{"HashName": "SHA256", "HashValue": held.hex()}],
            }
        ],
    }
    updated = tmp_path / "b.json"
    updated.write_text(json.dumps(doc))
    r = ex.import_file(app, NL_B, "vics", updated, agency_code="NL-B")
    assert (r.new_media, r.matched_media) == (0, 1)
    m = media_uc.show(app, NL_B, held.hex()).media
    assert (m.sha256, m.md5, m.sha1) == (held.hex(), mine, None)
    a = media_uc.show(app, NL_A, held.hex()).media  # NL-A's row as it was
    assert a.md5 == held[:16].hex()


def test_ingest_completing_another_agencys_record_caps_it(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """The other order: NL-B imports the SHA-256 of a file into its own series (it
    sees the hash-only item in full), then NL-A ingests the file itself into its
    unshared series (through the service, as NL-A). NL-B is still shown only what
    its record said (no MD5/SHA-1/size from NL-A's file, no submission), at
    ``status``; NL-A sees its file's facts. Before (migration 0027), NL-B saw NL-A's
    file's digests, size and submission in ``full``."""
    from tessera.app import ingest as ingest_uc
    from tessera.app import media as media_uc
    from tessera.app.visibility import Level, Visibility
    from tessera.errors import NotFound

    app, owner = world
    files = _pictures(tmp_path / "held", 9)
    first = sorted(files.iterdir())[0]
    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    md5 = hashlib.md5(first.read_bytes()).hexdigest()
    listing = tmp_path / "b.txt"
    listing.write_text(f"sha256 {sha}\n")
    ex.import_file(app, NL_B, "hashlist", listing, agency_code="NL-B", series="NLB Mine")
    assert media_uc.show(app, NL_B, sha).level == "full"  # its own hash-only item
    r = ingest_uc.run(
        app,
        NL_A,
        files,
        agency_code="NL-A",
        case_number="A-10",
        series_name="S-unshared",
        features=False,
        workers=1,
    )
    assert r.errors == 0
    b = media_uc.show(app, NL_B, sha)
    m = b.media
    assert (b.level, m.md5, m.sha1, m.byte_size, m.width, m.submissions) == (
        "status",
        None,
        None,
        None,
        None,
        0,
    )
    with pytest.raises(NotFound):
        media_uc.show(app, NL_B, md5)
    buf = io.StringIO()
    ex.export(app, NL_B, "hashlist", buf, agency="NL-B")
    assert sha in buf.getvalue() and md5 not in buf.getvalue()
    a = media_uc.show(app, NL_A, sha)
    assert (a.level, a.media.md5, a.media.submissions) == ("full", md5, 1)
    with owner.session() as s:
        vis = Visibility.of(s, NL_B)
        assert vis.media_level(m.id) == Level.STATUS


def _vics_record(path: Path, series: str, sha256: bytes | None, netclean: str) -> Path:
    alt = [{"HashName": "NetClean", "HashValue": netclean}]
    if sha256 is not None:
        alt.insert(0, {"HashName": "SHA256", "HashValue": sha256.hex()})
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": [{"MediaID": 1, "AlternativeHashes": alt, "Series": series}],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("res", ["unshared", "agency-hash", "agency-status", "agency-full"])
def test_blind_link_by_an_opaque_hash_takes_the_later_sha256(
    world: tuple[App, Database], tmp_path: Path, res: str
) -> None:
    """NL-A imports a record (SHA-256 and a NetClean hash) into one of its series
    (unshared, or shared with NL-B at hash, status or full level: capped either way).
    NL-B first names that item by the NetClean hash alone (an opaque key, unique
    node-wide: a blind link whose record holds no digest), then imports a record of
    it with the SHA-256. The second import matches the item NL-B already links (not
    new content) and NL-B's record of it then says the SHA-256 NL-B gave: its hash
    list carries it. Before, the blind record kept saying no digest."""
    app, owner = world
    held = _h("opaque-then-sha")
    a = ex.import_file(
        app,
        NL_A,
        "vics",
        _vics_record(tmp_path / "a.json", f"S-{res}", held, A_HASHES[2]),
        agency_code="NL-A",
    )
    assert a.new_media == 1
    first = ex.import_file(
        app,
        NL_B,
        "vics",
        _vics_record(tmp_path / "b0.json", "NLB Blind", None, A_HASHES[2]),
        agency_code="NL-B",
    )
    assert first.records == 1
    buf = io.StringIO()
    ex.export(app, NL_B, "hashlist", buf, agency="NL-B")
    if res == "unshared":  # seen through the blind link only: what NL-B said
        assert held.hex() not in buf.getvalue().lower()
    assert A_HASHES[2] in buf.getvalue().lower()
    second = ex.import_file(
        app,
        NL_B,
        "vics",
        _vics_record(tmp_path / "b1.json", "NLB Blind", held, A_HASHES[2]),
        agency_code="NL-B",
    )
    assert (second.records, second.new_media, second.matched_media) == (1, 0, 1)
    buf = io.StringIO()
    ex.export(app, NL_B, "hashlist", buf, agency="NL-B")
    body = buf.getvalue().lower()
    assert held.hex() in body and A_HASHES[2] in body
    r = lk.lookup(app, NL_B, [lk.HashQuery(type="sha256", hash=held.hex())])
    assert len(r.results[0].matches) == 1
    with owner.session() as s:  # what a later lowering of NL-A's sharing would show
        said = s.execute(
            text(
                "SELECT b.sha256 FROM blind_link b JOIN agency a ON a.id = b.agency_id "
                "JOIN media m ON m.id = b.media_id WHERE a.code = 'NL-B' AND m.sha256 = :d"
            ),
            {"d": held},
        ).all()
    assert [bytes(x[0]) if x[0] is not None else None for x in said] == [held]
