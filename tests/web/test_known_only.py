"""A hit on a series shared at ``hash`` level is "known to the network" with the
owner's contact: never a link to the media page (which answers 404 to that
caller) and never a picture (HTTP, no browser)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tessera.app import App, Caller, Settings, agencies, series, sharing
from tessera.app import ingest as ingest_uc
from tessera.app import media as media_uc
from tessera.app.accounts import create_user
from tessera.web import create_app

PW = "a long enough password"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestClient, int, str]]:
    settings = Settings.for_home(tmp_path / "home")
    op = Caller.local_operator()
    folder = tmp_path / "seized"
    folder.mkdir()
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    picture = folder / "one.jpg"
    Image.fromarray(np.kron(blocks, np.ones((10, 10, 1), dtype=np.uint8))).save(picture)
    with App(settings) as app:
        app.migrate()
        agencies.create(app, op, "NL-NPU", country="NL", name="VIT", contact="vit@nl.example.org")
        agencies.create(app, op, "DE-BKA", country="DE", name="BKA")
        create_user(app, op, "a@de.example.org", agency="DE-BKA", role="analyst", password=PW)
        series.create(app, op, "Amber", "NL-NPU")
        ingest_uc.run(
            app,
            op,
            folder,
            agency_code="NL-NPU",
            case_number="c1",
            series_name="Amber",
            features=False,
            workers=1,
        )
        media_id = media_uc.list_media(app, op, series="Amber").items[0].id
        nl = Caller(
            role=op.role.CURATOR, user_id=None, email="c@nl.example.org", agency_code="NL-NPU"
        )
        sharing.share_series(app, nl, "Amber", "hash")
    with TestClient(
        create_app(settings, poll_interval=0.05, run_jobs=False),
        base_url="https://node.example",
        follow_redirects=False,
    ) as c:
        m = re.search(r'name="token" value="([^"]+)"', c.get("/login").text)
        assert m
        data = {"email": "a@de.example.org", "password": PW, "token": m.group(1), "next": "/"}
        assert c.post("/login", data=data).status_code == 303
        yield c, media_id, hashlib.sha256(picture.read_bytes()).hexdigest()


def test_a_hash_level_hit_names_the_contact_and_links_nowhere(
    node: tuple[TestClient, int, str],
) -> None:
    client, media_id, sha = node
    assert client.get(f"/media/{media_id}").status_code == 404  # the page the link would open
    html = client.get(f"/search?hash={sha}&type=sha256").text
    assert 'data-testid="known-only"' in html
    assert "Known to the network" in html and "vit@nl.example.org" in html
    assert f"/media/{media_id}" not in html  # no link to a page that answers 404
    assert f"/thumbs/{media_id}.jpg" not in html  # and no picture tile
