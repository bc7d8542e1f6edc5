"""The flood guard's hit log of one server process, written in batches.

Every lookup that matches logs (item, query digest, agency) rows for the flood guard
(``tessera.app.trust``). Written in the lookup's own transaction, that insert made
each hit a database write: on SQLite the writers of a busy server queue for the one
write lock, and a hit cost ~1.5 ms more CPU than a miss with a p99 in the hundreds
of milliseconds (``benchmarks/bench_api.py --only hits``). A server process instead
keeps its rows here and appends them every ``interval`` seconds, as ``AuditQueue``
does for read entries.

The guard's answer does not change: it counts the database's rows plus this queue's
(``pending``), and only when those could reach the rule's limits does it write the
queue out and decide on the database's exact counts, as before. What a batch may
lose is the same as the audit queue's: a ``kill -9`` loses at most ``interval``
seconds of hit rows; another worker's queued rows are counted once appended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from tessera.app.batch_writer import BatchWriter

FLUSH_INTERVAL = 0.2
"""Seconds a hit row may wait in memory before its batch is appended."""

Row = tuple[int, str, int]
"""(media id, query key, agency id), as ``tessera.storage.trust.log_hits`` takes it."""


class HitQueue(BatchWriter):
    """Hit rows of one server process, appended in batches by a background thread.

    ``write(rows)`` appends ``(row, at)`` pairs in one transaction (the caller's
    choice of database and session). ``max_pending`` bounds memory: past it, ``add``
    writes the batch itself.
    """

    def __init__(
        self,
        write: Callable[[list[tuple[Row, datetime]]], None],
        *,
        interval: float = FLUSH_INTERVAL,
        max_pending: int = 50_000,
    ) -> None:
        super().__init__(interval)
        self._writer = write
        self.max_pending = max_pending
        # media id -> (query key, agency id) -> time; a repeat keeps the latest, as the log
        self._rows: dict[int, dict[tuple[str, int], datetime]] = {}
        # the batch being written: still counted by ``pending`` until its commit returns,
        # or a lookup between the two would see its rows neither here nor in the database
        self._flight: dict[int, dict[tuple[str, int], datetime]] = {}
        self._count = 0
        self._lock = threading.Lock()
        self._write = threading.Lock()  # one batch at a time, in order
        self.written = 0

    thread_name = "hit-queue"
    failure = "flood-guard hit rows could not be appended; retrying"

    def add(self, rows: Iterable[Row], at: datetime) -> None:
        with self._lock:
            self._put((r, at) for r in rows)
            full = self._count >= self.max_pending
        if self.writes_at_once or full:
            self.flush()

    def _put(self, rows: Iterable[tuple[Row, datetime]]) -> None:
        """Under the lock; a row queued twice keeps its later time."""
        for (m, key, agency), at in rows:
            of = self._rows.setdefault(m, {})
            had = of.get((key, agency))
            if had is None:
                self._count += 1
            if had is None or had < at:
                of[key, agency] = at

    def pending(
        self, media_ids: set[int], since: datetime, after: dict[int, datetime]
    ) -> dict[int, tuple[set[str], set[int]]]:
        """media id -> (query keys, agency ids) of the queued rows at ``since`` or
        later (and after ``after[media id]`` when later: a release), for ``media_ids``.

        The rows of a batch being written count until its commit has returned: a caller
        that reads this before the database's counts misses no row (a row may count in
        both, which keeps the guard's bound an upper bound)."""
        out: dict[int, tuple[set[str], set[int]]] = {}
        with self._lock:
            rows = [
                (m, [*self._rows.get(m, {}).items(), *self._flight.get(m, {}).items()])
                for m in media_ids
                if m in self._rows or m in self._flight
            ]
        for m, of in rows:
            start = max(since, after[m]) if m in after else since
            keys = {key for (key, _), at in of if at >= start}
            agencies = {agency for (_, agency), at in of if at >= start}
            if keys:
                out[m] = (keys, agencies)
        return out

    def flush(self) -> int:
        """Append everything queued now; the number of rows written."""
        with self._write:
            with self._lock:
                batch = [
                    ((m, key, agency), at)
                    for m, of in self._rows.items()
                    for (key, agency), at in of.items()
                ]
                self._flight, self._rows, self._count = self._rows, {}, 0
            if not batch:
                return 0
            try:
                self._writer(batch)
            except Exception:
                with self._lock:  # keep them for the next try; a newer time wins
                    self._flight = {}
                    self._put(batch)
                raise
            with self._lock:
                self._flight = {}
            self.written += len(batch)
            return len(batch)


__all__ = ["FLUSH_INTERVAL", "HitQueue", "Row"]
