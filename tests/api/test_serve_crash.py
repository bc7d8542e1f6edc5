"""``kill -9`` of a real ``tessera serve`` (its whole process group, as a crash or the
OOM killer would) in the middle of work sent through the API, then a restart.

* A triage job: the restarted server resumes it (after ``TESSERA_JOB_STALE_SECONDS``)
  and its report has every file sent exactly once; one ``triage`` audit entry.
* A bulk write (an exchange import): killed while it holds the writer lock, nothing
  of it is stored and nothing was acknowledged; sent again, every record is stored
  once, and once more changes nothing.

The audit trail verifies after both crashes. Waits poll with deadlines; nothing
asserts on time.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera.app import App, Caller, Settings, audit
from tessera.app.accounts import create_token, create_user
from tessera.exchange import vics
from tests.api.serving import Server, tessera
from tests.seeding import ensure_agency, random_pdq, seed

STALE_SECONDS = 2


class Node:
    def __init__(self, env: dict[str, str], settings: Settings, token: str) -> None:
        self.env = env
        self.settings = settings
        self.auth = {"Authorization": f"Bearer {token}"}

    def serve(self) -> Server:
        return Server(self.env).wait_ready()

    @property
    def sqlite(self) -> Path:
        return Path(self.settings.database_url.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    home = tmp_path_factory.mktemp("crash") / "home"
    env = {**os.environ, "TESSERA_HOME": str(home), "TESSERA_JOB_STALE_SECONDS": str(STALE_SECONDS)}
    env.pop("TESSERA_DATABASE_URL", None)
    init = tessera("init", env=env)
    assert init.returncode == 0, init.stderr
    settings = Settings.for_home(home)
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "crash@example.org", agency="NL-NPU", role="curator", password=None)
        token = create_token(app, op, "crash@example.org").token
    yield Node(env, settings, token)


def _poll(what: str, check: Any, timeout: float = 120, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def _audit_verifies(settings: Settings) -> list[audit.AuditEntryView]:
    with App(settings) as app:
        op = Caller.local_operator()
        assert audit.verify(app, op).ok
        return audit.show(app, op, limit=100_000)


def test_triage_job_resumes_after_kill_9_without_duplicates_or_gaps(node: Node) -> None:
    rng = random.Random(41)
    with App(node.settings) as app:
        known = seed(app.db, [(f"crash-known-{i}".encode(), random_pdq(rng)) for i in range(20)])
    files = []
    for i in range(3000):  # 12 chunks of 250: the job is killed part-way
        # every 200th file is a known one (its bytes seeded above)
        content = known[i // 200].content if i % 200 == 0 else f"seized file {i}".encode()
        files.append(
            {
                "path": f"/seizure/{i:05d}.jpg",
                "status": "ok",
                "size": len(content),
                "md5": hashlib.md5(content).hexdigest(),
                "sha1": hashlib.sha1(content).hexdigest(),
                "sha256": hashlib.sha256(content).hexdigest(),
                "pdq": random_pdq(rng),
                "quality": 100,
            }
        )
    server = node.serve()
    try:
        with httpx.Client(base_url=server.base, headers=node.auth, timeout=30) as client:
            r = client.post("/api/v1/triage/jobs", json={"results": files})
            assert r.status_code == 202, r.text
            job = r.json()["id"]
            _poll(
                "job running",
                lambda: client.get(f"/api/v1/triage/jobs/{job}").json()["state"] == "running",
            )
    finally:
        server.kill()
    con = sqlite3.connect(node.sqlite)  # the dead server left it running, unfinished
    state, done, total = con.execute(
        "SELECT state, done, total FROM triage_job WHERE public_id = ?", (job,)
    ).fetchone()
    con.close()
    assert state == "running" and done < total == 3000
    server = node.serve()
    try:
        with httpx.Client(base_url=server.base, headers=node.auth, timeout=30) as client:
            view = _poll(
                "job resumed and done",
                lambda: (
                    (v := client.get(f"/api/v1/triage/jobs/{job}").json())["state"]
                    not in ("queued", "running")
                    and v
                ),
                every=0.2,
            )
    finally:
        server.stop()
    assert view["state"] == "done", view
    assert view["attempts"] == 2 and view["done"] == view["total"] == 3000
    paths = [x["path"] for x in view["result"]["results"]]
    assert sorted(paths) == [f["path"] for f in files]  # every file once: no gap, no duplicate
    status = {x["path"]: x["status"] for x in view["result"]["results"]}
    assert sum(s == "known" for s in status.values()) == 3000 // 200
    entries = [e for e in _audit_verifies(node.settings) if e.target == job]
    assert [e.action for e in entries].count("triage") == 1


def _vics(md5s: list[str]) -> bytes:
    return json.dumps(
        {
            "odata.metadata": vics.V1_URL.format(version="1.3", root="Media"),
            "value": [
                {"MediaID": i, "MD5": m.upper(), "Series": "Crash Import"}
                for i, m in enumerate(md5s)
            ],
        }
    ).encode()


def _writer_lock_held(db: Path) -> bool:
    """Another connection holds SQLite's writer lock (BEGIN IMMEDIATE cannot start)."""
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def _stored(db: Path, md5s: list[str]) -> int:
    con = sqlite3.connect(db)
    try:
        wanted = {bytes.fromhex(m) for m in md5s}
        rows = con.execute("SELECT md5 FROM media WHERE md5 IS NOT NULL").fetchall()
        return sum(1 for (m,) in rows if bytes(m) in wanted)
    finally:
        con.close()


def test_bulk_import_killed_mid_write_is_all_or_nothing(node: Node) -> None:
    md5s = [hashlib.md5(f"bulk {i}".encode()).hexdigest() for i in range(20_000)]
    doc = _vics(md5s)
    url = "/api/v1/exchange/import/vics"
    params = {"filename": "crash.json"}
    server = node.serve()
    answer: dict[str, Any] = {}

    def send() -> None:
        try:
            with httpx.Client(base_url=server.base, headers=node.auth, timeout=120) as c:
                answer["response"] = c.post(url, content=doc, params=params)
        except httpx.HTTPError as exc:
            answer["error"] = exc

    sender = threading.Thread(target=send)
    try:
        sender.start()
        # the import holds the writer lock for its whole transaction: kill inside it
        _poll(
            "import writing",
            lambda: all(_writer_lock_held(node.sqlite) and not time.sleep(0.05) for _ in range(3)),
            every=0.02,
        )
    finally:
        server.kill()
        sender.join(timeout=60)
    assert "response" not in answer, "the import was acknowledged before the kill"
    assert _stored(node.sqlite, md5s) == 0  # nothing of the unacknowledged write
    con = sqlite3.connect(node.sqlite)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    server = node.serve()
    try:
        with httpx.Client(base_url=server.base, headers=node.auth, timeout=300) as client:
            first = client.post(url, content=doc, params=params)
            again = client.post(url, content=doc, params=params)
    finally:
        server.stop()
    assert first.status_code == 200, first.text
    assert (first.json()["records"], first.json()["new_media"]) == (20_000, 20_000)
    assert again.status_code == 200 and again.json()["new_media"] == 0
    assert _stored(node.sqlite, md5s) == 20_000  # each once
    imports = [e for e in _audit_verifies(node.settings) if e.action == "exchange.import"]
    assert len(imports) == 2
