"""One real ``tessera serve`` on 127.0.0.1 with two workers: closed, fresh in every worker."""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tessera.app import App, Caller, Role, Settings
from tessera.app.accounts import authenticate_token, create_token, create_user
from tessera.app.lookup import HashQuery, lookup
from tessera.cli.main import cli
from tessera.client import RemoteTessera
from tessera.errors import ConfigError, NotFound, Unauthenticated
from tests.api.serving import Server
from tests.api.serving import tessera as _tessera
from tests.seeding import ensure_agency, ensure_series, flip_bits, random_pdq, seed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    env = {**os.environ, "TESSERA_HOME": str(tmp_path_factory.mktemp("serve") / "home")}
    env.pop("TESSERA_DATABASE_URL", None)
    init = _tessera("init", env=env)
    assert init.returncode == 0, init.stderr
    served = Server(env, workers=2)
    try:
        served.wait_ready()
        yield served.base, env
    finally:
        served.stop()


def test_serve_answers_and_fails_closed(server) -> None:  # type: ignore[no-untyped-def]
    base, _env = server
    health = httpx.get(f"{base}/status", timeout=5)
    assert health.json()["status"] == "ok"
    spec = httpx.get(f"{base}/openapi.json", timeout=5).json()
    assert "/m/lookup" in spec["paths"] and "/api/v1/lookup" in spec["paths"]
    for path in ("/api/v1/series", "/c/banks", "/m/index/status"):
        r = httpx.get(f"{base}{path}", headers={"Authorization": "Bearer guessed"}, timeout=5)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{base}/docs", timeout=5).status_code in (401, 404)


def test_every_worker_finds_a_hash_committed_elsewhere(server) -> None:  # type: ignore[no-untyped-def]
    """A fingerprint committed by another process is found, then found by every request
    (two workers take them in turn), without any reload call."""
    base, env = server
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "analyst@example.org", agency="NL-NPU", role="analyst", password=None)
        token = create_token(app, op, "analyst@example.org").token
        (item,) = seed(app.db, [(b"committed-elsewhere", random_pdq(random.Random(5)))])
    auth = {"Authorization": f"Bearer {token}"}
    near = flip_bits(item.pdq or "", [3, 77])
    with httpx.Client(base_url=base, headers=auth, timeout=10) as client:

        def found() -> bool:
            r = client.get("/api/v1/lookup", params={"type": "pdq", "hash": near})
            assert r.status_code == 200, r.text
            return [m["media_id"] for m in r.json()["results"][0]["matches"]] == [item.media_id]

        deadline = time.monotonic() + 30
        while not found():
            assert time.monotonic() < deadline, "never found"
            time.sleep(0.1)
        assert all(found() for _ in range(30))
        hma = client.get(f"/m/lookup?signal_type=pdq&signal={near}").json()
        assert hma == {"Series Amber": [{"bank_content_id": item.media_id, "distance": "2"}]}


def test_cli_client_gets_the_same_answer_as_in_process(server) -> None:  # type: ignore[no-untyped-def]
    """RemoteTessera.lookup over the socket == the lookup use case run locally for the caller."""
    base, env = server
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "client@example.org", agency="NL-NPU", role="analyst", password=None)
        made = create_token(app, op, "client@example.org")
        items = seed(
            app.db, [(f"client-{i}".encode(), random_pdq(random.Random(i))) for i in (1, 2)]
        )
        queries = [
            HashQuery(type="md5", hash=items[0].md5),
            HashQuery(type="pdq", hash=flip_bits(items[1].pdq or "", [1, 2, 3])),
            HashQuery(type="sha1", hash="0" * 40),
        ]
        caller = Caller(role=Role.ANALYST, user_id=0, agency_code="NL-NPU")
        local = lookup(app, caller, queries)
    deadline = time.monotonic() + 30
    with RemoteTessera(base, made.token) as remote:
        while True:
            got = remote.lookup(queries)
            # the server's index catches up within its poll interval and its series
            # status cache (app.lookup.STATUS_TTL, 2 s) may still hold the summary an
            # earlier test in this module cached: wait for the whole answer to agree
            if got == local or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert got.model_dump() == local.model_dump()
    assert got.matched == 2
    with pytest.raises(ConfigError):
        RemoteTessera("http://192.0.2.10:8000", made.token)  # token in clear over a network
    with pytest.raises(ConfigError):
        RemoteTessera(base, None)
    with RemoteTessera(base, "tsr_wrong_token") as remote, pytest.raises(Unauthenticated):
        remote.lookup(queries)


