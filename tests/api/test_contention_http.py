"""Contention retried, seen from HTTP: a confirmation whose write meets another writer's
SQLite write lock.

Released while the retry waits, the request answers 200 with one ``media.confirm``
audit entry and one verdict stored; never released, it answers 409 with reason
``contention`` (``tessera.app.problems``' mapping of ``Conflict``) after
``retry.ATTEMPTS`` runs, with nothing written. The node's busy timeout is 50 ms
here (30 s in service) so a held lock turns into ``Contention`` at once; the
retries' waits are taken without sleeping.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tessera.app import App, Settings, retry
from tessera.storage import db as db_module
from tessera.storage.models import AuditEntry, MediaVerdict

from .conftest import AUTH, Served, _serve


@pytest.fixture
def quick(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A served node whose SQLite connections wait 50 ms for a lock."""
    pragmas = db_module._sqlite_pragmas

    def brief(conn: Any, record: Any) -> None:
        pragmas(conn, record)
        conn.execute("PRAGMA busy_timeout=50")

    monkeypatch.setattr(db_module, "_sqlite_pragmas", brief)
    yield from _serve(settings)


def _hold(settings: Settings) -> sqlite3.Connection:
    conn = sqlite3.connect(  # released from the request's worker thread
        settings.database_url.split("///", 1)[1], isolation_level=None, check_same_thread=False
    )
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _written(settings: Settings) -> tuple[int, int]:
    with App(settings) as app, app.transaction() as s:
        entries = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "media.confirm")
        )
        verdicts = s.scalar(select(func.count()).select_from(MediaVerdict))
        return int(entries or 0), int(verdicts or 0)


def test_released_during_the_backoff_the_request_succeeds_once(
    quick: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _hold(quick.settings)
    waits: list[float] = []

    def release(seconds: float) -> None:  # the other writer commits while we wait
        waits.append(seconds)
        if holder.in_transaction:
            holder.execute("COMMIT")

    monkeypatch.setattr(retry, "sleep", release)
    media = quick.items[0].media_id
    r = quick.client.post(f"/api/v1/media/{media}/confirm", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "confirm"
    assert len(waits) == 1
    assert _written(quick.settings) == (1, 1)


def test_never_released_the_request_answers_409_contention_and_writes_nothing(
    quick: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(retry, "sleep", waits.append)
    holder = _hold(quick.settings)
    try:
        r = quick.client.post(f"/api/v1/media/{quick.items[0].media_id}/confirm", headers=AUTH)
    finally:
        holder.execute("ROLLBACK")
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "contention"
    assert len(waits) == retry.ATTEMPTS - 1
    assert _written(quick.settings) == (0, 0)
