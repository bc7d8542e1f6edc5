"""The database itself and the indexes beside it: create, rebuild, status."""

from __future__ import annotations

from pathlib import Path

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result


class Initialised(Result):
    """``tessera init``: the database is at the latest schema, the index folder exists."""

    dialect: str
    database_url: str
    """Without password."""
    index_dir: Path


class IndexesRebuilt(Result):
    pdq_fingerprints: int
    pdq_dir: Path
    scene_media: int
    scene_dir: Path


class IndexStatus(Result):
    pdq_fingerprints: int
    pdq_last_row: int
    pdq_dir: Path
    scene_media: int
    scene_mode: str
    scene_vocabulary: int
    scene_last_row: int
    scene_dir: Path


def init(app: App, caller: Caller) -> Initialised:
    """Create the database or upgrade its schema, and open (build) the PDQ index."""
    db = app.migrate()
    store = app.pdq_store()
    return Initialised(
        dialect=db.dialect, database_url=app.settings.safe_database_url, index_dir=store.folder
    )


def rebuild(app: App, caller: Caller) -> IndexesRebuilt:
    """Rebuild both indexes from the database; the scene vocabulary is retrained."""
    store = app.pdq_store()
    n = store.rebuild()
    scene = app.scene_store()
    m = scene.rebuild()
    return IndexesRebuilt(
        pdq_fingerprints=n, pdq_dir=store.folder, scene_media=m, scene_dir=scene.folder
    )


def status(app: App, caller: Caller) -> IndexStatus:
    """How much each index holds and the database row it is caught up to."""
    store = app.pdq_store()
    scene = app.scene_store()
    st = scene.status()
    return IndexStatus(
        pdq_fingerprints=len(store.index),
        pdq_last_row=store.last_id,
        pdq_dir=store.folder,
        scene_media=int(st["media"]),
        scene_mode=str(st["mode"]),
        scene_vocabulary=int(st["vocabulary"]),
        scene_last_row=int(st["last_row"]),
        scene_dir=scene.folder,
    )


__all__ = ["IndexStatus", "IndexesRebuilt", "Initialised", "init", "rebuild", "status"]
