"""The PDQ index of the database's fingerprints, kept in step with the database.

The index files live beside the database (``HOME/index``) and are tagged with the
database's ``instance_id`` and the highest fingerprint row id they contain. On
open:

* no files, files of another database, or files claiming rows the database does
  not have (restored from an older backup): rebuilt from the database;
* files behind the database (a run was killed after committing, before saving
  the index): caught up incrementally from the rows after their tag;
* otherwise used as they are (memory-mapped, no parse step).

Ingest refreshes the index from the database after each committed batch (so the
fingerprints other concurrent runs committed come in too) and saves now and then;
nothing is ever rebuilt per insert. Loads and saves hold the folder's lock
(``tessera.index.lock``), and a save never replaces a newer index another process
saved. ``tessera index rebuild`` forces a rebuild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tessera.errors import IndexCorrupt
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.index import PdqIndex
from tessera.index.lock import folder_lock
from tessera.storage import fingerprint_feed as feed
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.repo import fingerprints_after, max_fingerprint_id

_BATCH = 200_000


@dataclass(frozen=True)
class PdqHit:
    """One stored fingerprint near a query."""

    query: int
    fingerprint_id: int
    media_id: int
    distance: int
    quality: int | None
    position: int = 0
    """0 for a still image; for a video frame, 1 + its time in milliseconds."""

    @property
    def timestamp(self) -> float | None:
        """Seconds into the video for a frame hit, None for a still image."""
        return (self.position - 1) / 1000 if self.position > 0 else None


def instance_id(db: Database) -> str:
    with db.session() as s:
        value = repo.meta_value(s, "instance_id")
    return value or "unknown"


class PdqStore:
    """Open (or build) the index for ``db`` under ``folder``; see the module doc."""

    def __init__(self, db: Database, folder: Path) -> None:
        self.db = db
        self.folder = folder
        self.instance = instance_id(db)
        self.last_id = 0
        self._unsaved = 0
        self.index = self._open()

    # -- opening, catching up, saving ----------------------------------------------

    def _state(self) -> str:
        return f"{self.instance}:{self.last_id}"

    def _open(self) -> PdqIndex:
        loaded: PdqIndex | None = None
        with folder_lock(self.folder):
            if (self.folder / "manifest.json").exists():
                try:
                    loaded = PdqIndex.load(self.folder)
                except IndexCorrupt:
                    loaded = None
        if loaded is not None:
            inst, _, last = loaded.state.partition(":")
            db_max = self._db_max()
            if inst == self.instance and last.isdigit() and int(last) <= db_max:
                self.last_id = int(last)
                self.index = loaded
                self.catch_up()
                return self.index
        return self._build()

    def _db_max(self) -> int:
        with self.db.session() as s:
            return max_fingerprint_id(s, "pdq")

    def _build(self) -> PdqIndex:
        codes: list[NDArray[np.uint8]] = []
        ids: list[NDArray[np.int64]] = []
        last = 0
        while True:
            with self.db.session() as s:
                rows = fingerprints_after(s, "pdq", last, _BATCH)
            if not rows:
                break
            ids.append(np.array([r[0] for r in rows], dtype=np.int64))
            codes.append(
                np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint8).reshape(-1, 32)
            )
            last = rows[-1][0]
        all_codes = np.concatenate(codes) if codes else np.zeros((0, 32), dtype=np.uint8)
        all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        self.index = PdqIndex.build(all_codes, all_ids)
        self.last_id = last
        self.save(force=True)
        return self.index

    def rebuild(self) -> int:
        """Rebuild from the database; returns the number of fingerprints indexed."""
        self._build()
        return len(self.index)

    def catch_up(self) -> int:
        """Add fingerprints committed after the index was saved; returns how many."""
        added = self.refresh()
        if added:
            self.save()
        return added

    def refresh(self) -> int:
        """Add every fingerprint committed since ``last_id``, by this process or another
        (in memory; returns how many). Writers commit fingerprint rows in id order
        (``Database.write_session``), so after a refresh the index holds every row up to
        ``last_id`` and nothing another run wrote meanwhile is left out."""
        added = 0
        while True:
            with self.db.session() as s:
                rows = fingerprints_after(s, "pdq", self.last_id, _BATCH)
            if not rows:
                break
            self.add(rows)
            added += len(rows)
        return added

    def add(self, rows: list[tuple[int, int, bytes, int | None]]) -> None:
        """Index committed fingerprint rows ``(id, media_id, value, quality)``, in id order."""
        rows = [r for r in rows if r[0] > self.last_id]
        if not rows:
            return
        codes = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint8).reshape(-1, 32)
        self.index.add(codes, np.array([r[0] for r in rows], dtype=np.int64))
        self.last_id = max(self.last_id, *(r[0] for r in rows))
        self._unsaved += len(rows)

    def remove(self, fingerprint_ids: list[int]) -> int:
        """Drop fingerprints from the index (their media were removed) and save it;
        returns how many it held. Search also skips rows of removed media, so a
        crash before this save loses nothing."""
        if not fingerprint_ids:
            return 0
        removed = self.index.remove(np.array(sorted(set(fingerprint_ids)), dtype=np.int64))
        self.save(force=True)  # fewer rows, same last id: written all the same
        return removed

    def save(self, *, force: bool = False) -> None:
        """Write the index files, unless another process saved a newer index meanwhile
        (what is on disk is then complete up to a later row: it is kept); ``force``
        writes them anyway (a rebuild)."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.folder):
            if force or self._saved_last_id() < self.last_id:
                self.index.save(self.folder, state=self._state())
        self._unsaved = 0

    def _saved_last_id(self) -> int:
        """The last row id of this database's index on disk (-1 if none or another's)."""
        try:
            manifest = json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return -1
        inst, _, last = str(manifest.get("state", "")).partition(":")
        return int(last) if inst == self.instance and last.isdigit() else -1

    def save_if_due(self, every: int = 50_000) -> None:
        if self._unsaved >= every:
            self.save()

    # -- search ------------------------------------------------------------------------

    def search(
        self,
        codes: NDArray[np.uint8],
        *,
        radius: int = MATCH_THRESHOLD,
        min_quality: int = QUALITY_THRESHOLD,
    ) -> list[PdqHit]:
        """Stored fingerprints within ``radius`` of each query code, quality-filtered."""
        if len(codes) == 0 or len(self.index) == 0:
            return []
        res = self.index.search(codes, radius=radius)
        if len(res.id) == 0:
            return []
        with self.db.session() as s:
            info = feed.pdq_hit_info(s, (int(i) for i in res.id))
        hits = []
        for q, fid, d in zip(res.query, res.id, res.distance, strict=True):
            found = info.get(int(fid))
            if found is None:  # deleted (or soft-deleted) since indexed
                continue
            media_id, quality, position = found
            if quality is not None and quality < min_quality:
                continue
            hits.append(PdqHit(int(q), int(fid), media_id, int(d), quality, position))
        return hits


__all__ = ["PdqHit", "PdqStore", "instance_id"]
