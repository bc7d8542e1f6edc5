"""Every route of the OpenAPI leaves one audit entry per authenticated call.

Requests go to every operation the served OpenAPI document lists, each with its
own ``X-Request-ID``; after the server stops (its audit queue flushed), the log
must hold exactly one entry per request id, naming the route, the caller and (for
reads) the number of results. The health probe ``GET /status`` is the one
operation without a caller and leaves none; neither do rejected tokens.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.api.auth import TokenCache
from tessera.app import App, Caller, Role, Settings, audit
from tessera.errors import Unauthenticated
from tests.api.conftest import AUTH, fake_accounts
from tests.seeding import Seeded, random_pdq, seed

UNAUTHENTICATED = {("GET", "/status")}
"""The health probe: answers anyone, so it has no caller to record."""


def _fill(path: str) -> str:
    """A concrete URL for a templated path (ids that mostly do not exist: a 404 is
    still a call, and still audited)."""
    out = []
    for part in path.split("/"):
        out.append("1" if part.startswith("{") else part)
    return "/".join(out)


def _entries(settings: Settings) -> list[audit.AuditEntryView]:
    with App(settings) as app:
        return audit.show(app, Caller.local_operator())


def _served(settings: Settings, flush: float) -> TestClient:
    return TestClient(
        create_app(
            settings,
            authenticate=fake_accounts,
            poll_interval=0.05,
            run_jobs=False,
            audit_flush_seconds=flush,
        )
    )


@pytest.fixture
def seeded(settings: Settings) -> Iterator[tuple[Settings, list[Seeded]]]:
    import random

    rng = random.Random(5)
    with App(settings) as app:
        items = seed(app.db, [(f"audit-{i}".encode(), random_pdq(rng)) for i in range(3)])
    yield settings, items


def test_every_openapi_operation_is_audited(seeded: tuple[Settings, list[Seeded]]) -> None:
    settings, _ = seeded
    api = create_app(settings, authenticate=fake_accounts, poll_interval=0.05, run_jobs=False)
    sent: dict[str, tuple[str, str]] = {}
    with TestClient(api) as client:
        spec = client.get("/openapi.json").json()
        operations = {
            (method.upper(), path): op["operationId"]
            for path, ops in spec["paths"].items()
            for method, op in ops.items()
        }
        assert len(operations) > 40
        for method, path in sorted(operations):
            rid = uuid.uuid4().hex
            headers = {**AUTH, "X-Request-ID": rid}
            r = client.request(method, _fill(path), headers=headers)
            assert r.headers["x-request-id"] == rid
            assert r.status_code < 500, (method, path, r.text)
            sent[rid] = (method, path)
        # a rejected token is not a caller: no entry
        bad = client.get("/api/v1/series", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
    by_id: dict[str, list[audit.AuditEntryView]] = {}
    for e in _entries(settings):
        by_id.setdefault(e.request_id, []).append(e)
    for rid, (method, path) in sent.items():
        got = by_id.get(rid, [])
        if (method, path) in UNAUTHENTICATED:
            assert got == [], (method, path)
            continue
        assert len(got) >= 1, f"{method} {path}: no audit entry"
        request_entries = [e for e in got if e.action.startswith("api.")]
        assert len(request_entries) == 1, (method, path, [e.action for e in got])
        e = request_entries[0]
        route = e.action.split(":")[0].removeprefix("api.")  # FastAPI's operation ids
        assert operations[(method, path)].startswith(f"{route}_"), (method, path, e.action)
        assert (e.user, e.agency, e.role) == ("a@example.org", "NL-NPU", "analyst")
    assert {e.user for e in _entries(settings)} <= {"a@example.org", *_local()}


def _local() -> set[str]:
    return {audit.actor(Caller.local_operator())}


def test_read_entries_name_route_count_and_parameters(
    seeded: tuple[Settings, list[Seeded]],
) -> None:
    settings, items = seeded
    with _served(settings, flush=60.0) as client:  # nothing flushed before the stop
        listed = client.get("/api/v1/series", headers={**AUTH, "X-Request-ID": "req-series-1"})
        assert len(listed.json()) == 1
        page = client.get(
            "/api/v1/media", params={"limit": 2}, headers={**AUTH, "X-Request-ID": "req-media-1"}
        )
        assert len(page.json()["items"]) == 2
        missing = client.get("/api/v1/series/Nope", headers={**AUTH, "X-Request-ID": "req-404-1"})
        assert missing.status_code == 404
        q = items[0].sha256
        hit = client.get(
            "/api/v1/lookup",
            params={"type": "sha256", "hash": q},
            headers={**AUTH, "X-Request-ID": "req-lookup-1"},
        )
        assert hit.json()["matched"] == 1
        body = {"queries": [{"type": "sha256", "hash": q}, {"type": "md5", "hash": "0" * 32}]}
        raw = json.dumps(body).encode()
        batch = client.post(
            "/api/v1/lookup",
            content=raw,
            headers={**AUTH, "X-Request-ID": "req-batch-1", "Content-Type": "application/json"},
        )
        assert batch.json()["matched"] == 1
        assert _entries(settings) == []  # queued, not yet written
    got = {e.request_id: e for e in _entries(settings)}
    assert (got["req-series-1"].action, got["req-series-1"].result_count) == ("api.list_series", 1)
    assert (got["req-media-1"].action, got["req-media-1"].result_count) == ("api.list_media", 2)
    assert (got["req-404-1"].action, got["req-404-1"].result_count) == ("api.show_series:404", None)
    assert (got["req-lookup-1"].action, got["req-lookup-1"].result_count) == ("api.lookup_one", 1)
    assert (got["req-batch-1"].action, got["req-batch-1"].result_count) == ("api.lookup_batch", 1)
    # one entry per request: the lookup use case filled the request's entry, no second one
    assert sorted(e.action for e in got.values()).count("lookup") == 0
    # the digest is over the parameters: different for different queries, and not the
    # digest of an empty call
    digests = {e.params_digest for e in got.values()}
    assert len(digests) == 5
    assert hashlib.sha256(b"{}").hexdigest() not in digests
    with App(settings) as app:  # the batches chain and verify like single entries
        assert audit.verify(app, Caller.local_operator()).ok


def test_writes_immediately_with_zero_flush(settings: Settings) -> None:
    with _served(settings, flush=0.0) as client:
        client.get("/api/v1/agencies", headers={**AUTH, "X-Request-ID": "req-now-1"})
        assert [e.request_id for e in _entries(settings)] == ["req-now-1"]


def test_queue_batches_entries_in_one_transaction(settings: Settings) -> None:
    with App(settings) as app:
        queue = audit.AuditQueue(app, interval=60.0)
        queue.start()
        caller = Caller(role=Role.ANALYST, user_id=7, email="q@example.org", agency_code="NL-NPU")
        for i in range(25):
            queue.put(audit.pending(caller, "api.test", params={"i": i}, result_count=i))
        assert audit.show(app, Caller.local_operator()) == []
        queue.stop()
        assert (queue.written, queue.batches) == (25, 1)
        got = audit.show(app, Caller.local_operator())
        assert [e.result_count for e in got] == list(range(25))
        assert audit.verify(app, Caller.local_operator()).ok


def test_token_cache_bounds_revocation(tmp_path: Path) -> None:
    """A verified token is trusted for ``ttl`` seconds, then checked again."""
    revoked: set[str] = set()
    asked: list[str] = []

    def accounts(app: App, token: str) -> Caller:
        asked.append(token)
        if token in revoked:
            raise Unauthenticated("revoked")
        return Caller(role=Role.ANALYST, user_id=1, email="a@example.org", agency_code="NL")

    now = [100.0]
    cache = TokenCache(accounts, ttl=5.0, clock=lambda: now[0])
    app = App(Settings.for_home(tmp_path / "h"))  # not opened: the stand-in ignores it
    assert cache.cached("tok") is None  # never verified: the event loop must not answer
    first = cache(app, "tok")
    assert asked == ["tok"]
    fast = cache.cached("tok")  # what current_caller answers without a thread
    assert fast is not None and fast.email == first.email and fast.request_id != first.request_id
    named = cache.cached("tok", "req-0001")  # the request's own id (its audit entry's)
    assert named is not None and named.request_id == "req-0001" and named.email == first.email
    assert cache.cached("other") is None
    second = cache(app, "tok")
    assert asked == ["tok"]  # the second came from the cache
    assert first.request_id != second.request_id and first.email == second.email
    revoked.add("tok")
    now[0] += 4.9
    assert cache(app, "tok").email == "a@example.org"  # still within the stated bound
    now[0] += 0.2
    assert cache.cached("tok") is None  # past the bound: asked again, in a thread
    with pytest.raises(Unauthenticated):
        cache(app, "tok")
    with pytest.raises(Unauthenticated):  # failures are not cached
        cache(app, "tok")
    assert asked == ["tok", "tok", "tok"]
    revoked.clear()
    cache(app, "tok")
    cache.forget_all()
    cache(app, "tok")
    assert len(asked) == 5
    no_cache = TokenCache(accounts, ttl=0)
    no_cache(app, "x")
    assert no_cache.cached("x") is None
    no_cache(app, "x")
    assert asked[-2:] == ["x", "x"]
