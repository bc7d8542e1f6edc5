"""Pausing Python's cyclic garbage collector around bulk work.

A full federation pull builds and drops millions of small acyclic objects (parsed
records, row tuples). Each allocation counts towards the collector's thresholds, so
it ran thousands of times per pull, walking every live object each time: 16% of a
node's CPU in a profile of a 100,000-record pull. Reference counting frees these
objects anyway; the collector is paused for the duration of one bounded unit of
work (a feed page, a delta) and the previous state restored after it, so cycles
made meanwhile are collected at the next run.

A server worker has the opposite problem: ~180,000 objects made at start-up
(FastAPI's routes, SQLAlchemy's mappers, pydantic's schemas) that live as long as
the process, and every full collection walked them all. A lookup of 1,000 stored
MD5s spent half its CPU in the collector (184 -> 92 us a hash with it off,
measured in process). ``frozen`` moves what is alive at start-up out of the
collector's reach (``gc.freeze``) for the life of the server.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _State:
    lock = threading.Lock()
    depth = 0
    was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """The collector off until the last of the overlapping pauses (any thread: a
    sync reads the next feed page on its fetch thread while it applies this one)
    ends; then back as it was when the first began."""
    with _State.lock:
        if _State.depth == 0:
            _State.was_enabled = gc.isenabled()
            gc.disable()
        _State.depth += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.depth -= 1
            if _State.depth == 0 and _State.was_enabled:
                gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Exempt every object tracked now from later collections until the block ends
    (``gc.freeze`` / ``gc.unfreeze``: both move whole generation lists, no walk).
    Reference counting still frees them; only a cycle among them (garbage already
    waiting included: no collection first, which would cost every test's server
    start a full walk) waits for the end of the block."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


__all__ = ["frozen", "paused"]
