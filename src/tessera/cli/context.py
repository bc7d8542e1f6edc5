"""What database commands share: where the data lives, opened once per command."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from tessera.matching.pdq_store import PdqStore
from tessera.matching.scene_store import SceneStore
from tessera.storage.db import Database, Location


@dataclass
class AppContext:
    """``--db`` / ``--home`` resolved; the database and index opened on first use."""

    db_url: str | None = None
    home: Path | None = None
    _db: Database | None = field(default=None, repr=False)

    @property
    def location(self) -> Location:
        return Location.resolve(self.db_url, self.home)

    def database(self, *, migrate: bool = False) -> Database:
        """The database; ``migrate`` brings the schema up to date (``init``)."""
        if self._db is None:
            self._db = Database(self.location.url)
        if migrate:
            self._db.migrate()
        else:
            self._db.require_current()
        return self._db

    def pdq_store(self) -> PdqStore:
        """The PDQ index beside the database, caught up with it."""
        return PdqStore(self.database(), self.location.index_dir)

    def scene_store(self) -> SceneStore:
        """The same-scene index beside the database (``HOME/scene-index``), caught up."""
        return SceneStore(self.database(), self.location.index_dir.with_name("scene-index"))


pass_app = click.make_pass_decorator(AppContext, ensure=True)
