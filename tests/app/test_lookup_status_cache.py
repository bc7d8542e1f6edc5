"""Series statuses in lookups: a stale status is answered while it is counted again.

A lookup hitting a series of millions of media must not wait for its count; the
cache answers the last status and one background thread recounts. The count is
checked against the number of media the test itself stored (not the code's).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from tessera.app import App, Settings
from tessera.app.lookup import _StatusCache
from tessera.storage import repo
from tests.seeding import random_pdq, seed


def test_stale_status_is_answered_then_refreshed(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path / "home")
    rng = random.Random(4)
    with App(settings) as app:
        app.migrate()
        first = seed(app.db, [(f"s-{i}".encode(), random_pdq(rng)) for i in range(3)])
        with app.transaction() as s:
            series_id = repo.series_of_media(s, [first[0].media_id])[first[0].media_id][0]
        cache = _StatusCache(ttl=0.0)  # every entry is stale at once
        with app.transaction() as s:
            assert cache.get(app, s, [series_id])[series_id].media_count == 3  # counted now
        seed(app.db, [(f"t-{i}".encode(), random_pdq(rng)) for i in range(2)])
        with app.transaction() as s:  # stale: the old count, a recount started
            assert cache.get(app, s, [series_id])[series_id].media_count == 3
        deadline = time.monotonic() + 30  # a wait for the thread, not a timing check
        count = 3
        while count != 5 and time.monotonic() < deadline:
            time.sleep(0.02)
            with app.transaction() as s:
                count = cache.get(app, s, [series_id])[series_id].media_count
        assert count == 5
        with app.transaction() as s:  # unknown ids are left out, not cached
            assert cache.get(app, s, [series_id + 1000]) == {}


def test_a_series_never_counted_is_counted_once_for_concurrent_lookups(tmp_path: Path) -> None:
    """Lookups arriving while a series is first counted wait for that one count (at 10M
    media each count takes seconds; 16 at once held every request past 30 s)."""
    import threading

    settings = Settings.for_home(tmp_path / "home")
    rng = random.Random(5)
    with App(settings) as app:
        app.migrate()
        first = seed(app.db, [(f"c-{i}".encode(), random_pdq(rng)) for i in range(4)])
        with app.transaction() as s:
            series_id = repo.series_of_media(s, [first[0].media_id])[first[0].media_id][0]
        release = threading.Event()
        calls: list[list[int]] = []

        class Held(_StatusCache):
            @staticmethod
            def _count(s, ids):  # type: ignore[no-untyped-def]
                calls.append(list(ids))
                release.wait(30)
                return _StatusCache._count(s, ids)

        cache = Held()
        got: list[int] = []

        def ask() -> None:
            with app.transaction() as s:
                got.append(cache.get(app, s, [series_id])[series_id].media_count)

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # let them arrive (a late one finds the cache filled: same result)
        release.set()
        for t in threads:
            t.join(60)
        assert calls == [[series_id]]
        assert got == [4] * 6
