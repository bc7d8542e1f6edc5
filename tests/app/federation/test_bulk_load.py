"""A fresh node's first big pull builds some indexes after the load
(``tessera.storage.bulk_load``): a kill -9 in the middle of it, then a resync,
leaves every record once and every index in place.

The node's pull runs in a child process that applies the feed pages with the
threshold lowered to one record, so these few records take the bulk path; it is
killed with SIGKILL while page 2's transaction holds half its rows (after page 1
committed with the indexes dropped). Indexes are checked through ``sqlite_master``
and SQLite's query plan, counts against what the origin shared.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from tessera.app import App, Settings
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import hub_log, peers
from tessera.app.federation import pull as fed_pull
from tessera.exchange import delta
from tessera.storage import bulk_load
from tessera.storage.federation import remote_media as remote_media_store
from tests.app.federation.test_federation import (
    OP,
    World,
    _counts,
    _digests,
    _open,
    _share,
    _sync,
    peered,
)
from tests.app.test_series_aggregates import _check as _check_kept_counts

SERIES = 3
PER_SERIES = 12

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tessera.app import App, Caller, Settings
    from tessera.app.federation import hub as fed_hub
    from tessera.app.federation import hub_log
    from tessera.app.federation import peers
    from tessera.app.federation import pull as fed_pull
    from tessera.storage import bulk_load
    from tessera.storage.federation import records as records_store
    from tessera.storage.federation import remote_media as remote_media_store

    bulk_load.MIN_RECORDS = 1
    home, pages = Path(sys.argv[1]), sys.argv[2:]
    original = records_store.store_records
    applied = 0
    calls = []

    def stalled(s, items, log_seq, **kw):
        original(s, items, log_seq, **kw)
        if applied == 1 and items:
            calls.append(len(items))
        if len(calls) == 2:  # page 2: its series, then its media written, not committed
            held = s.connection().exec_driver_sql("SELECT COUNT(*) FROM media").scalar()
            print("mid-page", held, flush=True)
            sys.stdin.readline()  # killed here
    records_store.store_records = stalled
    app = App(Settings.for_home(home))
    for p in pages:
        fed_pull.apply_feed(app, Caller.local_operator(), "hub", Path(p).read_bytes())
        applied += 1
    print("finished", flush=True)
    """
)


_CHILD_LINKS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tessera.app import App, Caller, Settings
    from tessera.app.federation import hub as fed_hub
    from tessera.app.federation import hub_log
    from tessera.app.federation import peers
    from tessera.app.federation import pull as fed_pull
    from tessera.storage import bulk_load
    from tessera.storage.federation import records as records_store
    from tessera.storage.federation import remote_media as remote_media_store

    bulk_load.MIN_RECORDS = 1
    remote_media_store.IMPORT_BATCH = 5
    home, pages = Path(sys.argv[1]), sys.argv[2:]
    original = bulk_load.HeldLinkTriggers.link_new
    applied = 0
    calls = []

    def stalled(self, pairs):
        done = original(self, pairs)
        calls.append(len(pairs))
        if applied == 1 and len(calls) == 5:  # page 2's second batch of links
            s = self._s
            held = s.connection().exec_driver_sql(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND name IN ('tessera_agg_sm_ins', 'tessera_cam_sm_ins')"
            ).scalar()
            print("mid-links", held, flush=True)
            sys.stdin.readline()  # killed here
        return done

    bulk_load.HeldLinkTriggers.link_new = stalled
    app = App(Settings.for_home(home))
    for p in pages:
        fed_pull.apply_feed(app, Caller.local_operator(), "hub", Path(p).read_bytes())
        applied += 1
    print("finished", flush=True)
    """
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = peered(*(_open(tmp_path, n, None) for n in ("hub", "a", "b")))
    yield world
    for x in (world.hub, world.a, world.b):
        x.close()


def _indexes(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "tessera.sqlite") as db:
        return {
            str(n): str(q)
            for n, q in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        }


def _plan(home: Path, sql: str) -> str:
    with sqlite3.connect(home / "tessera.sqlite") as db:
        return " | ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}"))


def _pages(world: World, tmp_path: Path) -> list[Path]:
    """A shares SERIES series, one delta each; B's feed, one log entry a page."""
    for i in range(SERIES):
        _share(world.a, tmp_path, f"BULK{i}", _digests(PER_SERIES, f"bulk{i}-"))
        _sync(world.a, world.hub)
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    hub_log.accept_checkpoint(world.b, "hub", cp.checkpoint, cp.consistency)
    out: list[Path] = []
    after = 0
    while after < cp.size:
        page = fed_hub.feed_page(world.hub, me, after, cp.size, limit=1)
        after = int(delta.peek_header(page)["end"])
        out.append(tmp_path / f"page{len(out)}.bin")
        out[-1].write_bytes(page)
    assert len(out) == SERIES
    return out


