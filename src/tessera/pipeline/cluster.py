"""Hashing and feature work on a Dask cluster (``--cluster tcp://HOST:8786``).

The walk, the order of results, resuming and every database write stay in the one
process that runs ``tessera ingest`` or ``tessera triage``; only the per-file work
(read, decode, hashes, local features, metadata, text) runs on the cluster's
workers, a bounded window of files at a time, and the results are consumed in
walk order. So a run with a cluster gives the answers the same run gives without
one.

Trust: the workers and the scheduler are the operator's own machines. Dask sends
the task (function and arguments) to the workers pickled, so whoever can reach the
scheduler can run code on the workers: keep it on a closed network, or use Dask's
TLS. The way back is plain: each file's results come back as MessagePack bytes
(:mod:`tessera.pipeline.wire`), and the client accepts only that (its Dask
deserializers are limited to msgpack), so a worker cannot make the process that
holds the database unpickle anything.

Workers read the files themselves by path: the evidence must be mounted at the same
path on every worker (read-only). A worker that cannot see a file reports it as an
error (``not-on-worker``) rather than a missing file, so a wrong mount shows.

A worker that dies (killed, out of memory, a native crash on a hostile file) has
its files redone by the scheduler on another worker; a file that has killed
``distributed.scheduler.allowed-failures`` + 1 workers comes back as
``worker-crashed``, as with the local pool, and the run goes on.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tessera.errors import ConfigError
from tessera.pipeline.label import path_label
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.result import FileResult
from tessera.pipeline.wire import decode, encode

T = TypeVar("T")

CONNECT_TIMEOUT = "20s"
"""How long to wait for the scheduler before giving up (Dask's time text)."""

WINDOW_PER_THREAD = 4
"""Files in flight per worker thread: enough to keep every worker busy while the
client writes, few enough that memory stays flat for any seizure."""


def connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` that only accepts msgpack back."""
    try:
        from distributed import Client  # noqa: PLC0415 (heavy import, only with --cluster)
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ConfigError("--cluster needs dask.distributed (pip install distributed)") from exc
    try:
        return Client(  # type: ignore[no-untyped-call]
            address,
            timeout=CONNECT_TIMEOUT,
            set_as_default=False,
            serializers=["dask", "pickle", "msgpack"],
            deserializers=["msgpack"],
        )
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def _threads(client: Any) -> int:
    info = client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def map_on_cluster(
    fn: Callable[[T], bytes],
    items: Iterable[T],
    *,
    address: str,
    on_crash: Callable[[T], bytes],
    window: int | None = None,
) -> Iterator[bytes]:
    """``map(fn, items)`` on the cluster at ``address``, results (bytes) in order.

    ``on_crash(item)`` stands for an item whose task killed too many workers
    (Dask's ``KilledWorker``)."""
    from distributed import KilledWorker  # noqa: PLC0415

    client = connect(address)
    try:
        size = window or WINDOW_PER_THREAD * _threads(client)
        pending: deque[tuple[T, Any]] = deque()
        it = iter(items)
        done = False
        while True:
            while not done and len(pending) < size:
                try:
                    item = next(it)
                except StopIteration:
                    done = True
                    break
                pending.append((item, client.submit(fn, item, pure=False)))
            if not pending:
                return
            item, fut = pending.popleft()
            try:
                out = fut.result()
            except KilledWorker:
                out = on_crash(item)
            except Exception as exc:
                raise ConfigError(
                    f"the cluster failed on {item!s}: {type(exc).__name__}: {exc} (a worker "
                    "sends back results only; see the worker's log for its error)"
                ) from None
            finally:
                fut.release()
            if not isinstance(out, bytes):
                raise ConfigError("a cluster worker sent back something other than bytes")
            yield out
    finally:
        client.close()


def expand_remote(path: str, options: ExpandOptions) -> bytes:
    """Runs on a worker: the results of one found path, as MessagePack bytes."""
    from tessera.pipeline.expand import expand_path  # noqa: PLC0415

    p = Path(path)
    if not os.path.lexists(p):
        return encode(
            [
                FileResult(
                    path_label(p),
                    "error",
                    reason="not-on-worker",
                    message=f"the worker on {os.uname().nodename} cannot see this path "
                    "(mount the evidence at the same path on every worker)",
                )
            ]
        )
    return encode(expand_path(p, options=options))


def expand_on_cluster(
    paths: Iterable[Path],
    options: ExpandOptions,
    *,
    address: str,
    on_crash: Callable[[Path], list[FileResult]],
) -> Iterator[list[FileResult]]:
    """Like ``map_ordered(expand_path, paths)``, on the cluster at ``address``."""

    def crashed(path: str) -> bytes:
        return encode(on_crash(Path(path)))

    work = partial(expand_remote, options=options)
    for blob in map_on_cluster(work, (str(p) for p in paths), address=address, on_crash=crashed):
        yield decode(blob)


__all__ = ["WINDOW_PER_THREAD", "connect", "expand_on_cluster", "expand_remote", "map_on_cluster"]
