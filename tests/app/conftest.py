"""An ``App`` on each backend (SQLite, and PostgreSQL where TESSERA_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.app import App, Caller, Settings
from tests.storage.conftest import _pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """A migrated, empty deployment under ``tmp_path``."""
    if request.param == "sqlite":
        opened = App(Settings.for_home(tmp_path))
        opened.migrate()
        yield opened
        opened.close()
    else:
        for db in _pg_database():
            opened = App(Settings.for_home(tmp_path, database_url=db.url))
            opened.migrate()
            yield opened
            opened.close()


@pytest.fixture
def caller() -> Caller:
    return Caller.local_operator()
