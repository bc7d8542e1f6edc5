"""Plain single lookups answered beside FastAPI (``tessera.api.fast_lookup``).

The oracle is FastAPI's own route: the same lookup with a default spelt out
(``radius=31``; HMA's ``bypass_coinflip=false``), a parameter the fast path does not
take, goes through routing, dependencies and validation, and must answer the same
status, type and bytes, and leave the same audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.api.fast_lookup import PLAIN, FastLookup
from tessera.app import App, Caller, Role, Settings, audit
from tessera.errors import Unauthenticated
from tests.api.conftest import AUTH, Served
from tests.seeding import flip_bits, random_pdq, seed

VIEWER = {"Authorization": "Bearer tsr_viewer"}


@pytest.fixture
def served_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query strings the fast path answered itself."""
    calls: list[str] = []
    real: Callable[..., Any] = FastLookup._serve

    async def spy(self: FastLookup, scope: Any, *args: Any) -> None:
        calls.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await real(self, scope, *args)

    monkeypatch.setattr(FastLookup, "_serve", spy)
    return calls


def _both(client: TestClient, params: dict[str, str], headers: dict[str, str]) -> tuple[Any, Any]:
    fast = client.get("/api/v1/lookup", params=params, headers=headers)
    routed = client.get("/api/v1/lookup", params={**params, "radius": "31"}, headers=headers)
    return fast, routed


def test_plain_lookups_answer_what_the_route_answers(
    served: Served, served_calls: list[str]
) -> None:
    a, b = served.items[0], served.items[6]
    assert served.client.get("/api/v1/status", headers=AUTH).status_code == 200  # token checked
    cases = [
        {"type": "pdq", "hash": flip_bits(b.pdq or "", [3, 77, 150])},  # near copy, DE-BKA's
        {"type": "pdq", "hash": a.pdq or ""},
        {"type": "md5", "hash": a.md5.upper()},
        {"type": "sha256", "hash": "0" * 64},  # a miss
        {"type": "sha1", "hash": "ab" * 16},  # the use case refuses it: 422 problem
    ]
    for params in cases:
        fast, routed = _both(served.client, params, AUTH)
        assert fast.status_code == routed.status_code, params
        assert fast.headers["content-type"] == routed.headers["content-type"]
        assert fast.content == routed.content, params
    assert len(served_calls) == len(cases)  # and FastAPI answered the others
    hit = served.client.get("/api/v1/lookup", params=cases[0], headers=AUTH).json()
    assert [(m["media_id"], m["distance"]) for m in hit["results"][0]["matches"]] == [
        (b.media_id, 3)
    ]
    refused = served.client.get("/api/v1/lookup", params=cases[4], headers=AUTH)
    assert refused.status_code == 422 and "queries[0]" in refused.json()["detail"]


def test_what_it_does_not_take_goes_to_fastapi(served: Served, served_calls: list[str]) -> None:
    h = served.items[0].pdq or ""
    # never verified yet: FastAPI checks the token (and the process then knows it)
    first = served.client.get("/api/v1/lookup", params={"type": "pdq", "hash": h}, headers=AUTH)
    assert first.status_code == 200 and served_calls == []
    for params, headers, status in [
        ({"type": "pdq", "hash": h}, {"Authorization": "Bearer nope"}, 401),
        ({"type": "pdq", "hash": h}, {}, 401),
        ({"type": "pdq", "hash": h[:30]}, AUTH, 422),  # too short: FastAPI names the field
        ({"type": "pdq", "hash": "zz" + h[2:]}, AUTH, 422),
        ({"type": "crc32", "hash": h}, AUTH, 422),
        ({"hash": h}, AUTH, 422),
        ({"type": "pdq", "hash": h, "explain": "true"}, AUTH, 200),
    ]:
        r = served.client.get("/api/v1/lookup", params=params, headers=headers)
        assert r.status_code == status, (params, r.text)
        if status == 422:
            assert r.json()["type"].endswith("invalid-input")
            assert r.json()["errors"][0]["field"].startswith("query.")
    repeated = served.client.get(f"/api/v1/lookup?type=pdq&hash={h}&hash={h}", headers=AUTH)
    assert repeated.status_code == 200
    assert served_calls == []
    served.client.get("/api/v1/lookup", params={"hash": h, "type": "pdq"}, headers=AUTH)
    assert served_calls == [f"/api/v1/lookup?hash={h}&type=pdq"]