def _killed_mid_load(world: World, tmp_path: Path, *, links: bool = False) -> Path:
    """B's pull killed with SIGKILL inside page 2's transaction; B's home. ``links``:
    while its media's series links go in with the link triggers dropped (import
    batches of 5 records), else after its media are written."""
    pages = _pages(world, tmp_path)
    home = tmp_path / "b"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD_LINKS if links else _CHILD, str(home), *map(str, pages)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        # page 2's media are in its open transaction when the kill comes (``links``:
        # with the two link triggers dropped in it)
        want = ["mid-links", "0"] if links else ["mid-page", str(2 * PER_SERIES)]
        assert line.split() == want, child.stderr.read() if child.stderr else ""
        assert set(bulk_load.DEFERRED).isdisjoint(_indexes(home))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return home


def _assert_indexes_back(home: Path) -> None:
    have = _indexes(home)
    for name, sql in bulk_load.DEFERRED.items():
        assert have.get(name) == sql
    assert "ix_media_kind" in _plan(home, "SELECT id FROM media WHERE kind = 'image' ORDER BY id")
    assert "ix_fed_record_log_seq_kind_id" in _plan(
        home, "SELECT id FROM fed_record WHERE log_seq > 0 ORDER BY log_seq, kind, id"
    )
    with sqlite3.connect(home / "tessera.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_kill_mid_bulk_load_then_resync_gives_exact_counts_and_indexes(
    world: World, tmp_path: Path
) -> None:
    home = _killed_mid_load(world, tmp_path)
    # page 1 committed (with the indexes dropped), page 2 rolled back
    assert _counts(world.b) == (1 + PER_SERIES, PER_SERIES)
    assert fed_pull.feed_position(world.b, "hub")[0] == 1
    assert set(bulk_load.DEFERRED).isdisjoint(_indexes(home))
    _sync(world.b, world.hub)  # the resync goes on in bulk mode and builds them at its end
    assert _counts(world.b) == (SERIES * (1 + PER_SERIES), SERIES * PER_SERIES)
    _assert_indexes_back(home)
    # the links made without their per-row triggers: every kept count as from scratch
    _check_kept_counts(world.b)
    with world.b.transaction() as s:
        assert bulk_load.link_triggers(s).keys() == {"tessera_agg_sm_ins", "tessera_cam_sm_ins"}
    _sync(world.b, world.hub)  # and again: nothing changes
    assert _counts(world.b) == (SERIES * (1 + PER_SERIES), SERIES * PER_SERIES)
    _assert_indexes_back(home)


