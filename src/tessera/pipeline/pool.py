"""Running work on all cores, in input order, surviving worker crashes.

Work is sent to a process pool with a bounded number of files in flight (memory
stays flat for millions of files) and results come back in input order. If a
decoder takes a worker process down (a native crash on a hostile file), the files
that were in flight are retried one at a time in a fresh pool, so only the file that
kills a worker again is reported, as ``worker-crashed``; the run goes on.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_END = object()

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


WORKER_MEMORY = 2 * 1024**3
"""Peak memory one worker may reach on any file the limits accept (the decode budget,
``DecodeLimits.max_memory``, plus the worker's own imports)."""


def available_memory() -> int | None:
    """Bytes of memory available to new work: MemAvailable, capped by a cgroup limit."""
    avail: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            raw = fh.read().strip()
        if raw != "max":
            avail = min(avail, int(raw)) if avail is not None else int(raw)
    except (OSError, ValueError):
        pass
    return avail


def default_workers() -> int:
    """All cores this process may use, but no more workers than the available memory
    holds at ``WORKER_MEMORY`` each (at least one)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cores = max(1, os.cpu_count() or 1)
    memory = available_memory()
    if memory is None:
        return cores
    return max(1, min(cores, memory // WORKER_MEMORY))


_in_worker = False


def in_pool_worker() -> bool:
    """True inside a worker of Tessera's pool (which already occupies every core)."""
    return _in_worker


def _init_worker() -> None:
    global _in_worker  # noqa: PLW0603 - a per-process flag, set once
    _in_worker = True
    # One BLAS thread per worker: the pool already uses every core.
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")


def _new_pool(workers: int) -> ProcessPoolExecutor:
    for var in _THREAD_VARS:  # inherited by forkserver children before numpy loads
        os.environ.setdefault(var, "1")
    ctx = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)


IN_FLIGHT_PER_WORKER = 8
"""Files a pool keeps in flight for each worker unless told otherwise: enough that a
worker never waits on the next file, few enough that results held in order stay small."""


def map_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    on_crash: Callable[[T], R],
    window: int | None = None,
    here: Callable[[T], bool] | None = None,
) -> Iterator[R]:
    """``map(fn, items)`` on a process pool, in order; ``on_crash(item)`` if it kills one.
    ``here(item)``: True for an item with nothing to compute (``fn`` runs in this
    process, in its turn, never pickled to a worker)."""
    if workers == 1:  # in this process, on one BLAS thread as a pool worker would be
        from tessera.media.vpdq_file import blas_threads  # noqa: PLC0415

        for item in items:
            with blas_threads(1):
                result = fn(item)
            yield result
        return
    yield from _ordered_pool(
        items, fn, workers, window or workers * IN_FLIGHT_PER_WORKER, on_crash, here=here
    )


def _ordered_pool(
    items: Iterable[T],
    fn: Callable[[T], R],
    workers: int,
    window: int,
    on_crash: Callable[[T], R],
    *,
    here: Callable[[T], bool] | None = None,
) -> Iterator[R]:
    pool = _new_pool(workers)
    pending: deque[tuple[T, Future[R]]] = deque()
    it = iter(items)
    try:
        while True:
            while len(pending) < window:
                nxt = next(it, _END)
                if nxt is _END:
                    break
                if here is not None and here(nxt):  # type: ignore[arg-type]
                    done: Future[R] = Future()
                    done.set_result(fn(nxt))  # type: ignore[arg-type]
                    pending.append((nxt, done))  # type: ignore[arg-type]
                    continue
                try:
                    fut_new = pool.submit(fn, nxt)  # type: ignore[arg-type]
                except BrokenProcessPool:
                    # a worker died before its result was asked for: same recovery,
                    # everything in flight (in order) plus this item, one at a time
                    pool.shutdown(wait=False, cancel_futures=True)
                    retry: list[T] = [*(p for p, _ in pending), nxt]  # type: ignore[list-item]
                    pending.clear()
                    yield from retry_alone(retry, fn, on_crash)
                    pool = _new_pool(workers)
                    continue
                pending.append((nxt, fut_new))  # type: ignore[arg-type]
            if not pending:
                return
            item, fut = pending.popleft()
            try:
                yield fut.result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                retry = [item, *(p for p, _ in pending)]
                pending.clear()
                yield from retry_alone(retry, fn, on_crash)
                pool = _new_pool(workers)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def retry_alone(items: list[T], fn: Callable[[T], R], on_crash: Callable[[T], R]) -> Iterator[R]:
    """Run each item in its own single-worker pool, so a crash names its item
    (``on_crash(item)``: what it comes back as)."""
    for item in items:
        with _new_pool(1) as solo:
            try:
                yield solo.submit(fn, item).result()
            except BrokenProcessPool:
                yield on_crash(item)


__all__ = [
    "WORKER_MEMORY",
    "available_memory",
    "default_workers",
    "in_pool_worker",
    "map_ordered",
    "retry_alone",
]
