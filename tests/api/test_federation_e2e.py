"""Federation end to end on loopback (issue 15, "Done when"): a hub and three nodes,
each a separate ``tessera serve`` process on 127.0.0.1 with its own SQLite home;
``tessera sync`` runs as its own process too.

A shares a series at ``status``; B's triage (through B's server, as a B analyst)
finds the file with A's contact; A revokes it and after the next sync B no longer
sees it; the hub is killed with SIGKILL in the middle of C's pull and restarted,
C's next sync is killed with SIGKILL in turn, and C's resync leaves exact counts;
a tampered delta and a rewritten hub log are both refused. Setup (keys, peers,
agencies, accounts) goes through the use cases in-process to keep the test short.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tessera.app import App, Caller, Settings, audit
from tessera.app.accounts import create_token, create_user
from tessera.app.exchange import import_file
from tessera.app.federation import peers as fed_peers
from tessera.app.federation import request_signing
from tessera.app.federation import share as fed_share
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.merkle import leaf_hash, root_of
from tessera.audit.node_key import load_node_key
from tessera.storage import repo

OP = Caller.local_operator()
BULK = 1200
PAGE = 150


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "TESSERA_HOME": str(home)}
    env.pop("TESSERA_DATABASE_URL", None)
    env.pop("TESSERA_SERVER", None)
    return env


def _tessera(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tessera.cli.main", *args],
        env=env or _env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start(home: Path, port: int, *, hub: bool = False) -> subprocess.Popen[str]:
    args = ["serve", "--port", str(port)] + (["--hub"] if hub else [])
    return subprocess.Popen(
        [sys.executable, "-m", "tessera.cli.main", *args],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"tessera serve exited {proc.returncode}: {err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("tessera serve did not answer within 90 s")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _counts(home: Path) -> tuple[int, int, int]:
    """(live records, all records, media rows) in a node's database."""
    with contextlib.closing(sqlite3.connect(home / "tessera.sqlite")) as db:
        live = db.execute("select count(*) from fed_record where deleted = 0").fetchone()[0]
        total = db.execute("select count(*) from fed_record").fetchone()[0]
        media = db.execute("select count(*) from media").fetchone()[0]
    return int(live), int(total), int(media)


def _feed_after(home: Path) -> int:
    with contextlib.closing(sqlite3.connect(home / "tessera.sqlite", timeout=5)) as db:
        row = db.execute("select feed_after from fed_peer").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[dict[str, Path]]:
    out = {n: tmp_path / n for n in ("hub", "a", "b", "c")}
    for name, home in out.items():
        home.mkdir()
        with App(Settings.for_home(home)) as app:
            app.migrate()
            audit.ensure_node_key(app, f"{name}.test")
    yield out