def test_the_same_audit_entry_and_the_same_role_check(settings: Settings) -> None:
    def accounts(app: App, token: str) -> Caller:
        roles = {"tsr_test_analyst_token": Role.ANALYST, "tsr_viewer": Role.VIEWER}
        if token not in roles:
            raise Unauthenticated("unknown token")
        return Caller(role=roles[token], user_id=1, email="a@example.org", agency_code="NL-NPU")

    import random

    with App(settings) as app:
        (item,) = seed(app.db, [(b"fast-audit", random_pdq(random.Random(3)))])
    api = create_app(settings, authenticate=accounts, poll_interval=0.05, run_jobs=False)
    params = {"type": "sha256", "hash": item.sha256}
    with TestClient(api) as client:
        for headers in (AUTH, VIEWER):
            client.get("/api/v1/status", headers=headers)
        ids: dict[str, str] = {}
        for who, headers in (("analyst", AUTH), ("viewer", VIEWER)):
            for way, extra in (("fast", {}), ("routed", {"radius": "31"})):
                rid = f"req-{who}-{way}"
                r = client.get(
                    "/api/v1/lookup",
                    params={**params, **extra},
                    headers={**headers, "X-Request-ID": rid},
                )
                assert r.headers["x-request-id"] == rid
                assert r.status_code == (200 if who == "analyst" else 403), r.text
                ids[rid] = r.text
        assert ids["req-viewer-fast"] == ids["req-viewer-routed"]
        for way, extra in (("fast", ""), ("routed", "&bypass_coinflip=false")):
            rid = f"req-hma-{way}"
            r = client.get(
                f"/m/lookup?signal_type=sha256&signal={item.sha256}{extra}",
                headers={**AUTH, "X-Request-ID": rid},
            )
            assert r.status_code == 200 and r.json() != {}
    with App(settings) as app:
        got = {e.request_id: e for e in audit.show(app, Caller.local_operator())}

    def seen(rid: str) -> tuple[Any, ...]:
        e = got[rid]
        return (e.user, e.agency, e.role, e.action, e.target, e.params_digest, e.result_count)

    fast, routed = seen("req-analyst-fast"), seen("req-analyst-routed")
    assert fast == routed  # the lookup's own parameters digested, its match counted
    assert fast[:5] == ("a@example.org", "NL-NPU", "analyst", "api.lookup_one", None)
    assert fast[6] == 1
    fast, routed = seen("req-hma-fast"), seen("req-hma-routed")
    assert fast == routed and fast[3] == "api.lookup_get" and fast[6] == 1
    fast, routed = seen("req-viewer-fast"), seen("req-viewer-routed")
    # refused before the use case named its parameters: each digest is of its query
    # string (which differs by the spelt-out radius)
    assert (
        fast[:5] == routed[:5] == ("a@example.org", "NL-NPU", "viewer", "api.lookup_one:403", None)
    )
    assert fast[6] is None and routed[6] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"type=pdq&hash=" + b"a" * 64, ("pdq", "a" * 64)),
        (b"hash=" + b"A" * 32 + b"&type=md5", ("md5", "A" * 32)),
        (b"type=pdq&hash=%41" + b"a" * 63, ("pdq", "A" + "a" * 63)),
        (b"type=pdq", None),
        (b"type=pdq&hash=" + b"a" * 64 + b"&radius=31", None),
        (b"type=pdq&hash=" + b"a" * 64 + b"&", None),
        (b"type=pdq&type=md5&hash=" + b"a" * 64, None),
        (b"type=pdq&hash=" + b"a" * 31, None),
        (b"type=pdq&hash=" + b"a" * 65, None),
        (b"type=PDQ&hash=" + b"a" * 64, None),
        (b"type=pdq&hash=" + b"g" * 64, None),
        (b"type=pdq&hash=" + b"a" * 63 + b"%0A", None),
        ("type=pdq&hash=é".encode(), None),
        (b"", None),
    ],
)
def test_plain_query(query: bytes, expected: tuple[str, str] | None) -> None:
    (v1,) = [p for p in PLAIN if p.path == "/api/v1/lookup"]
    assert v1.query(query) == expected


def test_hma_lookup_answers_what_the_route_answers(served: Served, served_calls: list[str]) -> None:
    a, b = served.items[0], served.items[6]
    assert served.client.get("/c/banks", headers=AUTH).status_code == 200  # token checked
    cases = [
        f"signal_type=pdq&signal={flip_bits(b.pdq or '', [1, 2, 200])}",  # Series Birch
        f"signal_type=pdq&signal={a.pdq}",
        f"signal=%20{a.md5.upper()}&signal_type=video_md5",  # stripped, lowered by the route
        f"signal_type=sha256&signal={'0' * 64}",  # no match: {}
        "signal_type=pdq&signal=banana",  # the route's own check: 422
        f"signal_type=tmk&signal={a.pdq}",  # no such signal type: 422
    ]
    for q in cases:
        fast = served.client.get(f"/m/lookup?{q}", headers=AUTH)
        routed = served.client.get(f"/m/lookup?{q}&bypass_coinflip=false", headers=AUTH)
        assert fast.status_code == routed.status_code, (q, fast.text, routed.text)
        assert fast.headers["content-type"] == routed.headers["content-type"]
        assert fast.content == routed.content, q
    assert served_calls == [f"/m/lookup?{q}" for q in cases]
    near = served.client.get(f"/m/lookup?{cases[0]}", headers=AUTH).json()
    assert near == {"Series Birch": [{"bank_content_id": b.media_id, "distance": "3"}]}
    assert served.client.get(f"/m/lookup?{cases[3]}", headers=AUTH).json() == {}
    # what it does not take: FastAPI's answers, as before
    long = served.client.get(f"/m/lookup?signal_type=pdq&signal={'a' * 201}", headers=AUTH)
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "query.signal"
    banks = served.client.get(f"/m/lookup?{cases[1]}&banks=Nope", headers=AUTH)
    assert banks.status_code == 200 and banks.json() == {}
    fetch = served.client.get("/m/lookup?url=http://127.0.0.1/x.jpg", headers=AUTH)
    assert fetch.status_code == 422
    assert len(served_calls) == len(cases) + 2
