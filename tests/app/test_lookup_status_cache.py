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
