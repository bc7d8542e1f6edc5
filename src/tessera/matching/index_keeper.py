"""The server's single index writer: keeps the saved PDQ index close to the database.

Server workers read the saved index memory-mapped and scan what was committed
after it (``LivePdqIndex``). The keeper, one thread in the serving process (never
in the workers), catches the saved index up and saves a new generation when
enough rows have accumulated or some time has passed, so the workers' deltas stay
small. A save writes new files and swaps the manifest atomically; workers pick
the new generation up in the background, never in a request.

The thresholds weigh a save (at 10M hashes it rewrites and checksums ~1.3 GB)
against the readers' scan of their delta (~3 ns per hash per query: 100,000
rows add ~0.3 ms to a search).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

from tessera.matching.pdq_store import PdqStore
from tessera.storage.db import Database
from tessera.storage.repo import max_fingerprint_id

log = logging.getLogger(__name__)

KEEPER_NICE = 10


class IndexKeeper:
    """Save the PDQ index after ``min_rows`` new rows, or ``max_age`` seconds with any."""

    def __init__(
        self,
        db: Database,
        folder: Path,
        *,
        check_every: float = 2.0,
        min_rows: int = 100_000,
        max_age: float = 120.0,
    ) -> None:
        self.db = db
        self.folder = folder
        self.check_every = check_every
        self.min_rows = min_rows
        self.max_age = max_age
        self._store: PdqStore | None = None
        self._last_save = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.saves = 0

    def open(self) -> PdqStore:
        """Open (build or catch up and save) the index now: before workers start."""
        if self._store is None:
            self._store = PdqStore(self.db, self.folder)
            self._last_save = time.monotonic()
        return self._store

    def step(self) -> bool:
        """Save a new generation if due; True when it did."""
        store = self.open()
        with self.db.session() as s:
            behind = max_fingerprint_id(s, "pdq") - store.last_id
        due = behind >= self.min_rows or (
            behind > 0 and time.monotonic() - self._last_save >= self.max_age
        )
        if not due:
            return False
        store.catch_up()
        self._last_save = time.monotonic()
        self.saves += 1
        return True

    def start(self) -> None:
        self.open()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pdq-index-keeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        # this thread only, below the request threads: a save of a 10M generation
        # takes tens of CPU seconds and must not lengthen lookups (readers scan or
        # index their delta meanwhile)
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), KEEPER_NICE)
        while not self._stop.wait(self.check_every):
            try:
                self.step()
            except Exception:  # the next step tries again; readers never depend on it
                log.exception("PDQ index keeper step failed")


__all__ = ["IndexKeeper"]
