"""The API on PostgreSQL: lookups, HMA shapes and sharing, as on SQLite (contract)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.app import App, Caller, Settings, audit
from tessera.app.sharing import share_series
from tests.api.conftest import AUTH, fake_accounts
from tests.seeding import Seeded, flip_bits, random_pdq, seed
from tests.storage.conftest import _pg_database


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[TestClient, Settings, list[Seeded]]]:
    for db in _pg_database():
        settings = Settings.for_home(tmp_path / "home", database_url=db.url)
        rng = random.Random(21)
        with App(settings) as app:
            amber = seed(app.db, [(f"pa-{i}".encode(), random_pdq(rng)) for i in range(3)])
            birch = seed(
                app.db,
                [(b"pb-0", random_pdq(rng))],
                agency="DE-BKA",
                series="Series Birch",
                case="DE-1",
            )
        with TestClient(create_app(settings, authenticate=fake_accounts, poll_interval=0.05)) as c:
            yield c, settings, amber + birch


def test_lookups_hma_and_sharing_on_postgresql(pg) -> None:  # type: ignore[no-untyped-def]
    client, settings, items = pg
    own, other = items[0], items[3]
    r = client.get("/api/v1/lookup", params={"type": "sha1", "hash": own.sha1}, headers=AUTH)
    assert [m["media_id"] for m in r.json()["results"][0]["matches"]] == [own.media_id]
    near = flip_bits(other.pdq or "", [0, 5, 9])
    r = client.get(f"/m/lookup?signal_type=pdq&signal={near}", headers=AUTH)
    assert r.json() == {"Series Birch": [{"bank_content_id": other.media_id, "distance": "3"}]}
    with App(settings) as app:
        share_series(app, Caller.local_operator(), "Series Birch", "none", network=True)
    assert client.get(f"/m/lookup?signal_type=pdq&signal={near}", headers=AUTH).json() == {}
    assert client.get("/api/v1/series/Series Birch", headers=AUTH).status_code == 404
    banks = [b["name"] for b in client.get("/c/banks", headers=AUTH).json()]
    assert banks == ["Series Amber"]


def test_request_audit_entries_on_postgresql(tmp_path: Path) -> None:
    """The served process's batched request entries append under RLS like on SQLite."""
    for db in _pg_database():
        settings = Settings.for_home(tmp_path / "home", database_url=db.url)
        with App(settings) as app:
            seed(app.db, [(b"pg-audit-0", random_pdq(random.Random(3)))])
        api = create_app(settings, authenticate=fake_accounts, run_jobs=False)
        with TestClient(api) as c:
            for rid in ("pg-req-0001", "pg-req-0002"):
                assert c.get("/api/v1/series", headers={**AUTH, "X-Request-ID": rid}).is_success
        with App(settings) as app:
            got = {e.request_id: e for e in audit.show(app, Caller.local_operator())}
            assert audit.verify(app, Caller.local_operator()).ok
        assert [(got[r].action, got[r].result_count) for r in ("pg-req-0001", "pg-req-0002")] == [
            ("api.list_series", 1),
            ("api.list_series", 1),
        ]
