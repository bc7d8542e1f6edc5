"""A server's batched flood-guard hit log gives the guard's answers of a lookup that
writes its own rows (issue 11: a hit's write lock), and loses nothing it queued.

The flood scenario of ``test_trust`` (5 distinct hashes and 3 agencies pass the
rule) is run with a queue that never flushes on its own: the rows below the limit
wait in memory, the lookup that could pass the limit writes them out and decides on
the database's counts, and stopping the queue appends the rest. Both backends.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tessera.app import App, lookup, trust
from tessera.app.hit_queue import HitQueue, Row
from tessera.storage import trust as trust_store
from tests.app.test_coop import q, user, world
from tests.app.test_trust import _media, flood_world


def _logged(app: App, m: int) -> int:
    with app.transaction() as s:
        return int(
            s.execute(text("SELECT count(*) FROM hit_log WHERE media_id = :m"), {"m": m}).scalar()
            or 0
        )


def test_flood_guard_with_a_queue_decides_as_without(app: App) -> None:
    sha, m, variants = flood_world(app)
    queue = trust.start_hit_queue(app, interval=3600.0)  # flushes only when told
    try:
        for i, agency in enumerate(("DE-B", "FR-C")):
            r = lookup.lookup(app, user(agency), variants[i * 2 : i * 2 + 2])
            assert not any(x.quarantined for a in r.results for x in a.matches)
        assert _logged(app, m) == 0  # 4 rows queued, none written yet
        assert queue.pending({m}, datetime.now(UTC) - timedelta(hours=1), {})[m][0]
        r = lookup.lookup(app, user("NL-A"), variants[4:6])  # 6 distinct hashes, 3 agencies
        assert all(x.quarantined for a in r.results for x in a.matches)
        assert _logged(app, m) == 6  # the queue written out, then this lookup's rows
        r = lookup.lookup(app, user("DE-B"), [q(sha)])
        assert r.results[0].matches[0].quarantined
        assert _logged(app, m) == 6  # quarantined already: the new row waits again
    finally:
        queue.stop()
        app.hit_queue = None
    assert _logged(app, m) == 7  # stopping appends what was queued


def test_a_lookup_that_fails_queues_nothing(app: App) -> None:
    hashes = world(app)
    sha = hashes["open"][0]
    m = _media(app, sha)
    queue = trust.start_hit_queue(app, interval=3600.0)
    try:
        with pytest.raises(RuntimeError), app.transaction() as s:
            trust.guard_and_count_in(s, app, user("DE-B"), {(m, "k" * 64)}, trust.flood_rule(app))
            raise RuntimeError("the lookup failed after the guard")
        assert queue.pending({m}, datetime.now(UTC) - timedelta(hours=1), {}) == {}
        with app.transaction() as s:
            trust.guard_and_count_in(s, app, user("DE-B"), {(m, "k" * 64)}, trust.flood_rule(app))
        assert set(queue.pending({m}, datetime.now(UTC) - timedelta(hours=1), {})) == {m}
    finally:
        queue.stop()
        app.hit_queue = None
    assert _logged(app, m) == 1


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_queue_keeps_the_latest_time_and_filters_by_window_and_release() -> None:
    written: list[list[tuple[Row, datetime]]] = []
    queue = HitQueue(written.append, interval=3600.0)
    queue.start()  # its thread would flush in an hour: only ``flush`` writes here
    queue.add([(1, "a", 10), (1, "b", 11), (2, "a", 10)], T0)
    queue.add([(1, "a", 10)], T0 + timedelta(minutes=5))  # a repeat moves the row
    got = queue.pending({1, 2, 3}, T0 - timedelta(hours=1), {})
    assert got == {1: ({"a", "b"}, {10, 11}), 2: ({"a"}, {10})}
    # the window starts after the first rows: only the moved row counts
    assert queue.pending({1}, T0 + timedelta(minutes=1), {}) == {1: ({"a"}, {10})}
    # item 2 released after its hit: the hit no longer counts
    assert queue.pending({2}, T0 - timedelta(hours=1), {2: T0 + timedelta(seconds=1)}) == {}
    assert queue.flush() == 3
    assert sorted(written[0]) == [
        ((1, "a", 10), T0 + timedelta(minutes=5)),
        ((1, "b", 11), T0),
        ((2, "a", 10), T0),
    ]
    assert queue.pending({1, 2}, T0 - timedelta(hours=1), {}) == {}
    queue.stop()
    assert len(written) == 1  # nothing left to append


def test_a_queue_without_its_thread_writes_at_once() -> None:
    written: list[list[tuple[Row, datetime]]] = []
    queue = HitQueue(written.append, interval=0.0)
    queue.start()
    queue.add([(1, "a", 10)], T0)
    assert written == [[((1, "a", 10), T0)]]


def test_a_failed_batch_is_kept_for_the_next_try() -> None:
    calls: list[int] = []

    def write(batch: list[tuple[Row, datetime]]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("database unavailable")

    queue = HitQueue(write, interval=3600.0)
    queue.start()
    queue.add([(1, "a", 10)], T0)
    with pytest.raises(OSError, match="unavailable"):
        queue.flush()
    queue.add([(1, "a", 10)], T0 - timedelta(minutes=1))  # older than the kept row
    queue.add([(2, "b", 10)], T0)
    assert queue.pending({1}, T0, {}) == {1: ({"a"}, {10})}  # the kept, later time
    assert queue.flush() == 2
    assert calls == [1, 2] and queue.written == 2
    queue.stop()


def test_a_batch_being_written_still_counts_until_its_commit_returns() -> None:
    """The race CI caught (stop 26): the background thread had taken a batch out of the
    queue but not yet committed it, and a lookup then saw those rows nowhere."""
    started, release = threading.Event(), threading.Event()
    written: list[list[tuple[Row, datetime]]] = []

    def write(batch: list[tuple[Row, datetime]]) -> None:
        started.set()
        assert release.wait(10)
        written.append(batch)

    queue = HitQueue(write, interval=3600.0)
    queue.start()  # its thread would flush in an hour: only ``flush`` writes here
    queue.add([(1, "a", 10)], T0)
    flusher = threading.Thread(target=queue.flush)
    flusher.start()
    try:
        assert started.wait(10)
        queue.add([(1, "b", 11)], T0)  # a row queued while the batch is in flight
        assert queue.pending({1}, T0, {}) == {1: ({"a", "b"}, {10, 11})}
    finally:
        release.set()
        flusher.join(10)
    assert written == [[((1, "a", 10), T0)]]
    assert queue.pending({1}, T0, {}) == {1: ({"b"}, {11})}  # "a" is the database's now
    queue.stop()


def test_the_guard_sees_a_batch_the_queue_is_writing(app: App) -> None:
    """Two agencies' hits are being appended by the queue's thread when the third
    agency's lookup arrives: it still quarantines the item, as the rule says."""
    _sha, m, variants = flood_world(app)
    started, release = threading.Event(), threading.Event()

    def write(batch: list[tuple[Row, datetime]]) -> None:
        started.set()
        assert release.wait(10)
        with app.db.session() as s:
            trust_store.log_hits_at(s, batch)

    class Held(HitQueue):
        """The batch commits only once the guard has read the queue."""

        def pending(
            self, media_ids: set[int], since: datetime, after: dict[int, datetime]
        ) -> dict[int, tuple[set[str], set[int]]]:
            got = super().pending(media_ids, since, after)
            release.set()
            return got

    queue = Held(write, interval=3600.0)
    queue.start()
    app.hit_queue = queue
    flusher = threading.Thread(target=queue.flush)
    try:
        for i, agency in enumerate(("DE-B", "FR-C")):
            lookup.lookup(app, user(agency), variants[i * 2 : i * 2 + 2])
        release.clear()
        flusher.start()
        assert started.wait(10)  # 4 rows out of the queue, not yet in the database
        r = lookup.lookup(app, user("NL-A"), variants[4:6])
        assert all(x.quarantined for a in r.results for x in a.matches)
    finally:
        release.set()
        flusher.join(10)
        queue.stop()
        app.hit_queue = None
    assert _logged(app, m) == 6


