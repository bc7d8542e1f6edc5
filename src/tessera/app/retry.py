"""Contention retried: a write the database gave up because of another writer runs again.

PostgreSQL aborts one of two transactions that deadlock or cannot be serialised, and
SQLite gives a write up after its busy timeout; either way nothing of that transaction
was written (``Contention``, ``storage.db``), and the same call would most likely
succeed a moment later. Rather than hand that to every caller (a 409 in the browser,
exit code 5 on the command line), a use case marked ``@retried`` runs again, up to
``ATTEMPTS`` times in all, after a jittered wait that doubles each time (two writers
that collided do not collide again in step).

Only whole transactions are run again, never half a use case: a call is retried only
when none of the transactions it opened committed (``storage.db.commits``) and it did
not run inside a transaction someone else owns (``storage.db.in_transaction``: a page's
unit of work, a use case calling another; the owner retries, or the error reaches the
caller as before). Its side effects then happen once: audit entries are appended in
the rolled back transaction (``audit.record_in``), hits queued only when a transaction
commits (``storage.db.on_commit``), and a service request's audit entry is queued once,
after the response (``api.audit_trail``). A use case whose checks commit (read)
before its write marks only the write's own function (``markers.add``'s store, a
sign-in's session, a confirmation before a dispute's Baseline flag, a triage job's
progress and end state), so the write alone runs again. Use cases that read a stream,
call another node or start work outside the database are not marked: running them
again is not the same call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from tessera.errors import Contention
from tessera.storage.db import commits, in_transaction

ATTEMPTS = 4
"""Runs in all (the first and three retries) before ``Contention`` reaches the caller."""
BACKOFF = 0.05
"""Seconds: the first wait is up to this, then up to twice the one before (full jitter)."""

sleep: Callable[[float], None] = time.sleep
"""How a retry waits (a test may make it release the lock it holds)."""

P = ParamSpec("P")
R = TypeVar("R")


def retried(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run again on ``Contention`` while nothing of it committed (module docstring)."""

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if in_transaction():  # the transaction's owner decides
            return fn(*args, **kwargs)
        attempt = 1
        while True:
            mark = commits()
            try:
                return fn(*args, **kwargs)
            except Contention:
                if attempt >= ATTEMPTS or commits() != mark:
                    raise
            sleep(random.uniform(0, BACKOFF * 2 ** (attempt - 1)))
            attempt += 1

    return run


__all__ = ["ATTEMPTS", "BACKOFF", "retried"]
