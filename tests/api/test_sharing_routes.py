"""Sharing rules through the API: none hides, hash says "known" and whom to ask."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.app import App, Caller, Role
from tessera.app.sharing import share_series
from tessera.errors import Unauthenticated
from tests.api.conftest import AUTH, Served


def _share(served: Served, level: str) -> None:
    with App(served.settings) as app:
        share_series(app, Caller.local_operator(), "Series Birch", level, network=True)


def _birch(served: Served):  # type: ignore[no-untyped-def]
    return served.items[5]  # the first of Series Birch (owned by DE-BKA)


def test_unshared_series_does_not_exist_for_others(served: Served) -> None:
    _share(served, "none")
    item = _birch(served)
    r = served.client.get("/api/v1/lookup", params={"type": "md5", "hash": item.md5}, headers=AUTH)
    assert r.status_code == 200 and r.json()["results"][0]["matches"] == []
    assert r.json()["series"] == []
    r = served.client.get("/api/v1/series/Series Birch", headers=AUTH)
    assert r.status_code == 404
    assert served.client.get("/api/v1/series/No Such Series", headers=AUTH).json() == r.json() | {
        "detail": "no series 'No Such Series'"
    }
    banks = [b["name"] for b in served.client.get("/c/banks", headers=AUTH).json()]
    assert banks == ["Series Amber"]
    hma = served.client.get(f"/m/lookup?signal_type=pdq&signal={item.pdq}", headers=AUTH)
    assert hma.json() == {}
    raw = served.client.get(
        "/m/raw_lookup", params={"signal_type": "pdq", "signal": item.pdq}, headers=AUTH
    )
    assert raw.json() == {"matches": []}


def test_hash_level_says_known_and_whom_to_ask(served: Served) -> None:
    _share(served, "hash")
    item = _birch(served)
    r = served.client.get("/api/v1/lookup", params={"type": "pdq", "hash": item.pdq}, headers=AUTH)
    (match,) = r.json()["results"][0]["matches"]
    assert match["media_id"] == item.media_id
    assert match["series"] == [] and match["contacts"] == ["de-bka@example.org"]
    assert r.json()["series"] == []  # no name, no status
    hma = served.client.get(f"/m/lookup?signal_type=pdq&signal={item.pdq}", headers=AUTH)
    assert hma.json() == {}  # a bank is a series the caller may see by name


def test_status_level_names_the_series(served: Served) -> None:
    _share(served, "status")
    item = _birch(served)
    r = served.client.get("/api/v1/lookup", params={"type": "pdq", "hash": item.pdq}, headers=AUTH)
    body = r.json()
    (match,) = body["results"][0]["matches"]
    assert [s["name"] for s in body["series"]] == ["Series Birch"]
    assert body["series"][0]["level"] == "status" and match["contacts"] == []


def test_viewer_may_not_look_up_and_unknown_agency_sees_nothing(served: Served) -> None:
    def accounts(app: App, token: str) -> Caller:
        if token == "viewer":
            return Caller(role=Role.VIEWER, user_id=2, agency_code="NL-NPU")
        if token == "stranger":
            return Caller(role=Role.ANALYST, user_id=3, agency_code="XX-NONE")
        raise Unauthenticated("unknown")

    item = served.items[0]
    with TestClient(
        create_app(served.settings, authenticate=accounts, index_writer=False)
    ) as client:
        q = {"type": "md5", "hash": item.md5}
        r = client.get("/api/v1/lookup", params=q, headers={"Authorization": "Bearer viewer"})
        assert r.status_code == 403
        r = client.get("/api/v1/lookup", params=q, headers={"Authorization": "Bearer stranger"})
        assert r.status_code == 200 and r.json()["results"][0]["matches"] == []
        banks = client.get("/c/banks", headers={"Authorization": "Bearer stranger"}).json()
        assert banks == []


def test_media_reads_follow_the_level(served: Served) -> None:
    own, birch = served.items[0], _birch(served)
    mine = served.client.get(f"/api/v1/media/{own.media_id}", headers=AUTH).json()
    assert mine["level"] == "full" and len(mine["sightings"]) == 1
    _share(served, "status")
    other = served.client.get(f"/api/v1/media/{birch.sha256}", headers=AUTH)
    assert other.status_code == 200
    assert other.json()["level"] == "status" and other.json()["sightings"] == []
    _share(served, "none")
    gone = served.client.get(f"/api/v1/media/{birch.media_id}", headers=AUTH)
    missing = served.client.get("/api/v1/media/999999", headers=AUTH)
    assert gone.status_code == missing.status_code == 404
    page = served.client.get("/api/v1/media", params={"limit": 100}, headers=AUTH).json()
    assert birch.media_id not in [m["id"] for m in page["items"]]
    assert own.media_id in [m["id"] for m in page["items"]]
