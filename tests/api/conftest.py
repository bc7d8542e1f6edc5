"""A served Tessera (FastAPI TestClient, no socket) over a seeded SQLite home."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.app import App, Caller, Role, Settings
from tessera.errors import Unauthenticated
from tests.seeding import Seeded, random_pdq, seed

TOKEN = "tsr_test_analyst_token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def fake_accounts(app: App, token: str) -> Caller:
    """Stands in for the accounts module in these tests: one valid token."""
    if token != TOKEN:
        raise Unauthenticated("unknown token")
    return Caller(role=Role.ANALYST, user_id=1, email="a@example.org", agency_code="NL-NPU")


class Served:
    def __init__(self, client: TestClient, settings: Settings, items: list[Seeded]) -> None:
        self.client = client
        self.settings = settings
        self.items = items


def _settings(home: Path) -> Settings:
    s = Settings.for_home(home)
    with App(s) as app:
        app.migrate()
    return s


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return _settings(tmp_path / "home")


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    yield from _serve(settings)


@pytest.fixture(scope="module")
def served_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for a whole module (the OpenAPI fuzzing runs hundreds of requests)."""
    yield from _serve(_settings(tmp_path_factory.mktemp("served") / "home"))


def _serve(settings: Settings) -> Iterator[Served]:
    rng = random.Random(11)
    with App(settings) as app:
        amber = seed(app.db, [(f"amber-{i}".encode(), random_pdq(rng)) for i in range(5)])
        other = seed(
            app.db,
            [(f"birch-{i}".encode(), random_pdq(rng)) for i in range(3)],
            agency="DE-BKA",
            series="Series Birch",
            case="DE-1",
        )
        loose = seed(app.db, [(b"no-series", random_pdq(rng))], series=None, case="X-1")
    api = create_app(settings, authenticate=fake_accounts, poll_interval=0.05)
    with TestClient(api) as client:
        yield Served(client, settings, amber + other + loose)
