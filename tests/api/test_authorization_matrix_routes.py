"""The authorization matrix over the REST routes: route x role x resource, 0 leaks.

The same world and hand-written expectations as the application-layer matrix
(``tests/app/sharing_world``), asked through HTTP with real accounts: one user
per role in agency ``NL-B``, each with a bearer token from ``tessera.app.accounts``.
A series the caller may not see answers 404 problem+json, never 403; every
response body is searched for every resource's secrets above the caller's level.
On SQLite, and on PostgreSQL served through a login role without BYPASSRLS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tessera.api.factory import create_app
from tessera.app import App, Caller, Settings, accounts
from tessera.storage.db import Database
from tests.app.sharing_world import (
    CALLER_AGENCY,
    EXPECTED,
    RANK,
    RESOURCES,
    build,
    digest,
    pg_service_world,
    secrets,
    series_name,
    word,
)

ROLES = ["viewer", "analyst", "curator", "admin", "operator"]
ROUTES = [
    "GET /api/v1/media/{sha256}",
    "GET /api/v1/media?series=",
    "GET /api/v1/search-text",
    "GET /api/v1/markers/{id}/find",
    "GET /api/v1/cases/{number}",
    "GET /api/v1/series/{name}",
    "GET /api/v1/series",
    "GET /api/v1/lookup",
    "GET /m/raw_lookup",
    "GET /m/lookup",
    "GET /c/banks",
]


class Served:
    def __init__(
        self, client: TestClient, tokens: dict[str, str], ids: dict[str, dict[str, int]]
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.ids = ids

    def get(self, role: str, url: str) -> Any:
        return self.client.get(url, headers={"Authorization": f"Bearer {self.tokens[role]}"})


def _users(settings: Settings) -> dict[str, str]:
    op = Caller.local_operator()
    tokens = {}
    with App(settings) as app:
        for role in ROLES:
            email = f"{role}@b.example"
            accounts.create_user(app, op, email, agency=CALLER_AGENCY, role=role, password=None)
            tokens[role] = accounts.create_token(app, op, email).token
    return tokens


@pytest.fixture(scope="module", params=["sqlite", "postgresql-rls"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("routes")
    if request.param == "sqlite":
        db = Database(f"sqlite:///{home / 'tessera.sqlite'}")
        db.migrate()
        with db.session() as s:
            ids = build(s)
        db.dispose()
        settings = Settings.for_home(home)
        tokens = _users(settings)
        with TestClient(create_app(settings, poll_interval=0.05)) as client:
            yield Served(client, tokens, ids)
    else:
        for owner, service, pg_ids in pg_service_world():
            tokens = _users(Settings.for_home(home, database_url=owner.url))
            settings = Settings.for_home(home, database_url=service.url)
            with TestClient(create_app(settings, poll_interval=0.05)) as client:
                yield Served(client, tokens, pg_ids)


def _assert_no_leak(body: str, role: str) -> None:
    for res in RESOURCES:
        have = RANK[EXPECTED[res]]
        for need, words in secrets(res).items():
            if have < RANK[need]:
                for w in words:
                    assert w not in body, f"{w} leaked to {role} (has {EXPECTED[res]})"


@pytest.mark.parametrize("res", list(RESOURCES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES)
def test_routes(served: Served, route: str, role: str, res: str) -> None:
    level, name, sha = EXPECTED[res], series_name(res), digest(res).hex()
    sees_status = RANK[level] >= RANK["status"]
    url = {
        "GET /api/v1/series/{name}": f"/api/v1/series/{quote(name)}",
        "GET /api/v1/series": "/api/v1/series",
        "GET /api/v1/lookup": f"/api/v1/lookup?type=sha256&hash={sha}",
        "GET /m/raw_lookup": f"/m/raw_lookup?signal_type=sha256&signal={sha}&include_distance=true",
        "GET /m/lookup": f"/m/lookup?signal_type=sha256&signal={sha}",
        "GET /c/banks": "/c/banks",
        "GET /api/v1/media/{sha256}": f"/api/v1/media/{sha}",
        "GET /api/v1/media?series=": f"/api/v1/media?series={quote(name)}",
        "GET /api/v1/search-text": f"/api/v1/search-text?q={word(res)}",
        "GET /api/v1/markers/{id}/find": f"/api/v1/markers/{served.ids[res]['marker']}/find",
        "GET /api/v1/cases/{number}": f"/api/v1/cases/C-{res}?agency={RESOURCES[res][0]}",
    }[route]
    never = {  # the same request for something that never existed
        "GET /api/v1/series/{name}": (name, "/api/v1/series/S-never-existed", "S-never-existed"),
        "GET /api/v1/media/{sha256}": (sha, f"/api/v1/media/{'f' * 64}", "f" * 64),
        "GET /api/v1/media?series=": (name, "/api/v1/media?series=S-never", "S-never"),
        "GET /api/v1/markers/{id}/find": (
            str(served.ids[res]["marker"]),
            "/api/v1/markers/999999/find",
            "999999",
        ),
        "GET /api/v1/cases/{number}": (
            f"C-{res}",
            f"/api/v1/cases/C-never?agency={RESOURCES[res][0]}",
            "C-never",
        ),
    }
    r = served.get(role, url)
    if r.status_code == 404:  # exactly the answer for something that never existed
        asked, other_url, other = never[route]
        assert r.headers["content-type"].startswith("application/problem+json")
        absent = served.get(role, other_url)
        mine, theirs = r.json(), absent.json()
        mine["detail"] = mine["detail"].replace(asked, "X")
        theirs["detail"] = theirs["detail"].replace(other, "X")
        assert mine == theirs and absent.status_code == 404
        _assert_no_leak(r.text.replace(name, "(asked)"), role)
    else:
        _assert_no_leak(r.text, role)
    expect_404 = {
        "GET /api/v1/series/{name}": not sees_status,
        "GET /api/v1/media/{sha256}": not sees_status,
        "GET /api/v1/media?series=": not sees_status,
        "GET /api/v1/markers/{id}/find": level != "full",
        "GET /api/v1/cases/{number}": res != "own",  # cases are none until shared
    }.get(route, False)
    if expect_404:
        assert r.status_code == 404, r.text
        return
    lookup_route = route in ("GET /api/v1/lookup", "GET /m/raw_lookup", "GET /m/lookup")
    if lookup_route and role == "viewer":
        assert r.status_code == 403  # the viewer may see the series, not run lookups
        return
    if route == "GET /api/v1/series/{name}":
        assert r.status_code == 200
        body = r.json()
        assert body["name"] == name and body["level"] == level
        assert len(body["markers"]) == (1 if level == "full" else 0)
        assert (body["sharing"] is not None) == (res == "own")
        return
    assert r.status_code == 200, r.text
    body = r.json()
    if route == "GET /api/v1/series":
        assert [x["level"] for x in body if x["name"] == name] == ([level] if sees_status else [])
    elif route == "GET /c/banks":
        assert (name in {b["name"] for b in body}) == sees_status
    elif route == "GET /api/v1/media/{sha256}":
        assert body["level"] == level and body["media"]["series"] == [name]
        assert (f"text-{res} {word(res)}" in body["text"]) == (level == "full")
        assert [m["note"] for m in body["markers"]] == (
            [f"marker-{res}"] if level == "full" else []
        )
        # sightings are their case's (cases are none until shared): the owner's only
        assert len(body["sightings"]) == (1 if res == "own" else 0)
    elif route == "GET /api/v1/media?series=":
        assert [m["sha256"] for m in body["items"]] == [sha]
    elif route == "GET /api/v1/search-text":
        assert [h["sha256"] for h in body["hits"]] == ([sha] if level == "full" else [])
    elif route == "GET /api/v1/markers/{id}/find":
        assert body["marker"] == served.ids[res]["marker"]
    elif route == "GET /api/v1/cases/{number}":
        assert body["number"] == "C-own"
    elif route == "GET /api/v1/lookup":
        matches = body["results"][0]["matches"]
        assert len(matches) == (0 if level == "none" else 1)
        if level == "hash":
            assert matches[0]["series"] == [] and matches[0]["contacts"] == ["a@example.org"]
        assert [s["name"] for s in body["series"]] == ([name] if sees_status else [])
    elif route == "GET /m/raw_lookup":  # a bank = a series the caller may see by name
        assert len(body["matches"]) == (1 if sees_status else 0)
    else:
        assert list(body) == ([name] if sees_status else [])


@pytest.mark.parametrize("role", ROLES)
def test_stats_route(served: Served, role: str) -> None:
    r = served.get(role, "/api/v1/stats")
    assert r.status_code == 200
    _assert_no_leak(r.text, role)
    body = r.json()
    assert body["series"] == sum(1 for lv in EXPECTED.values() if RANK[lv] >= RANK["status"])
    assert body["media"] == sum(1 for lv in EXPECTED.values() if RANK[lv] >= RANK["hash"])


def test_unknown_and_missing_tokens_see_nothing(served: Served) -> None:
    for headers in ({}, {"Authorization": "Bearer tsr_nope_nope"}):
        r = served.client.get(f"/api/v1/series/{quote(series_name('default'))}", headers=headers)
        assert r.status_code == 401
        _assert_no_leak(r.text, "anonymous")
        assert json.loads(r.text).get("status") == 401
