"""The server's live PDQ index: fresh without reloads blocking, same answers as brute force."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tessera.index import PdqIndex
from tessera.index.codes import codes_from_hex
from tessera.matching.live_index import LivePdqIndex
from tessera.matching.pdq_store import PdqStore
from tessera.storage.db import Database
from tests.seeding import flip_bits, random_pdq, seed
from tests.storage.conftest import _pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each backend (PostgreSQL where CI provides one)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'tessera.sqlite'}")
        database.migrate()
        yield database
        database.dispose()
    else:
        yield from _pg_database()


def _brute(stored: dict[int, str], query: str, radius: int) -> set[int]:
    q = int(query, 16)
    return {mid for mid, h in stored.items() if (int(h, 16) ^ q).bit_count() <= radius}


def test_base_and_delta_answer_like_brute_force(db: Database, tmp_path: Path) -> None:
    """Rows saved in the base and rows committed later are both found, at the right distance."""
    rng = random.Random(7)
    first = seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(300)])
    PdqStore(db, tmp_path / "index")  # the writer saves a base holding the first 300
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()
    assert live.status().base_size == 300 and live.status().delta_size == 0
    later = seed(db, [(f"b{i}".encode(), random_pdq(rng)) for i in range(50)])
    assert live.refresh() == 50
    st = live.status()
    assert (st.base_size, st.delta_size, st.size) == (300, 50, 350)
    stored = {s.media_id: s.pdq or "" for s in first + later}
    queries = [flip_bits(first[3].pdq or "", [1, 9, 200]), flip_bits(later[7].pdq or "", [5])]
    queries.append(random_pdq(rng))
    hits = live.search(codes_from_hex(queries), radius=31)
    for qi, q in enumerate(queries):
        got = {h.media_id for h in hits if h.query == qi}
        assert got == _brute(stored, q, 31)
    assert {(h.query, h.media_id, h.distance) for h in hits} == {
        (0, first[3].media_id, 3),
        (1, later[7].media_id, 1),
    }


def test_new_base_generation_is_swapped_in_and_old_rows_kept(db: Database, tmp_path: Path) -> None:
    """When the writer saves again, the reader maps the new base; nothing is lost or doubled."""
    rng = random.Random(8)
    seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(20)])
    store = PdqStore(db, tmp_path / "index")
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()
    gen1 = live.status().base_generation
    more = seed(db, [(f"b{i}".encode(), random_pdq(rng)) for i in range(10)])
    live.refresh()
    assert live.status().delta_size == 10
    store.catch_up()  # the writer saves a new generation holding all 30
    live.refresh()
    st = live.status()
    assert st.base_generation != gen1 and st.reloads == 2
    assert (st.base_size, st.delta_size) == (30, 0)
    hits = live.search(codes_from_hex([more[4].pdq or ""]), radius=0)
    assert [h.media_id for h in hits] == [more[4].media_id]


def test_late_commit_below_the_cursor_is_found(db: Database, tmp_path: Path) -> None:
    """A row whose id is below rows already read (a late PostgreSQL commit) is still picked up."""
    rng = random.Random(9)
    seed(db, [(b"x0", random_pdq(rng))])
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()
    # Simulate: ids 2..3 are taken by an open transaction, 4 commits first.
    from sqlalchemy import text

    with db.session() as s:
        s.execute(text("DELETE FROM fingerprint WHERE id > 1"))
    a = seed(db, [(b"x1", random_pdq(rng)), (b"x2", random_pdq(rng))])
    with db.session() as s:
        ids = [r[0] for r in s.execute(text("SELECT id FROM fingerprint ORDER BY id"))]
        hidden = s.execute(text(f"SELECT * FROM fingerprint WHERE id = {ids[1]}")).all()
        s.execute(text(f"DELETE FROM fingerprint WHERE id = {ids[1]}"))
    live.refresh()
    assert live.status().pending_gaps >= 1
    assert [h.media_id for h in live.search(codes_from_hex([a[0].pdq or ""]), radius=0)] == []
    with db.session() as s:  # the "open transaction" commits now, with its old id
        cols = ",".join(hidden[0]._fields)
        vals = ",".join(f":{c}" for c in hidden[0]._fields)
        s.execute(text(f"INSERT INTO fingerprint ({cols}) VALUES ({vals})"), hidden[0]._asdict())
    live.refresh()
    assert [h.media_id for h in live.search(codes_from_hex([a[0].pdq or ""]), radius=0)] == [
        a[0].media_id
    ]


def test_background_poll_and_empty_queries(db: Database, tmp_path: Path) -> None:
    """Started, the reader polls by itself; an empty query batch returns nothing."""
    live = LivePdqIndex(db, tmp_path / "index", poll_interval=0.05)
    live.start()
    try:
        rng = random.Random(10)
        (item,) = seed(db, [(b"only", random_pdq(rng))])
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(live) == 0:
            time.sleep(0.02)
        assert [h.media_id for h in live.search(codes_from_hex([item.pdq or ""]))] == [
            item.media_id
        ]
        assert live.status().fresh
        assert live.search(np.zeros((0, 32), dtype=np.uint8)) == []
    finally:
        live.stop()


def test_late_row_the_writer_missed_survives_base_swaps(db: Database, tmp_path: Path) -> None:
    """The writer saved past a late row's id before it committed: readers keep it anyway."""
    from sqlalchemy import text

    rng = random.Random(12)
    items = seed(db, [(f"w{i}".encode(), random_pdq(rng)) for i in range(3)])
    with db.session() as s:
        ids = [r[0] for r in s.execute(text("SELECT id FROM fingerprint ORDER BY id"))]
        hidden = s.execute(text(f"SELECT * FROM fingerprint WHERE id = {ids[1]}")).all()
        s.execute(text(f"DELETE FROM fingerprint WHERE id = {ids[1]}"))
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()  # sees ids[0], ids[2]; ids[1] is a gap
    store = PdqStore(db, tmp_path / "index")  # the writer saves without ids[1]
    with db.session() as s:  # the late transaction commits
        cols = ",".join(hidden[0]._fields)
        vals = ",".join(f":{c}" for c in hidden[0]._fields)
        s.execute(text(f"INSERT INTO fingerprint ({cols}) VALUES ({vals})"), hidden[0]._asdict())
    live.refresh()  # new base (without the late row) and the late row from the gap
    store.catch_up()
    more = seed(db, [(b"w-more", random_pdq(rng))])
    store.catch_up()  # another generation, still without the late row
    live.refresh()
    assert live.status().reloads >= 2
    for item in [*items, *more]:
        hits = live.search(codes_from_hex([item.pdq or ""]), radius=0)
        assert [h.media_id for h in hits] == [item.media_id]


