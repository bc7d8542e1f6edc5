"""Contention retried (``app.retry``): a write another writer held up runs again, once.

On PostgreSQL two real transactions deadlock (this test's holds the audit log's head
and then wants the series row the use case updated; the use case's is the one
PostgreSQL aborts); on SQLite another connection holds the write lock past the busy
timeout. The retried write succeeds with exactly one audit entry; past the retry
budget the caller gets ``Contention`` with nothing written; nothing is retried once
one of the call's transactions committed, or inside a transaction someone else owns.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from tessera.app import App, Caller, Role, Settings, agencies, retry, series
from tessera.app.accounts import create_user
from tessera.app.retry import ATTEMPTS, retried
from tessera.app.visibility import unit
from tessera.errors import Contention
from tessera.storage import audit_log

OP = Caller.local_operator()
CURATOR = Caller(role=Role.CURATOR, user_id=1, email="c@nl.example", agency_code="NL-A")


def _world(app: App) -> None:
    agencies.create(app, OP, "NL-A", country="NL", name="A")
    create_user(app, OP, "c@nl.example", agency="NL-A", role="curator", password=None)
    series.create(app, OP, "Amber", "NL-A")


def _entries(app: App, action: str) -> int:
    with app.transaction() as s:
        return sum(1 for e in audit_log.find(s, series="Amber") if e.action == action)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retries' waits, taken without sleeping."""
    seen: list[float] = []
    monkeypatch.setattr(retry, "sleep", seen.append)
    return seen


# -- SQLite: the write lock held by another connection --------------------------------


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[App]:
    """A SQLite node whose busy timeout is 50 ms (30 s in service), so a held lock
    turns into ``Contention`` at once."""
    with App(Settings.for_home(tmp_path)) as app:
        app.migrate()
        _world(app)
        app.db.engine.dispose()
        event.listen(app.db.engine, "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=50"))
        yield app


def _hold_write_lock(app: App) -> sqlite3.Connection:
    conn = sqlite3.connect(app.db.url.split("///", 1)[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_sqlite_a_write_retried_after_the_lock_is_released_is_written_once(
    lite: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _hold_write_lock(lite)
    waits: list[float] = []

    def release(seconds: float) -> None:  # the other writer finishes while we wait
        waits.append(seconds)
        holder.execute("COMMIT")

    monkeypatch.setattr(retry, "sleep", release)
    got = series.set_status(lite, CURATOR, "Amber", victim_identified=True)
    assert got.victim_identified
    assert len(waits) == 1 and 0 <= waits[0] <= retry.BACKOFF
    assert _entries(lite, "series.set") == 1


def test_sqlite_past_the_budget_the_caller_gets_contention_and_nothing_is_written(
    lite: App, waits: list[float]
) -> None:
    holder = _hold_write_lock(lite)
    try:
        with pytest.raises(Contention):
            series.set_status(lite, CURATOR, "Amber", victim_identified=True)
    finally:
        holder.execute("ROLLBACK")
    assert len(waits) == ATTEMPTS - 1
    assert all(0 <= w <= retry.BACKOFF * 2**i for i, w in enumerate(waits))
    assert not series.show(lite, CURATOR, "Amber").victim_identified
    assert _entries(lite, "series.set") == 0


# -- what is never run again -----------------------------------------------------------


def test_a_call_is_not_run_again_once_one_of_its_transactions_committed(
    app: App, waits: list[float]
) -> None:
    _world(app)
    calls: list[int] = []

    @retried
    def half_done() -> None:
        calls.append(1)
        series.edit(app, CURATOR, "Amber", notes=f"run {len(calls)}")  # committed
        raise Contention("the second transaction lost")

    with pytest.raises(Contention):
        half_done()
    assert calls == [1] and waits == []
    assert _entries(app, "series.edit") == 1

    @retried
    def lost() -> None:
        calls.append(2)
        raise Contention("lost before anything committed")

    with pytest.raises(Contention):
        lost()
    assert calls.count(2) == ATTEMPTS and len(waits) == ATTEMPTS - 1


def test_inside_a_transaction_someone_else_owns_the_owner_decides(
    app: App, waits: list[float]
) -> None:
    _world(app)
    calls: list[int] = []

    @retried
    def inner() -> None:
        calls.append(1)
        raise Contention("lost")

    with pytest.raises(Contention), unit(app, CURATOR):
        inner()
    assert calls == [1] and waits == []


# -- PostgreSQL: a real deadlock between two transactions ------------------------------


def test_postgresql_a_deadlocked_write_is_retried_and_written_once(
    app: App, waits: list[float]
) -> None:
    if app.db.dialect != "postgresql":
        pytest.skip("a deadlock between two PostgreSQL transactions")
    _world(app)
    other = create_engine(app.db.url)
    watch = create_engine(app.db.url, isolation_level="AUTOCOMMIT")
    result: dict[str, Any] = {}

    def write() -> None:
        try:
            result["ok"] = series.set_status(app, CURATOR, "Amber", victim_identified=True)
        except BaseException as exc:
            result["error"] = exc

    try:
        with other.connect() as b, b.begin():
            b.execute(text("SET LOCAL deadlock_timeout = '20s'"))  # ours waits: theirs aborts
            b.execute(text("SELECT size FROM audit_head WHERE id = 1 FOR UPDATE"))
            mine = b.execute(text("SELECT pg_backend_pid()")).scalar_one()
            writer = threading.Thread(target=write)
            writer.start()
            deadline = time.monotonic() + 30
            with watch.connect() as w:  # until the use case waits for the audit head
                while not w.execute(
                    text(
                        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND pid <> :me AND datname = current_database()"
                    ),
                    {"me": mine},
                ).first():
                    assert time.monotonic() < deadline, "the use case never waited"
                    time.sleep(0.05)
            # now wait for the series row it updated: a deadlock, PostgreSQL aborts it
            b.execute(text("UPDATE series SET notes = notes WHERE name = 'Amber'"))
        writer.join(timeout=60)
    finally:
        other.dispose()
        watch.dispose()
    assert "error" not in result, result.get("error")
    assert result["ok"].victim_identified
    assert len(waits) == 1, "the deadlocked transaction ran again once"
    assert _entries(app, "series.set") == 1
