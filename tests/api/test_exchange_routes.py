"""``/api/v1/exchange``: upload import and download export through an HTTP client with
real accounts and tokens, on SQLite and PostgreSQL: all or nothing with the record
named in the problem document, 413 before a body over the limit is read, sharing
rules on downloads, audit entries, idempotent re-upload."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.app import App, Caller, Settings
from tessera.app import accounts as accounts_uc
from tessera.app.sharing import share_series
from tessera.exchange import bundle, vics
from tessera.storage import repo
from tessera.storage.models import AuditEntry, Media
from tests.storage.conftest import _pg_database

MD5_A = "0123456789abcdef0123456789abcdef"
MD5_B = "fedcba9876543210fedcba9876543210"
MD5_C = "00000000111111112222222233333333"
IMPORT_LIMIT = 64 * 1024


def _vics_doc(*, victim: str = "false", bad: bool = False) -> bytes:
    doc = {
        "@odata.context": vics.V2_URL.format(profile="US", root="Media"),
        "value": [
            {
                "MediaID": 1,
                "Category": 1,
                "MD5": MD5_A.upper(),
                "VictimIdentified": victim,
                "Series": "Amber",
                "Tags": "poster,bed",
                "Comments": "seen in case 7",
            },
            {"MediaID": 2, "MD5": MD5_B, "Series": "Amber"},
            {"MediaID": 3, "MD5": "XYZ" if bad else MD5_C},
        ],
    }
    return json.dumps(doc).encode()


class World:
    def __init__(self, client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
        self.client = client
        self.settings = settings
        self.tokens = tokens

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def count(self, model: type) -> int:
        with App(self.settings) as app, app.transaction() as s:
            return int(s.query(model).count())

    def audit(self, action: str) -> list[AuditEntry]:
        with App(self.settings) as app, app.transaction() as s:
            return [e for e in s.query(AuditEntry).order_by(AuditEntry.seq) if e.action == action]


def _world(settings: Settings) -> Iterator[World]:
    op = Caller.local_operator()
    tokens: dict[str, str] = {}
    with App(settings) as app:
        app.migrate()
        with app.transaction() as s:
            repo.create_agency(s, "NL-NPU", "NL", "VIT")
            repo.create_agency(s, "DE-BKA", "DE", "BKA")
        for who, agency, role in (
            ("nl-curator", "NL-NPU", "curator"),
            ("nl-viewer", "NL-NPU", "viewer"),
            ("de-analyst", "DE-BKA", "analyst"),
            ("de-curator", "DE-BKA", "curator"),
        ):
            email = f"{who}@example.org"
            accounts_uc.create_user(app, op, email, agency=agency, role=role, password=None)
            tokens[who] = accounts_uc.create_token(app, op, email).token
    api = create_app(settings, poll_interval=0.05, run_jobs=False, import_limit=IMPORT_LIMIT)
    with TestClient(api) as client:
        yield World(client, settings, tokens)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        yield from _world(Settings.for_home(tmp_path / "home"))
    else:
        for db in _pg_database():
            yield from _world(Settings.for_home(tmp_path / "home", database_url=db.url))


def _upload(w: World, who: str, body: bytes, fmt: str = "vics", **params: str) -> object:
    return w.client.post(
        f"/api/v1/exchange/import/{fmt}",
        params={"filename": "amber.json", **params},
        content=body,
        headers={**w.auth(who), "Content-Type": "application/octet-stream"},
    )


def test_upload_import_then_download_export(world: World) -> None:
    r = _upload(world, "nl-curator", _vics_doc())
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert (body["records"], body["new_media"], body["agency"]) == (3, 3, "NL-NPU")
    assert body["path"] == "amber.json" and body["series_created"] == ["Amber"]
    (entry,) = world.audit("exchange.import")
    assert entry.target == "file:amber.json" and entry.result_count == 3

    again = _upload(world, "nl-curator", _vics_doc()).json()  # type: ignore[attr-defined]
    assert (again["new_media"], again["new_entries"], again["unchanged_entries"]) == (0, 0, 3)
    updated = _upload(world, "nl-curator", _vics_doc(victim="true")).json()  # type: ignore[attr-defined]
    assert updated["updated_entries"] == 1 and updated["series_updated"] == ["Amber"]

    r = world.client.get("/api/v1/exchange/export/vics", headers=world.auth("nl-curator"))
    assert r.status_code == 200 and r.headers["x-tessera-records"] == "3"
    assert r.headers["content-type"].startswith("application/json")
    got = {x.md5: x for x in vics.read(io.BytesIO(r.content))}
    assert set(got) == {MD5_A, MD5_B, MD5_C}
    assert got[MD5_A].comments == "seen in case 7" and got[MD5_A].victim_identified is True
    assert got[MD5_A].tags == ("poster", "bed") and got[MD5_A].category == 1
    assert [e.result_count for e in world.audit("exchange.export")] == [3]
    # the export's temp file is gone once streamed
    assert not list((world.settings.home / "tmp").iterdir())


def test_bad_record_rejects_the_whole_upload_naming_it(world: World) -> None:
    r = _upload(world, "nl-curator", _vics_doc(bad=True))
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    p = r.json()  # type: ignore[attr-defined]
    assert (p["record"], p["field"], p["reason"]) == (3, "MD5", "invalid-record")
    assert "record 3" in p["detail"]
    assert world.count(Media) == 0 and world.audit("exchange.import") == []
    csv = b"MD5;SHA1;PhotoDNA;Image ID\n" + MD5_A.encode() + b";;;1\nnothex;;;2\n"
    p = _upload(world, "nl-curator", csv, fmt="icse-csv").json()  # type: ignore[attr-defined]
    assert (p["record"], p["line"], p["field"], p["status"]) == (2, 3, "MD5", 422)
    assert world.count(Media) == 0
    assert not list((world.settings.home / "tmp").iterdir())


def test_body_over_the_limit_is_413(world: World) -> None:
    big = b"x" * (IMPORT_LIMIT + 1)
    r = _upload(world, "nl-curator", big)
    assert r.status_code == 413  # type: ignore[attr-defined]
    assert r.json()["limit"] == IMPORT_LIMIT  # type: ignore[attr-defined]

    def chunked() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for _ in range(IMPORT_LIMIT // 1000 + 5):
            yield b"y" * 1000

    r = world.client.post(
        "/api/v1/exchange/import/vics",
        content=chunked(),
        headers={**world.auth("nl-curator"), "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 413
    assert world.count(Media) == 0
    assert not list((world.settings.home / "tmp").iterdir())


def test_who_may_import(world: World) -> None:
    assert _upload(world, "nl-viewer", _vics_doc()).status_code == 403  # type: ignore[attr-defined]
    r = _upload(world, "de-curator", _vics_doc(), agency="NL-NPU")
    assert r.status_code == 403  # type: ignore[attr-defined]
    r = world.client.post("/api/v1/exchange/import/vics", content=_vics_doc())
    assert r.status_code == 401
    assert world.count(Media) == 0
    r = _upload(world, "de-curator", _vics_doc())  # the caller's own agency by default
    assert r.status_code == 200 and r.json()["agency"] == "DE-BKA"  # type: ignore[attr-defined]


def test_download_obeys_sharing_rules(world: World) -> None:
    assert _upload(world, "nl-curator", _vics_doc()).status_code == 200  # type: ignore[attr-defined]
    r = world.client.get("/api/v1/exchange/export/bundle", headers=world.auth("de-analyst"))
    assert r.status_code == 200
    records = list(bundle.read(io.BytesIO(r.content)))
    by_md5 = {x.md5: x for x in records}
    # Amber is shared with the network at status by default: hashes and series, no details
    assert by_md5[MD5_A].series == "Amber" and by_md5[MD5_A].comments is None
    assert by_md5[MD5_A].tags == ()
    with App(world.settings) as app:
        share_series(app, Caller.local_operator(), "Amber", "none", network=True)
    r = world.client.get(
        "/api/v1/exchange/export/vics",
        params={"series": "Amber"},
        headers=world.auth("de-analyst"),
    )
    assert r.status_code == 404  # a series the caller may not see does not exist for them
    r = world.client.get("/api/v1/exchange/export/hashlist", headers=world.auth("de-analyst"))
    assert MD5_A not in r.text and MD5_B not in r.text
    r = world.client.get("/api/v1/exchange/export/vics", headers=world.auth("nl-viewer"))
    assert r.status_code == 403  # exports need the analyst role


@pytest.mark.parametrize(
    ("body", "fmt", "words"),
    [
        (b'{"odata.metadata": "x", "value": ' + b"[" * 50_000, "vics", "nested"),
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<queryResult>&b;</queryResult>",
            "ncmec-xml",
            "",
        ),
        (b"\xff\xfeM\x00D\x005\x00", "icse-csv", ""),
    ],
)
def test_hostile_uploads_are_clear_422s(world: World, body: bytes, fmt: str, words: str) -> None:
    r = _upload(world, "nl-curator", body, fmt=fmt)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert words in r.json()["detail"]  # type: ignore[attr-defined]
    assert world.count(Media) == 0
