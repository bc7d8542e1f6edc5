"""``on_commit``: an action runs once, after its transaction commits, never on a rollback.

The hit queue of a server process relies on it (``tessera.app.trust``): a lookup's
flood-guard rows join the queue only once the transaction that counted them commits.
"""

from __future__ import annotations

import pytest

from tessera.storage import repo
from tessera.storage.db import Database, on_commit


def test_an_action_runs_once_after_its_commit_in_order(db: Database) -> None:
    ran: list[str] = []
    with db.session() as s:
        on_commit(s, lambda: ran.append("first"))
        on_commit(s, lambda: ran.append("second"))
        repo.create_agency(s, "NL-A", "NL", "A", "a@example.org")
        assert ran == []  # not before the commit
    assert ran == ["first", "second"]
    with db.session() as s:  # a later transaction does not run them again
        repo.list_agencies(s)
    assert ran == ["first", "second"]


def test_a_rolled_back_transaction_runs_nothing(db: Database) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError), db.session() as s:
        on_commit(s, lambda: ran.append("rolled back"))
        raise RuntimeError("abort")
    with db.session() as s:
        on_commit(s, lambda: ran.append("committed"))
    assert ran == ["committed"]


def test_each_session_runs_only_its_own_actions(db: Database) -> None:
    ran: list[str] = []
    with db.session() as outer:
        on_commit(outer, lambda: ran.append("outer"))
        with db.session() as inner:
            on_commit(inner, lambda: ran.append("inner"))
        assert ran == ["inner"]
    assert ran == ["inner", "outer"]
