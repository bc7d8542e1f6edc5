"""One writer at a time for an index folder, across processes.

Several processes (concurrent ``tessera ingest`` runs, triage, a server) open and save
the same index folder beside the database. Saving replaces files and removes the
previous generation, so a save must never interleave with another save or with a
load. :func:`folder_lock` takes an exclusive ``flock`` on a lock file next to the
folder (``.NAME.lock``) for the duration of one load or one save; it is released
when the process dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` (not re-entrant: take it around file I/O only)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder.parent / f".{folder.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


__all__ = ["folder_lock"]
