"""``App``: one opened deployment (database and indexes) for the use cases.

An interface opens one ``App`` from ``Settings`` per process (the CLI per command,
the API per worker) and passes it, with the caller, to every use case. The App
opens the database and the indexes lazily (``tessera hash`` never touches them)
and keeps **one** ``PdqStore`` and one ``SceneStore`` each: the index files have a
single writer, so nothing else may construct these stores for the App's folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from tessera.app.settings import Settings
from tessera.storage import bulk_load, sharing
from tessera.storage.db import Database, Session

if TYPE_CHECKING:
    from tessera.app.hit_queue import HitQueue
    from tessera.matching.pdq_store import PdqStore
    from tessera.matching.scene_store import SceneStore


class App:
    """The database and indexes of one deployment, opened from ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Database | None = None
        self._index_db: Database | None = None
        self._checked = False
        self._pdq: PdqStore | None = None
        self._scene: SceneStore | None = None
        self.hit_queue: HitQueue | None = None
        """A server process's batched flood-guard hit log (``trust.start_hit_queue``);
        None: each lookup writes its hits in its own transaction."""

    # -- the database ------------------------------------------------------------------

    def _database(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    @property
    def db(self) -> Database:
        """The database, refused (``ConfigError``) unless its schema is current."""
        db = self._database()
        if not self._checked:
            db.require_current()
            self._checked = True
        return db

    @property
    def index_db(self) -> Database:
        """The database as the index machinery reads it: every hash and media id.

        On PostgreSQL its connections start with ``tessera.index=on`` so Row-Level
        Security lets them read fingerprints and media rows (never metadata, series
        or text) without a caller (``storage.sharing.index_url``); answers built from
        the indexes are filtered per caller in the use cases. Elsewhere: ``db``.
        """
        db = self.db
        url = sharing.index_url(db.url)
        if url == db.url:
            return db
        if self._index_db is None:
            self._index_db = Database(url)
        return self._index_db

    def migrate(self) -> Database:
        """Create the database or bring its schema up to date (``tessera init``)."""
        db = self._database()
        db.migrate()
        with db.session() as s:  # indexes a federation bulk load cut short left missing
            bulk_load.restore(s)
        self._checked = True
        return db

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on any error.

        Use cases own their transactions; repositories (``tessera.storage``) only
        take the session they are given.
        """
        with self.db.session() as s:
            yield s

    # -- the indexes (one writer each) ---------------------------------------------------

    def pdq_store(self) -> PdqStore:
        """The PDQ index beside the database (``HOME/index``), caught up with it."""
        if self._pdq is None:
            from tessera.matching.pdq_store import PdqStore  # noqa: PLC0415 (faiss: on use)

            self._pdq = PdqStore(self.index_db, self.settings.index_dir)
        return self._pdq

    def scene_store(self) -> SceneStore:
        """The same-scene index beside the database (``HOME/scene-index``), caught up."""
        if self._scene is None:
            from tessera.matching.scene_store import SceneStore  # noqa: PLC0415 (on use)

            self._scene = SceneStore(self.index_db, self.settings.scene_index_dir)
        return self._scene

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
        if self._index_db is not None:
            self._index_db.dispose()
        self._db, self._pdq, self._scene, self._checked = None, None, None, False
        self._index_db = None

    def __enter__(self) -> App:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["App"]