def test_cli_lookup_against_the_server(server) -> None:  # type: ignore[no-untyped-def]
    """``tessera --server URL lookup`` sends hashes, prints the server's answer; commands
    that cannot run remotely refuse instead of answering from a local database."""
    base, env = server
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "cli@example.org", agency="NL-NPU", role="analyst", password=None)
        token = create_token(app, op, "cli@example.org").token
        (item,) = seed(app.db, [(b"cli-remote", random_pdq(random.Random(77)))])
    elsewhere = Path(env["TESSERA_HOME"]).parent / "no-local-home"
    client_env = {
        **os.environ,
        "TESSERA_SERVER": base,
        "TESSERA_TOKEN": token,
        "TESSERA_HOME": str(elsewhere),  # nothing local to answer from
    }
    r = _tessera("lookup", item.md5, "--json", env=client_env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [m["media_id"] for m in doc["results"][0]["matches"]] == [item.media_id]
    assert [s["name"] for s in doc["series"]] == ["Series Amber"]
    refused = _tessera("case", "list", env=client_env)
    assert refused.returncode == 3 and "server" in refused.stderr
    no_token = _tessera("lookup", item.md5, env={**client_env, "TESSERA_TOKEN": ""})
    assert no_token.returncode == 3 and "TESSERA_TOKEN" in no_token.stderr
    assert not elsewhere.exists()


def test_cli_triage_against_the_server(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``tessera --server URL triage PATH`` hashes here, sends only fingerprints to a
    triage job of the real server and prints its answer; the exit status says known."""
    import numpy as np
    from PIL import Image

    base, env = server
    rng = np.random.default_rng(5)
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    for name in ("known.png", "new.png"):
        pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(seizure / name)
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "triage@example.org", agency="NL-NPU", role="analyst", password=None)
        token = create_token(app, op, "triage@example.org").token
        seed(app.db, [((seizure / "known.png").read_bytes(), None)], series="Series Cedar")
    client_env = {
        **os.environ,
        "TESSERA_SERVER": base,
        "TESSERA_TOKEN": token,
        "TESSERA_HOME": str(tmp_path / "no-local-home"),
    }
    r = _tessera("triage", str(seizure), "--json", "--no-progress", env=client_env)
    assert r.returncode == 10, r.stderr
    doc = json.loads(r.stdout)
    status = {Path(x["path"]).name: x["status"] for x in doc["results"]}
    assert status == {"known.png": "known", "new.png": "new"}
    assert [s["name"] for s in doc["series"]] == ["Series Cedar"]
    assert not (tmp_path / "no-local-home").exists()


def test_exchange_upload_and_download_over_http(server) -> None:  # type: ignore[no-untyped-def]
    """A chunked VICS upload to the real server, the export streamed back, and a
    declared body over the limit refused with 413 before any of it is sent."""
    from tessera.exchange import vics

    base, env = server
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "curator@example.org", agency="NL-NPU", role="curator", password=None)
        token = create_token(app, op, "curator@example.org").token
    auth = {"Authorization": f"Bearer {token}"}
    md5s = [f"{i:032x}" for i in range(1, 401)]
    doc = json.dumps(
        {
            "odata.metadata": vics.V1_URL.format(version="1.3", root="Media"),
            "value": [
                {"MediaID": i, "MD5": m.upper(), "Series": "Served"} for i, m in enumerate(md5s)
            ],
        }
    ).encode()

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(doc), 4096):
            yield doc[i : i + 4096]

    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        r = client.post(
            "/api/v1/exchange/import/vics", content=chunks(), params={"filename": "s.json"}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["records"], r.json()["new_media"]) == (400, 400)
        with client.stream("GET", "/api/v1/exchange/export/vics", params={"series": "Served"}) as s:
            assert s.status_code == 200
            body = b"".join(s.iter_bytes())
    import io

    assert sorted(x.md5 for x in vics.read(io.BytesIO(body))) == md5s
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/exchange/import/vics HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b"Content-Length: 3000000000\r\n\r\n"
        )
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "application/problem+json" in answer


def test_triage_job_body_over_the_limit_is_cut_off_while_streaming(server) -> None:  # type: ignore[no-untyped-def]
    """A chunked job document growing past the route's limit is answered 413 as soon as
    it passes it: the server does not read (or wait for) the rest; a declared length
    over the limit is refused before a byte of the body is sent."""
    from tessera.api.limits import TRIAGE_JOB_LIMIT

    base, env = server
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "triager@example.org", agency="NL-NPU", role="analyst", password=None)
        token = create_token(app, op, "triager@example.org").token
    host, port = base.removeprefix("http://").split(":")
    head = (
        b"POST /api/v1/triage/jobs HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"Content-Type: application/json\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + f"Content-Length: {TRIAGE_JOB_LIMIT + 1}\r\n\r\n".encode())
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer[:200]

    piece = 1 << 20
    chunk = f"{piece:x}\r\n".encode() + b" " * piece + b"\r\n"
    sent = 0
    answer = ""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
        while sent < 8 * TRIAGE_JOB_LIMIT:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed
                break
            sent += piece
            ready, _, _ = select.select([sock], [], [], 0)
            if ready:
                break
        sock.settimeout(30)
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert sent < 2 * TRIAGE_JOB_LIMIT  # answered long before the 128 MiB were sent


def test_cli_reads_against_the_server_match_local_answers(server) -> None:  # type: ignore[no-untyped-def]
    """``series list/show``, ``media show/list`` and ``search-text`` with ``--server``
    print what the same caller gets in process (the server applies its sharing)."""
    from tessera.app import media as media_uc
    from tessera.app import series as series_uc
    from tessera.app import text as text_uc

    base, env = server
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, "reader@example.org", agency="NL-NPU", role="analyst", password=None)
        token = create_token(app, op, "reader@example.org").token
        (item,) = seed(app.db, [(b"cli-remote-read", random_pdq(random.Random(78)))])
        me = authenticate_token(app, token)  # the caller the server makes of it
        local = {
            "series list": [r.to_json() for r in series_uc.list_series(app, me)],
            "series show": series_uc.show(app, me, "Series Amber").to_json(),
            "media show": media_uc.show(app, me, str(item.media_id)).to_json(),
            "media list": media_uc.list_media(app, me, series="Series Amber", limit=500).to_json(),
            "search-text": text_uc.search(app, me, "poster", limit=10).to_json(),
        }
    client_env = {
        **os.environ,
        "TESSERA_SERVER": base,
        "TESSERA_TOKEN": token,
        "TESSERA_HOME": str(Path(env["TESSERA_HOME"]).parent / "no-local-home-2"),
    }
    commands = {
        "series list": ("series", "list", "--json"),
        "series show": ("series", "show", "Series Amber", "--json"),
        "media show": ("media", "show", str(item.media_id), "--json"),
        "media list": ("media", "list", "--series", "Series Amber", "--limit", "500", "--json"),
        "search-text": ("search-text", "poster", "-n", "10", "--json"),
    }
    for name, args in commands.items():
        r = _tessera(*args, env=client_env)
        assert r.returncode == 0, (name, r.stderr)
        assert json.loads(r.stdout) == json.loads(json.dumps(local[name], default=str)), name
    assert any(m["id"] == item.media_id for m in local["media list"]["items"])
    missing = _tessera("series", "show", "No Such Series", env=client_env)
    assert missing.returncode != 0 and "No Such Series" in (missing.stderr + missing.stdout)


def _busy_picture(seed: int, width: int = 640, height: int = 480):  # type: ignore[no-untyped-def]
    """A picture with many corners (random filled shapes): hundreds of keypoints."""
    import cv2
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 128, np.uint8)
    for _ in range(120):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            w, h = (int(v) for v in rng.integers(8, 60, 2))
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(4, 30)), colour, -1)
    return Image.fromarray(img)


def test_cli_similar_against_the_server_matches_in_process(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``tessera --server URL similar`` by media id, by file and by a file's region:
    the file is read here and only its keypoints and SHA-256 travel; each answer is
    what the same caller gets in process (another agency's unshared view of the same
    scene is left out of both). A media item the caller may not see is a 404 like
    one that never existed."""
    from tessera.app import ingest as ingest_uc
    from tessera.app import media as media_uc
    from tessera.app import sharing as sharing_uc
    from tessera.app import similar as similar_uc

    base, env = server
    known, hidden_dir, asked = tmp_path / "known", tmp_path / "hidden", tmp_path / "asked"
    for folder in (known, hidden_dir, asked):
        folder.mkdir()
    scene = _busy_picture(12)
    scene.save(known / "scene.png")
    scene.crop((60, 40, 620, 470)).save(known / "other-view.png")
    _busy_picture(13).save(known / "unrelated.png")
    scene.crop((0, 20, 580, 480)).rotate(3).save(hidden_dir / "hidden-view.png")
    scene.crop((30, 10, 610, 450)).rotate(-4).save(asked / "view.png")
    scene.save(asked / "same.png")  # the stored picture itself
    settings = Settings.for_home(Path(env["TESSERA_HOME"]))
    op = Caller.local_operator()
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        ensure_agency(app.db, "DE-BKA", "DE")
        ensure_series(app.db, "Scenes", "NL-NPU")
        ensure_series(app.db, "Hidden Scenes", "DE-BKA")
        create_user(app, op, "scenes@example.org", agency="NL-NPU", role="analyst", password=None)
        token = create_token(app, op, "scenes@example.org").token
        ingest_uc.run(
            app, op, known, agency_code="NL-NPU", case_number="NL-S1", series_name="Scenes",
            workers=1,
        )  # fmt: skip
        ingest_uc.run(
            app, op, hidden_dir, agency_code="DE-BKA", case_number="DE-S1",
            series_name="Hidden Scenes", workers=1,
        )  # fmt: skip
        sharing_uc.share_series(app, op, "Hidden Scenes", "none", network=True)
        me = authenticate_token(app, token)

        def media_id(path: Path) -> int:
            return media_uc.show(app, op, hashlib.sha256(path.read_bytes()).hexdigest()).media.id

        twelve, other = media_id(known / "scene.png"), media_id(known / "other-view.png")
        hidden = media_id(hidden_dir / "hidden-view.png")
        local = {
            "by id": similar_uc.to_media(app, me, twelve, limit=5).to_json(),
            "by file": similar_uc.to_file(app, me, asked / "view.png", limit=5).to_json(),
            "stored file": similar_uc.to_file(app, me, asked / "same.png", limit=5).to_json(),
            "region": similar_uc.to_file(
                app, me, asked / "same.png", box=(100, 80, 500, 400), limit=5
            ).to_json(),
        }
    hits = {name: {h["media_id"] for h in r["hits"]} for name, r in local.items()}
    assert hits == {
        "by id": {other},
        "by file": {twelve, other},
        "stored file": {other},
        "region": {other},
    }  # the hidden view is found only by who may see it: the operator
    with App(settings) as app:
        assert hidden in {h.media_id for h in similar_uc.to_media(app, op, twelve).hits}
    assert local["stored file"]["query"]["media_id"] == twelve
    client_env = {
        "TESSERA_SERVER": base,
        "TESSERA_TOKEN": token,
        "TESSERA_HOME": str(tmp_path / "no-local-home"),
        "TESSERA_DATABASE_URL": None,
    }

    def run(*args: str) -> Any:  # the CLI in this process (no interpreter start-up)
        return CliRunner().invoke(cli, list(args), env=client_env)

    commands = {
        "by id": ("similar", str(twelve), "-k", "5", "--json"),
        "by file": ("similar", str(asked / "view.png"), "-k", "5", "--json"),
        "stored file": ("similar", str(asked / "same.png"), "-k", "5", "--json"),
        "region": (
            "similar",
            str(asked / "same.png"),
            "--box",
            "100,80,500,400",
            "-k",
            "5",
            "--json",
        ),
    }
    for name, args in commands.items():
        deadline = time.monotonic() + 30
        while True:  # the server's scene index catches up with the ingest above
            r = run(*args)
            assert r.exit_code == 0, (name, r.output, r.exception)
            if json.loads(r.stdout) == local[name] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert json.loads(r.stdout) == local[name], name
    unseen, never = run("similar", str(hidden)), run("similar", "99999999")
    assert isinstance(unseen.exception, NotFound) and isinstance(never.exception, NotFound)
    mine, absent = str(unseen.exception), str(never.exception)
    assert f" {hidden} " in mine and mine.replace(f" {hidden} ", " N ") == absent.replace(
        " 99999999 ", " N "
    )
    assert not (tmp_path / "no-local-home").exists()


def test_a_worker_freezes_its_start_up_objects_while_it_serves(settings) -> None:  # type: ignore[no-untyped-def]
    """The objects a worker made at start-up are out of the collector's reach while
    it serves (``gcpause.frozen``) and handed back when it stops."""
    import gc

    from fastapi.testclient import TestClient

    from tessera.api.factory import create_app
    from tests.api.conftest import fake_accounts

    gc.unfreeze()
    with TestClient(create_app(settings, authenticate=fake_accounts)) as client:
        assert client.get("/status").status_code == 200
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
