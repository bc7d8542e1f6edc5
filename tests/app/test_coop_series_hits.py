"""``series_hits`` made from memberships a lookup already read (SQLite) gives what its
own read gives, both backends (PostgreSQL ignores them: RLS filters the caller's reads).

Expected values are written from the world of ``test_coop``: NL-A owns ``S-Secret``
(two items) and ``S-Open`` (one item); a series deleted after the memberships were
read is no hit.
"""

from __future__ import annotations

from sqlalchemy import text

from tessera.app import App, series
from tessera.storage import coop as coop_store
from tessera.storage import sharing
from tests.app.test_coop import OP, world


def _ids(app: App, sql: str) -> dict[str, int]:
    with app.transaction() as s:
        return {str(k): int(v) for k, v in s.execute(text(sql)).all()}


def test_series_hits_from_memberships_read_in_the_transaction(app: App) -> None:
    hashes = world(app)
    sid = _ids(app, "SELECT name, id FROM series")
    nl = _ids(app, "SELECT code, id FROM agency")["NL-A"]
    with app.transaction() as s:  # sha256 hex -> media id
        media = {bytes(h).hex(): int(i) for h, i in s.execute(text("SELECT sha256, id FROM media"))}
    secret = {media[h] for h in hashes["secret"]}
    (open_,) = (media[h] for h in hashes["open"])
    ids = secret | {open_, max(media.values()) + 100}  # and an id that does not exist
    want = {sid["S-Secret"]: (nl, secret), sid["S-Open"]: (nl, {open_})}
    with app.transaction() as s:
        read = sharing.containers(s, ids).in_series
        assert coop_store.series_hits(s, ids) == want
        assert coop_store.series_hits(s, ids, read) == want
        assert coop_store.series_hits(s, secret, read) == {sid["S-Secret"]: (nl, secret)}
    series.delete(app, OP, "S-Open")
    del want[sid["S-Open"]]
    with app.transaction() as s:
        assert coop_store.series_hits(s, ids) == want
        assert coop_store.series_hits(s, ids, read) == want  # read before the delete