def _agency_ids(app: App) -> list[int]:
    with app.transaction() as s:
        return [int(x) for x in s.execute(text("SELECT id FROM agency ORDER BY id")).scalars()]


def test_hit_row_counts_are_every_row_of_each_item(app: App) -> None:
    """The guard's index-only bound: rows per item at any time (raw SQL is the oracle)."""
    _, m, _ = flood_world(app)
    a, b = _agency_ids(app)[:2]
    old = datetime.now(UTC) - timedelta(days=30)
    with app.transaction() as s:
        trust_store.log_hits(s, [(m, "k1", a), (m, "k1", b), (m, "k2", a)], old)
        trust_store.log_hits(s, [(m, "k1", a)], datetime.now(UTC))  # moved, not added
    with app.transaction() as s:
        assert trust_store.hit_row_counts(s, [m, m + 10_000]) == {m: _logged(app, m)} == {m: 3}


@pytest.mark.parametrize("queued", [False, True])
def test_rows_outside_the_window_do_not_flood_an_item(app: App, queued: bool) -> None:
    """Old rows count in the bound, so the exact counts are read, and those leave them
    out: 4 lookups within the window from 2 agencies quarantine nothing."""
    _, m, variants = flood_world(app)  # 5 distinct hashes from 3 agencies pass the rule
    old = datetime.now(UTC) - timedelta(days=2)
    with app.transaction() as s:
        trust_store.log_hits(
            s, [(m, f"old{i}", a) for i in range(4) for a in _agency_ids(app)], old
        )
    queue = trust.start_hit_queue(app, interval=3600.0) if queued else None
    try:
        for i, agency in enumerate(("DE-B", "FR-C")):
            r = lookup.lookup(app, user(agency), variants[i * 2 : i * 2 + 2])
            assert not any(x.quarantined for a in r.results for x in a.matches)
        r = lookup.lookup(app, user("NL-A"), variants[4:6])  # now 6 hashes, 3 agencies
        assert all(x.quarantined for a in r.results for x in a.matches)
    finally:
        if queue is not None:
            queue.stop()
            app.hit_queue = None


@pytest.mark.parametrize("queued", [False, True])
def test_the_exact_counts_are_read_only_for_items_the_bound_does_not_clear(
    app: App, queued: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, m, variants = flood_world(app)
    asked: list[set[int]] = []
    exact = trust_store.flood_counts

    def counted(s: object, media_ids: set[int], *rest: object) -> object:
        asked.append(set(media_ids))
        return exact(s, media_ids, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(trust_store, "flood_counts", counted)
    queue = trust.start_hit_queue(app, interval=3600.0) if queued else None
    try:
        lookup.lookup(app, user("DE-B"), variants[:2])  # 2 rows at most: cleared
        assert asked == []
        lookup.lookup(app, user("FR-C"), variants[2:5])
        lookup.lookup(app, user("NL-A"), variants[5:6])  # 6 > 5 files: read exactly
        assert asked and all(x == {m} for x in asked)
    finally:
        if queue is not None:
            queue.stop()
            app.hit_queue = None
