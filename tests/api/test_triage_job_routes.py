"""Triage jobs over the API: fingerprints in, a background job, the shared report out."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.app import App, Caller, Role, Settings, audit
from tessera.app import triage_jobs as jobs
from tessera.app.sharing import share_series
from tessera.errors import NotFound
from tessera.storage import triage_jobs as job_rows
from tessera.storage.models import TriageJob
from tests.api.conftest import AUTH, Served, fake_accounts
from tests.seeding import flip_bits, random_pdq

ROUTE = "/api/v1/triage/jobs"


def _record(path: str, content: bytes, pdq: str | None = None) -> dict[str, Any]:
    """One entry as ``tessera hash --json`` writes it (digests from hashlib)."""
    return {
        "path": path,
        "status": "ok",
        "size": len(content),
        "md5": hashlib.md5(content).hexdigest(),
        "sha1": hashlib.sha1(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
        "pdq": pdq,
        "quality": 100 if pdq else None,
        "format": "jpeg",
        "width": 64,
        "height": 64,
        "flags": [],
        "decode_scale": 1,
        "error": None,
    }


def _wait(client: TestClient, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"{ROUTE}/{job_id}", headers=AUTH).json()
        if body["state"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {body['state']}")


def _by_path(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in result["results"]}


def test_job_triages_sent_fingerprints_with_sharing_applied(served: Served) -> None:
    amber, birch = served.items[0], served.items[5]
    rng = random.Random(5)
    doc = {
        "results": [
            _record("seized/a.jpg", amber.content),  # exact (SHA-256)
            _record("seized/b.jpg", b"edited", flip_bits(served.items[1].pdq or "", [1, 2])),
            _record("seized/c.jpg", birch.content),  # DE-BKA's series, shared at none below
            _record("seized/d.jpg", b"never seen", random_pdq(rng)),
            {"path": "seized/e.jpg", "status": "error", "error": {"reason": "truncated"}},
        ],
        "summary": {"files": 5},
    }
    with App(served.settings) as app:
        share_series(app, Caller.local_operator(), "Series Birch", "none", network=True)
    r = served.client.post(ROUTE, json=doc, headers=AUTH)
    assert r.status_code == 202, r.text
    assert r.json()["state"] in ("queued", "running", "done")
    assert r.json()["total"] == 5
    body = _wait(served.client, r.json()["id"])
    assert body["state"] == "done", body
    assert body["done"] == 5
    got = _by_path(body["result"])
    assert got["seized/a.jpg"]["status"] == "known"
    assert got["seized/b.jpg"]["status"] == "near"
    assert got["seized/c.jpg"]["status"] == "new"  # a series shared at none does not exist
    assert got["seized/d.jpg"]["status"] == "new"
    assert got["seized/e.jpg"]["status"] == "error"
    assert [s["name"] for s in body["result"]["series"]] == ["Series Amber"]
    listed = served.client.get(ROUTE, headers=AUTH).json()
    assert [j["id"] for j in listed] == [body["id"]] and listed[0]["result"] is None
    with App(served.settings) as app:
        log = audit.show(app, Caller.local_operator())
    mine = [(e.action, e.result_count) for e in log if e.target == body["id"]]
    assert mine == [("triage-job-submit", 5), ("triage", 2)]  # a.jpg known, b.jpg near


def test_bad_document_is_rejected_whole_naming_the_record(served: Served) -> None:
    bad = _record("x.jpg", b"x")
    bad["sha256"] = "zz" * 32
    r = served.client.post(ROUTE, json={"results": [_record("ok.jpg", b"o"), bad]}, headers=AUTH)
    assert r.status_code == 422
    assert "results[1].sha256" in r.json()["detail"]
    with App(served.settings) as app, app.transaction() as s:
        assert s.query(TriageJob).count() == 0
    assert served.client.post(ROUTE, json={"results": []}, headers=AUTH).status_code == 422
    odd = _record("odd.jpg", b"odd")
    odd["flags"] = 5  # not a list: ignored, not a server error
    odd["dihedral"] = {"rot90": "zz" * 32}
    r = served.client.post(ROUTE, json={"results": [odd]}, headers=AUTH)
    assert r.status_code == 422 and "results[0].dihedral" in r.json()["detail"]
    del odd["dihedral"]
    assert served.client.post(ROUTE, json={"results": [odd]}, headers=AUTH).status_code == 202


def test_oversized_job_documents_are_413_before_read_whole(served: Served) -> None:
    """The job route takes documents up to its own limit (16 MiB, above the 4 MiB of
    other JSON bodies); over it: 413, no job queued. (A chunked body cut off as it
    streams, against a real server: tests/api/test_serve.py.)"""
    from tessera.api.limits import JSON_BODY_LIMIT, TRIAGE_JOB_LIMIT

    json_type = {**AUTH, "Content-Type": "application/json"}
    between = b'{"results": []' + b" " * (JSON_BODY_LIMIT + 1024) + b"}"
    r = served.client.post(ROUTE, content=between, headers=json_type)
    assert r.status_code == 422  # read and validated: under the job route's limit

    over = b"{" + b" " * TRIAGE_JOB_LIMIT + b"}"
    r = served.client.post(ROUTE, content=over, headers=json_type)
    assert r.status_code == 413 and r.json()["limit"] == TRIAGE_JOB_LIMIT

    assert served.client.get(ROUTE, headers=AUTH).json() == []


def test_unknown_and_others_jobs_do_not_exist(served: Served) -> None:
    r = served.client.post(ROUTE, json={"results": [_record("a", b"a")]}, headers=AUTH)
    job_id = r.json()["id"]
    other = Caller(role=Role.ANALYST, user_id=2, email="b@example.org", agency_code="DE-BKA")
    with App(served.settings) as app:
        with pytest.raises(NotFound):
            jobs.status(app, other, job_id)
        with pytest.raises(NotFound):
            jobs.cancel(app, other, job_id)
    assert served.client.get(f"{ROUTE}/{'0' * 32}", headers=AUTH).status_code == 404
    assert served.client.get(f"{ROUTE}/{job_id}").status_code == 401


def test_cancel_queued_and_running_jobs(tmp_path: Any) -> None:
    settings = Settings.for_home(tmp_path / "home")
    with App(settings) as app:
        app.migrate()
    api = create_app(settings, authenticate=fake_accounts, run_jobs=False)
    docs = [_record(f"f{i}.jpg", f"c{i}".encode()) for i in range(6)]
    with TestClient(api) as client:
        queued = client.post(ROUTE, json={"results": docs}, headers=AUTH).json()["id"]
        r = client.delete(f"{ROUTE}/{queued}", headers=AUTH)
        assert r.json()["state"] == "cancelled"
        # a fresh one: cancel requested while running -> cancelled at the next chunk
        third = client.post(ROUTE, json={"results": docs}, headers=AUTH).json()["id"]
        with App(settings) as app:
            with app.transaction() as s:
                row = job_rows.by_public_id(s, third)
                assert row is not None
                assert job_rows.claim(s, row.id, "queued", 0, jobs._now())
            client.post(f"{ROUTE}/{third}/cancel", headers=AUTH)
            jobs._run(app, row.id, chunk=2)
        body = client.get(f"{ROUTE}/{third}", headers=AUTH).json()
        assert body["state"] == "cancelled" and body["done"] == 2 and body["result"] is None


def test_job_left_by_a_dead_worker_is_resumed_then_failed_after_retries(tmp_path: Any) -> None:
    settings = Settings.for_home(tmp_path / "home")
    with App(settings) as app:
        app.migrate()
    api = create_app(settings, authenticate=fake_accounts, run_jobs=False)
    with TestClient(api) as client:
        job_id = client.post(ROUTE, json={"results": [_record("a", b"a")]}, headers=AUTH).json()[
            "id"
        ]
        with App(settings) as app:
            with app.transaction() as s:  # a worker claims it and dies (no heartbeat after)
                row = job_rows.by_public_id(s, job_id)
                assert row is not None and job_rows.claim(s, row.id, "queued", 0, jobs._now())
            assert jobs.run_one(app) is False  # its heartbeat is fresh: not taken over
            assert jobs.run_one(app, stale=timedelta(0)) is True  # after the stale limit
        body = client.get(f"{ROUTE}/{job_id}", headers=AUTH).json()
        assert body["state"] == "done" and body["attempts"] == 2
        assert _by_path(body["result"])["a"]["status"] == "new"

        doomed = client.post(ROUTE, json={"results": [_record("b", b"b")]}, headers=AUTH).json()[
            "id"
        ]
        with App(settings) as app:
            for n in range(jobs.MAX_ATTEMPTS):
                with app.transaction() as s:
                    row = job_rows.by_public_id(s, doomed)
                    assert row is not None
                    assert job_rows.claim(s, row.id, row.state, n, jobs._now())
            assert jobs.run_one(app, stale=timedelta(0)) is False
        body = client.get(f"{ROUTE}/{doomed}", headers=AUTH).json()
        assert body["state"] == "failed"
        assert "interrupted 3 times" in body["error"]


def test_jobs_on_postgresql(tmp_path: Any) -> None:
    """The same contract on PostgreSQL: submit, run in the background, shared result;
    a job left running by a dead worker is taken over by exactly one claimant."""
    from tests.seeding import seed
    from tests.storage.conftest import _pg_database

    for db in _pg_database():
        settings = Settings.for_home(tmp_path / "home", database_url=db.url)
        rng = random.Random(3)
        with App(settings) as app:
            amber = seed(app.db, [(b"pg-a", random_pdq(rng))])
            seed(app.db, [(b"pg-b", random_pdq(rng))], agency="DE-BKA", series="Series Birch")
            share_series(app, Caller.local_operator(), "Series Birch", "hash", network=True)
        api = create_app(settings, authenticate=fake_accounts, poll_interval=0.05)
        with TestClient(api) as client:
            doc = {"results": [_record("a", amber[0].content), _record("b", b"pg-b")]}
            r = client.post(ROUTE, json=doc, headers=AUTH)
            assert r.status_code == 202
            body = _wait(client, r.json()["id"])
            assert body["state"] == "done"
            got = _by_path(body["result"])
            assert got["a"]["status"] == "known"
            assert got["b"]["status"] == "known"  # known to the network, series not named
            assert [s["name"] for s in body["result"]["series"]] == ["Series Amber"]
        with App(settings) as app:
            job = jobs.submit(app, Caller(role=Role.ANALYST, email="c@x", agency_code="NL-NPU"), [])
            with app.transaction() as s:
                row = job_rows.by_public_id(s, job.id)
                assert row is not None
                first = job_rows.claim(s, row.id, "queued", 0, jobs._now())
            with app.transaction() as s:
                second = job_rows.claim(s, row.id, "queued", 0, jobs._now())
            assert (first, second) == (True, False)


def test_job_of_a_disabled_account_is_not_run(tmp_path: Any) -> None:
    from tessera.app.accounts import create_user, disable_user
    from tests.seeding import ensure_agency

    settings = Settings.for_home(tmp_path / "home")
    with App(settings) as app:
        app.migrate()
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "gone@example.org", agency="NL-NPU", role="analyst", password=None)
        who = Caller(role=Role.ANALYST, email="gone@example.org", agency_code="NL-NPU")
        job = jobs.submit(app, who, [_record("a", b"a")])
        disable_user(app, op, "gone@example.org")
        assert jobs.run_one(app) is True
        after = jobs.status(app, who, job.id)
    assert after.state == "failed" and after.error == "the submitting account is disabled"
    assert after.result is None