def test_searches_never_wait_for_a_reload(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a new base generation is being mapped (held open here), searches answer
    from the current snapshot instead of waiting."""
    import threading

    from tessera.index import PdqIndex

    rng = random.Random(13)
    items = seed(db, [(f"r{i}".encode(), random_pdq(rng)) for i in range(5)])
    store = PdqStore(db, tmp_path / "index")
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()
    seed(db, [(b"r-new", random_pdq(rng))])
    store.catch_up()  # a new generation waits on disk
    entered, release = threading.Event(), threading.Event()
    real_load = PdqIndex.load

    def slow_load(*args: object, **kwargs: object) -> PdqIndex:
        entered.set()
        assert release.wait(30)
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PdqIndex, "load", slow_load)
    reload = threading.Thread(target=live.refresh)
    reload.start()
    try:
        assert entered.wait(30)
        hits = live.search(codes_from_hex([items[2].pdq or ""]), radius=0)
        assert [h.media_id for h in hits] == [items[2].media_id]
        assert not release.is_set() and reload.is_alive()  # answered during the reload
    finally:
        release.set()
        reload.join(30)
    assert live.status().reloads == 2


def test_indexed_delta_answers_like_brute_force(db: Database, tmp_path: Path) -> None:
    """A delta indexed in memory plus its scanned tail find every row, exactly once.

    Rows in the base, in the indexed part of the delta and in the tail are all
    queried; a new base generation drops the delta index and nothing is lost.
    """
    rng = random.Random(21)
    base = seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(40)])
    store = PdqStore(db, tmp_path / "index")
    live = LivePdqIndex(db, tmp_path / "index", index_delta_at=16)
    live.refresh()
    first = seed(db, [(f"b{i}".encode(), random_pdq(rng)) for i in range(20)])
    live.refresh()
    assert live.index_delta() is True
    assert live.index_delta() is False  # nothing new: not due
    tail = seed(db, [(f"c{i}".encode(), random_pdq(rng)) for i in range(3)])
    live.refresh()
    st = live.status()
    assert (st.base_size, st.delta_size, st.delta_indexed) == (40, 23, 20)
    stored = {s.media_id: s.pdq or "" for s in base + first + tail}
    picks = [base[5], first[0], first[19], tail[2]]
    queries = [flip_bits(p.pdq or "", [3, 77, 250]) for p in picks] + [random_pdq(rng)]

    def answers() -> list[set[tuple[int, int]]]:
        hits = live.search(codes_from_hex(queries), radius=31)
        assert len({(h.query, h.fingerprint_id) for h in hits}) == len(hits)  # each once
        return [{(h.media_id, h.distance) for h in hits if h.query == qi} for qi in range(5)]

    expect = [
        {
            (m, (int(h, 16) ^ int(q, 16)).bit_count())
            for m in _brute(stored, q, 31)
            for h in [stored[m]]
        }
        for q in queries
    ]
    assert answers() == expect
    assert [min(d for _, d in e) for e in expect[:4]] == [3, 3, 3, 3]
    store.catch_up()  # a new generation holds everything: the delta index goes
    live.refresh()
    st = live.status()
    assert (st.base_size, st.delta_size, st.delta_indexed) == (63, 0, 0)
    assert answers() == expect


def test_delta_index_built_from_an_old_snapshot_is_dropped(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base reload while the delta index was being built: the stale index is not swapped in."""
    rng = random.Random(22)
    seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(5)])
    store = PdqStore(db, tmp_path / "index")
    live = LivePdqIndex(db, tmp_path / "index", index_delta_at=4)
    live.refresh()
    seed(db, [(f"b{i}".encode(), random_pdq(rng)) for i in range(8)])
    live.refresh()
    real_build = PdqIndex.build

    def build_then_reload(*args: Any, **kwargs: Any) -> PdqIndex:
        built = real_build(*args, **kwargs)
        store.catch_up()
        live.refresh()  # the reader maps the new generation meanwhile
        return built

    monkeypatch.setattr(PdqIndex, "build", build_then_reload)
    assert live.index_delta() is False
    st = live.status()
    assert (st.base_size, st.delta_size, st.delta_indexed) == (13, 0, 0)


