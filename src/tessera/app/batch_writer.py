"""A background thread that writes a server process's queued rows in batches.

Two queues of a server process wait in memory and are written every ``interval``
seconds instead of one database write per request: the audit trail's read entries
(``tessera.app.audit.AuditQueue``) and the flood guard's hit rows
(``tessera.app.hit_queue.HitQueue``). Both keep their rows and the rule of what a
batch writes; this base holds the thread: start, the periodic write (a failed
batch stays queued and is retried at the next tick), stop with a last write.
"""

from __future__ import annotations

import logging
import threading

_log = logging.getLogger(__name__)


class BatchWriter:
    """Calls ``flush`` every ``interval`` seconds on a daemon thread once started.

    ``interval <= 0``, or before ``start``: nothing runs in the background, and the
    queue writes as it is given rows (``writes_at_once``)."""

    thread_name = "batch-writer"
    failure = "a queued batch could not be written; retrying"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def flush(self) -> int:
        """Write everything queued now; how many rows were written."""
        raise NotImplementedError

    @property
    def writes_at_once(self) -> bool:
        return self.interval <= 0 or self._thread is None

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                _log.exception(self.failure)

    def stop(self) -> None:
        """Stop the thread and write what is still queued."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()


__all__ = ["BatchWriter"]