def test_hub_and_three_nodes(homes: dict[str, Path], tmp_path: Path) -> None:
    ports = {n: _free_port() for n in homes}
    keys = {}
    for n, home in homes.items():
        with App(Settings.for_home(home)) as app:
            keys[n] = fed_peers.signer_of(app).verifier.text()
    hub_url = f"http://127.0.0.1:{ports['hub']}"
    with App(Settings.for_home(homes["hub"])) as hub:
        for n in ("a", "b", "c"):
            fed_peers.add_peer(hub, OP, n, f"http://127.0.0.1:{ports[n]}", keys[n])
    for n, (code, country) in {
        "a": ("NL-A", "NL"),
        "b": ("DE-B", "DE"),
        "c": ("FR-C", "FR"),
    }.items():
        with App(Settings.for_home(homes[n])) as app:
            fed_peers.add_peer(app, OP, "hub", hub_url, keys["hub"])
            with app.transaction() as s:
                repo.create_agency(s, code, country, f"Unit {n.upper()}", f"vid@{n}.example")
    # A's series: the sha256 of a (generated, benign) picture, and a bulk series
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    pixels = np.random.default_rng(15).integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(seizure / "known.png")
    known = hashlib.sha256((seizure / "known.png").read_bytes()).hexdigest()
    (tmp_path / "cedar.txt").write_text(known + "\n")
    (tmp_path / "bulk.txt").write_text(
        "".join(hashlib.sha256(f"bulk{i}".encode()).hexdigest() + "\n" for i in range(BULK))
    )
    with App(Settings.for_home(homes["a"])) as a:
        for f, series in (("cedar.txt", "Series Cedar"), ("bulk.txt", "Bulk")):
            import_file(
                a,
                OP,
                "hashlist",
                tmp_path / f,
                agency_code="NL-A",
                series=series,
                hash_type="sha256",
            )
    with App(Settings.for_home(homes["b"])) as b:
        create_user(b, OP, "analyst@b.example", agency="DE-B", role="analyst", password=None)
        token = create_token(b, OP, "analyst@b.example").token

    procs = {n: _start(homes[n], ports[n], hub=(n == "hub")) for n in homes}
    try:
        for n, p in procs.items():
            _wait(p, ports[n])

        # 1. A pushes (in deltas of 200 records), B pulls; B's triage finds the file
        r = _tessera(homes["a"], "sync", "--delta-size", "200", "--json")
        assert r.returncode == 0, r.stderr
        pushed = json.loads(r.stdout)
        assert pushed["pushed_records"] == 2 + 1 + BULK  # two series, their media
        r = _tessera(homes["b"], "sync", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["applied"] == 2 + 1 + BULK
        client = {
            **_env(tmp_path / "nowhere"),
            "TESSERA_SERVER": f"http://127.0.0.1:{ports['b']}",
            "TESSERA_TOKEN": token,
        }
        r = _tessera(homes["b"], "triage", str(seizure), "--json", "--no-progress", env=client)
        doc = json.loads(r.stdout)
        assert [x["status"] for x in doc["results"]] == ["known"], r.stderr
        (cedar,) = doc["series"]
        assert cedar["name"] == "Series Cedar @a.test"
        assert cedar["owner"]["contact"] == "vid@a.example"
        assert cedar["owner"]["agency"] == "NL-A"
        assert cedar["files_matched"] == 1

        # 2. kill -9 of the hub in the middle of C's pull, then a resync: exact counts
        sync_c = subprocess.Popen(
            [sys.executable, "-m", "tessera.cli.main", "sync", "--page-size", str(PAGE)],
            env=_env(homes["c"]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while _feed_after(homes["c"]) == 0 and sync_c.poll() is None:
            assert time.monotonic() < deadline, "C's sync applied no page within 60 s"
            time.sleep(0.01)
        procs["hub"].send_signal(signal.SIGKILL)
        procs["hub"].wait(timeout=10)
        _, err = sync_c.communicate(timeout=60)
        assert sync_c.returncode != 0, "the hub was killed only after C's sync finished"
        assert "cannot reach hub" in err
        partial = _counts(homes["c"])
        assert 0 < partial[0] < 2 + 1 + BULK
        procs["hub"] = _start(homes["hub"], ports["hub"], hub=True)
        _wait(procs["hub"], ports["hub"])
        # ... and a kill -9 of the node's own sync, in the middle of a page or between two
        at = _feed_after(homes["c"])
        sync_c = subprocess.Popen(
            [sys.executable, "-m", "tessera.cli.main", "sync", "--page-size", str(PAGE)],
            env=_env(homes["c"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while _feed_after(homes["c"]) == at and sync_c.poll() is None:
            assert time.monotonic() < deadline, "C's second sync applied no page within 60 s"
            time.sleep(0.01)
        sync_c.send_signal(signal.SIGKILL)
        sync_c.wait(timeout=10)
        r = _tessera(homes["c"], "sync", "--page-size", str(PAGE), "--json")
        assert r.returncode == 0, r.stderr
        assert _counts(homes["c"]) == (2 + 1 + BULK, 2 + 1 + BULK, 1 + BULK)
        assert _counts(homes["c"]) == _counts(homes["b"])
        r = _tessera(homes["c"], "sync", "--json")  # and again: nothing changes
        assert r.returncode == 0 and json.loads(r.stdout)["applied"] == 0, r.stderr
        assert _counts(homes["c"]) == (2 + 1 + BULK, 2 + 1 + BULK, 1 + BULK)

        # 3. A revokes the series; after the next sync B no longer sees it
        r = _tessera(homes["a"], "series", "share", "Series Cedar", "--level", "none", "--network")
        assert r.returncode == 0, r.stderr
        assert _tessera(homes["a"], "sync").returncode == 0
        assert _tessera(homes["b"], "sync").returncode == 0
        r = _tessera(homes["b"], "triage", str(seizure), "--json", "--no-progress", env=client)
        doc = json.loads(r.stdout)
        assert [x["status"] for x in doc["results"]] == ["new"], r.stderr
        assert doc["series"] == []
        assert _counts(homes["b"]) == (1 + BULK, 2 + 1 + BULK, BULK)

        # 4. a tampered delta is refused whole, with the reason; an unsigned request too
        with App(Settings.for_home(homes["a"])) as a:
            with a.transaction() as s:
                repo.create_series(s, "Series Birch", repo.get_agency(s, "NL-A"))
            fed_share.prepare(a, OP)
            ((_, body),) = fed_share.outbox(a)
            bad = body.replace(b'"level":"status"', b'"level":"full"', 1)
            target = "/api/v1/federation/deltas?since=0"
            sig = request_signing.sign_request(a, "POST", target, bad)
        before = httpx.get(f"{hub_url}/api/v1/federation/checkpoint", timeout=10)
        assert before.status_code == 401  # unsigned: nothing answered
        resp = httpx.post(
            f"{hub_url}{target}", content=bad, headers={"X-Tessera-Signature": sig}, timeout=30
        )
        assert resp.status_code == 422
        assert "SHA-256 differs" in resp.json()["detail"]
        with contextlib.closing(sqlite3.connect(homes["hub"] / "tessera.sqlite")) as db:
            log_size = db.execute("select count(*) from fed_log").fetchone()[0]
            assert (
                db.execute("select count(*) from fed_record where origin_id = 's3'").fetchone()[0]
                == 0
            )
        r = _tessera(homes["a"], "sync")  # the genuine delta goes through
        assert r.returncode == 0, r.stderr

        # 5. the hub rewrites its first entry and re-signs every checkpoint: refused
        hub_key = load_node_key(homes["hub"])
        with contextlib.closing(sqlite3.connect(homes["hub"] / "tessera.sqlite")) as db:
            rows = db.execute("select seq, leaf_hash from fed_log order by seq").fetchall()
            assert len(rows) == log_size + 1
            leaves = []
            for seq, stored in rows:
                leaf = leaf_hash(b"forged") if seq == 1 else bytes(stored)
                leaves.append(leaf)
                root = root_of(leaves)
                note = Checkpoint(f"{hub_key.name}/federation", seq, root).sign(hub_key)
                db.execute(
                    "update fed_log set leaf_hash = ?, root = ?, note = ? where seq = ?",
                    (leaf, root, note, seq),
                )
            db.commit()
        before_b = _counts(homes["b"])
        r = _tessera(homes["b"], "sync")
        assert r.returncode != 0
        assert "rewrote history" in r.stderr
        assert _counts(homes["b"]) == before_b
    finally:
        for p in procs.values():
            _stop(p)