def test_resident_base_answers_like_the_mapped_one(db: Database, tmp_path: Path) -> None:
    """The base copied into memory finds the same rows; a reload maps the next one, then copies."""
    rng = random.Random(23)
    rows = seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(60)])
    store = PdqStore(db, tmp_path / "index")
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()
    picks = [rows[0], rows[31], rows[59]]
    queries = [flip_bits(p.pdq or "", [2, 100, 201]) for p in picks] + [random_pdq(rng)]
    stored = {s.media_id: s.pdq or "" for s in rows}
    expect = [_brute(stored, q, 31) for q in queries]

    def answers() -> list[set[int]]:
        hits = live.search(codes_from_hex(queries), radius=31)
        return [{h.media_id for h in hits if h.query == qi} for qi in range(len(queries))]

    assert live.status().base_resident is False and answers() == expect
    assert live.make_resident() is True and live.make_resident() is False
    assert live.status().base_resident is True and answers() == expect
    more = seed(db, [(f"b{i}".encode(), random_pdq(rng)) for i in range(5)])
    store.catch_up()
    live.refresh()  # a new generation: mapped at once, copied when the thread gets to it
    assert live.status().base_resident is False and live.status().base_size == 65
    assert live.make_resident() is True
    got = live.search(codes_from_hex([more[4].pdq or ""]), radius=0)
    assert [h.media_id for h in got] == [more[4].media_id]
    assert live.status().base_resident is True
    off = LivePdqIndex(db, tmp_path / "index", resident=False)
    off.refresh()
    assert off.make_resident() is False and off.status().base_resident is False


def test_resident_copy_of_a_replaced_base_is_dropped(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload while the base was being copied: the stale copy is not swapped in."""
    rng = random.Random(24)
    seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(9)])
    store = PdqStore(db, tmp_path / "index")
    live = LivePdqIndex(db, tmp_path / "index")
    live.refresh()
    seed(db, [(f"b{i}".encode(), random_pdq(rng)) for i in range(4)])
    real_copy = PdqIndex.resident

    def copy_then_reload(self: PdqIndex) -> PdqIndex:
        copied = real_copy(self)
        store.catch_up()
        live.refresh()  # the reader maps the new generation meanwhile
        return copied

    monkeypatch.setattr(PdqIndex, "resident", copy_then_reload)
    assert live.make_resident() is False
    st = live.status()
    assert (st.base_size, st.delta_size, st.base_resident) == (13, 0, False)


def test_a_batch_searches_on_one_thread_unless_told(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's requests already run side by side: one batch's search takes one
    thread by default (``SEARCH_THREADS``), all cores only when asked, with the same hits."""
    rng = random.Random(41)
    rows = seed(db, [(f"a{i}".encode(), random_pdq(rng)) for i in range(200)])
    PdqStore(db, tmp_path / "index")
    asked: list[int | None] = []
    real = PdqIndex.search

    def spy(self: PdqIndex, *args: Any, threads: int | None = None, **kwargs: Any) -> Any:
        asked.append(threads)
        return real(self, *args, threads=threads, **kwargs)

    monkeypatch.setattr(PdqIndex, "search", spy)
    queries = [flip_bits(r.pdq or "", [7]) for r in rows[:100]]
    answers = []
    for threads in (1, None):
        live = LivePdqIndex(db, tmp_path / "index", search_threads=threads)
        live.refresh()
        asked.clear()
        hits = live.search(codes_from_hex(queries), radius=31)
        assert asked == [threads]
        answers.append({(h.query, h.media_id, h.distance) for h in hits})
    assert answers[0] == answers[1] == {(i, rows[i].media_id, 1) for i in range(100)}
    default = LivePdqIndex(db, tmp_path / "index")
    default.refresh()
    asked.clear()
    default.search(codes_from_hex(queries), radius=31)
    assert asked == [1]
