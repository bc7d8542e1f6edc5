"""Two writers racing: the loser gets ``Contention`` (a Conflict: exit 5, HTTP 409, reason
``contention``), its transaction rolled back whole, the winner's committed; never an
internal error.

PostgreSQL: two real transactions lock two agencies in opposite orders; the server
detects the deadlock and aborts one. SQLite: a second writer meets the first's write
lock past its busy timeout (shortened for the test)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tessera.errors import Conflict, Contention
from tessera.storage import repo
from tessera.storage.db import Database

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _names(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {
            str(c): str(n)
            for c, n in s.execute(text("SELECT code, name FROM agency ORDER BY code"))
        }


def test_a_deadlock_is_contention_and_the_loser_writes_nothing(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlock (see the lock test)")
    with db.session() as s:
        repo.create_agency(s, "NL-A", "NL", "A", "a@example.org")
        repo.create_agency(s, "NL-B", "NL", "B", "b@example.org")
    both_locked_first = threading.Barrier(2, timeout=30)
    outcome: dict[str, BaseException | None] = {}

    def writer(name: str, first: str, second: str) -> None:
        try:
            with db.session() as s:
                s.execute(
                    text("UPDATE agency SET name = :n WHERE code = :c"), {"n": name, "c": first}
                )
                both_locked_first.wait()
                s.execute(
                    text("UPDATE agency SET name = :n WHERE code = :c"), {"n": name, "c": second}
                )
            outcome[name] = None
        except BaseException as exc:  # the test reports what each got
            outcome[name] = exc

    threads = [
        threading.Thread(target=writer, args=("one", "NL-A", "NL-B")),
        threading.Thread(target=writer, args=("two", "NL-B", "NL-A")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    errors = {k: v for k, v in outcome.items() if v is not None}
    assert len(outcome) == 2 and len(errors) == 1, outcome
    ((loser, exc),) = errors.items()
    assert isinstance(exc, Contention) and isinstance(exc, Conflict)
    assert exc.reason == "contention" and "deadlock" in exc.message
    winner = "two" if loser == "one" else "one"
    assert _names(db) == {"NL-A": winner, "NL-B": winner}  # the loser's first write undone


def test_a_lock_held_past_the_busy_timeout_is_contention(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL writers wait for row locks: no busy timeout")
    with db.session() as s:
        repo.create_agency(s, "NL-A", "NL", "A", "a@example.org")
    with db.write_session() as holder:  # BEGIN IMMEDIATE: the write lock, until the block ends
        holder.execute(text("UPDATE agency SET name = 'holder' WHERE code = 'NL-A'"))
        with pytest.raises(Contention, match="locked by another writer"), db.session() as s:
            s.connection().exec_driver_sql("PRAGMA busy_timeout = 50")
            s.execute(text("UPDATE agency SET name = 'loser' WHERE code = 'NL-A'"))
    assert _names(db) == {"NL-A": "holder"}
