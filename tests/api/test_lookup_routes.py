"""/api/v1 lookups: exact and PDQ, batches, problem documents, auth and body limits."""

from __future__ import annotations

import time

from tests.api.conftest import AUTH, Served
from tests.seeding import flip_bits, seed


def test_exact_lookups_by_each_digest(served: Served) -> None:
    item = served.items[1]
    for kind in ("md5", "sha1", "sha256"):
        r = served.client.get(
            "/api/v1/lookup", params={"type": kind, "hash": getattr(item, kind)}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        body = r.json()
        (answer,) = body["results"]
        assert [m["media_id"] for m in answer["matches"]] == [item.media_id]
        assert answer["matches"][0]["match"] == "exact"
        (series,) = body["series"]
        assert series["name"] == "Series Amber" and answer["matches"][0]["series"] == [
            series["series_id"]
        ]


def test_batch_mixes_types_and_keeps_order(served: Served) -> None:
    a, b = served.items[0], served.items[6]
    near = flip_bits(b.pdq or "", [0, 17, 99, 200])
    queries = [
        {"type": "pdq", "hash": near},
        {"type": "md5", "hash": "0" * 32},
        {"type": "sha256", "hash": a.sha256.upper()},
    ]
    r = served.client.post("/api/v1/lookup", json={"queries": queries}, headers=AUTH)
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["index"] for x in res] == [0, 1, 2]
    assert [(m["media_id"], m["distance"], m["match"]) for m in res[0]["matches"]] == [
        (b.media_id, 4, "pdq")
    ]
    assert res[1]["matches"] == []
    assert res[2]["hash"] == a.sha256 and res[2]["matches"][0]["media_id"] == a.media_id
    assert r.json()["matched"] == 2
    tight = served.client.post(
        "/api/v1/lookup", json={"queries": queries[:1], "radius": 3}, headers=AUTH
    )
    assert tight.json()["results"][0]["matches"] == []


def test_batch_limit_and_malformed_hash_name_the_field(served: Served) -> None:
    too_many = [{"type": "md5", "hash": f"{i:032x}"} for i in range(10_001)]
    r = served.client.post("/api/v1/lookup", json={"queries": too_many}, headers=AUTH)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "body.queries" in r.json()["detail"]
    ok = served.client.post("/api/v1/lookup", json={"queries": too_many[:10_000]}, headers=AUTH)
    assert ok.status_code == 200 and len(ok.json()["results"]) == 10_000
    bad = [{"type": "md5", "hash": "0" * 32}, {"type": "pdq", "hash": "zz" * 32}]
    r = served.client.post("/api/v1/lookup", json={"queries": bad}, headers=AUTH)
    assert r.status_code == 422
    doc = r.json()
    assert doc["status"] == 422 and doc["type"].endswith("invalid-input")
    assert [e["field"] for e in doc["errors"]] == ["body.queries[1].hash"]
    wrong_length = {"type": "sha1", "hash": "ab" * 16}
    r = served.client.get("/api/v1/lookup", params=wrong_length, headers=AUTH)
    assert r.status_code == 422 and "queries[0]" in r.json()["detail"]


def test_auth_is_required_and_says_nothing_more(served: Served) -> None:
    params = {"type": "md5", "hash": served.items[0].md5}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        r = served.client.get("/api/v1/lookup", params=params, headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"] == "a valid bearer token is required"
    for path in ("/api/v1/series", "/api/v1/status", "/c/banks", "/m/index/status"):
        assert served.client.get(path).status_code == 401
    health = served.client.get("/status")
    assert health.status_code == 200 and set(health.json()) == {
        "status",
        "index_fresh",
        "index_age_seconds",
    }


def test_unknown_series_is_404_problem(served: Served) -> None:
    r = served.client.get("/api/v1/series/Nope", headers=AUTH)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Not found"
    listed = served.client.get("/api/v1/series", headers=AUTH).json()
    assert sorted(s["name"] for s in listed) == ["Series Amber", "Series Birch"]


def test_oversized_bodies_are_refused_before_reading(served: Served) -> None:
    big = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    r = served.client.post(
        "/api/v1/lookup", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["status"] == 413

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(80):
            yield b" " * 65536

    r = served.client.post(
        "/api/v1/lookup", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_a_hash_committed_elsewhere_is_found_within_a_second(served: Served) -> None:
    """Another process commits a fingerprint; this worker finds it without any reload call."""
    from tessera.app import App

    with App(served.settings) as app:
        (new,) = seed(app.db, [(b"late", "f" * 8 + "0" * 56)], case="LATE")
    start = time.monotonic()
    found = []
    while time.monotonic() - start < 5 and not found:
        r = served.client.get(
            "/api/v1/lookup", params={"type": "pdq", "hash": new.pdq}, headers=AUTH
        )
        found = r.json()["results"][0]["matches"]
        time.sleep(0.02)
    assert [m["media_id"] for m in found] == [new.media_id]
    st = served.client.get("/api/v1/status", headers=AUTH).json()["index"]
    assert st["fresh"] and st["size"] == 10


def test_upload_over_the_limit_is_413(settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from tessera.api import create_app
    from tests.api.conftest import fake_accounts

    api = create_app(settings, authenticate=fake_accounts, upload_limit=4096)
    with TestClient(api) as client:
        r = client.post("/h/hash", files={"photo": ("x.jpg", b"\xff" * 10_000)}, headers=AUTH)
        assert r.status_code == 413 and r.json()["limit"] == 4096
        small = client.post("/h/hash", files={"photo": ("x.jpg", b"\xff" * 100)}, headers=AUTH)
        assert small.status_code == 422  # read, then refused as media it cannot decode