def test_a_kill_while_the_link_triggers_are_dropped_loses_neither_them_nor_a_count(
    world: World, tmp_path: Path
) -> None:
    """A page holds the link triggers dropped across its import batches (dropped once,
    created again before it commits): killed between two batches of page 2, the node
    has page 1 with both triggers and exact kept counts, and the resync goes on."""
    home = _killed_mid_load(world, tmp_path, links=True)
    assert _counts(world.b) == (1 + PER_SERIES, PER_SERIES)
    with world.b.transaction() as s:
        assert bulk_load.link_triggers(s).keys() == {"tessera_agg_sm_ins", "tessera_cam_sm_ins"}
    _check_kept_counts(world.b)
    _sync(world.b, world.hub)
    assert _counts(world.b) == (SERIES * (1 + PER_SERIES), SERIES * PER_SERIES)
    _assert_indexes_back(home)
    _check_kept_counts(world.b)


def test_a_page_drops_the_link_triggers_once_for_all_its_import_batches(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a fresh node's big pull, a page of 12 media records imported in batches of 5
    drops the two link triggers once (each drop and create makes SQLite prepare the
    page's statements again), not once per batch. Kept counts stay exact and the
    triggers are there after every page."""
    pages = _pages(world, tmp_path)
    monkeypatch.setattr(bulk_load, "MIN_RECORDS", 1)
    monkeypatch.setattr(remote_media_store, "IMPORT_BATCH", 5)
    drops: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("DROP TRIGGER"):
            drops.append(statement)

    event.listen(world.b.db.engine, "before_cursor_execute", count)
    try:
        for n, p in enumerate(pages, 1):
            fed_pull.apply_feed(world.b, OP, "hub", p.read_bytes())
            assert len(drops) == 2 * n  # 3 batches of links, the two triggers dropped once
            with world.b.transaction() as s:
                assert set(bulk_load.link_triggers(s)) == {
                    "tessera_agg_sm_ins",
                    "tessera_cam_sm_ins",
                }
            _check_kept_counts(world.b)
    finally:
        event.remove(world.b.db.engine, "before_cursor_execute", count)
    assert _counts(world.b) == (SERIES * (1 + PER_SERIES), SERIES * PER_SERIES)


def test_indexes_left_missing_come_back_at_init_and_at_a_sync_with_nothing_to_pull(
    world: World, tmp_path: Path
) -> None:
    home = _killed_mid_load(world, tmp_path)
    assert set(bulk_load.DEFERRED).isdisjoint(_indexes(home))
    with App(Settings.for_home(home)) as b:
        b.migrate()  # tessera init
    _assert_indexes_back(home)
    with sqlite3.connect(home / "tessera.sqlite") as db:
        for name in bulk_load.DEFERRED:
            db.execute(f"DROP INDEX {name}")
    assert fed_pull.settle(world.b) == list(bulk_load.DEFERRED)
    _assert_indexes_back(home)
    assert fed_pull.settle(world.b) == []


def test_a_small_pull_or_a_full_node_keeps_its_indexes(world: World, tmp_path: Path) -> None:
    pages = _pages(world, tmp_path)
    for p in pages:  # default threshold: a few records are not worth a rebuild
        fed_pull.apply_feed(world.b, OP, "hub", p.read_bytes())
        assert bulk_load.DEFERRED.keys() <= _indexes(tmp_path / "b").keys()
    with world.b.transaction() as s:
        assert not bulk_load.worth_it(s, bulk_load.MIN_RECORDS - 1)
        assert bulk_load.worth_it(s, bulk_load.MIN_RECORDS)
        assert not bulk_load.worth_it(s, 0)


def test_deferred_statements_are_the_migrations(tmp_path: Path) -> None:
    app = _open(tmp_path, "fresh", None)
    have = _indexes(tmp_path / "fresh")
    assert {n: have.get(n) for n in bulk_load.DEFERRED} == bulk_load.DEFERRED
    with app.transaction() as s:
        # a migration that changes these triggers: link_new_media must be checked
        # against the new ones (until then links go in row by row: slower, still right)
        assert set(bulk_load.link_triggers(s)) == {"tessera_agg_sm_ins", "tessera_cam_sm_ins"}
    app.close()
