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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import msgpack

from tessera.errors import ConfigError
from tessera.pipeline.archives import INDEXED, member_index
from tessera.pipeline.expand import (
    archive_on_disk,
    disk_archive_result,
    member_results,
    one_per_path,
    with_errors,
)
from tessera.pipeline.fanout import crashed_label
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
    client = connect(address)
    try:
        for _, out in _map(client, fn, items, on_crash=on_crash, window=window):
            yield out
    finally:
        client.close()


def _map(
    client: Any,
    fn: Callable[[T], bytes],
    items: Iterable[T],
    *,
    on_crash: Callable[[T], bytes],
    window: int | None = None,
) -> Iterator[tuple[T, bytes]]:
    """``map_on_cluster`` on a connected ``client``: (item, result) in order."""
    from distributed import KilledWorker  # noqa: PLC0415

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
        yield item, out


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


MEMBERS_PER_TASK = 64
"""First-level members of a large zip or plain tar fingerprinted by one cluster task
(with everything nested in them): the archive is spread over the workers, each of
which walks it once (``archives.index``) and reads its members directly."""


@dataclass(frozen=True)
class PathTask:
    """Expand one found path on a worker (a file, or an archive read whole)."""

    path: str


@dataclass(frozen=True)
class MembersTask:
    """Fingerprint some first-level members of a large zip or plain tar (and what is
    nested in them) on a worker."""

    path: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class OwnTask:
    """A large archive's own result (its digests, streamed) on a worker; the errors
    of the archive as a whole, from its listing, as (reason, message)."""

    path: str
    kind: str
    errors: tuple[tuple[str, str], ...]


Task = PathTask | MembersTask | OwnTask


def run_task(task: Task, options: ExpandOptions) -> bytes:
    """Runs on a worker: a task's results, as MessagePack bytes."""
    if isinstance(task, PathTask):
        return expand_remote(task.path, options)
    if isinstance(task, MembersTask):
        return members_remote(task.path, task.labels, options)
    return own_remote(task.path, task.kind)


def list_remote(path: str, options: ExpandOptions) -> bytes:
    """Runs on a worker: the first-level members of the zip or plain tar ``path`` (its
    index's walk) and the errors of the archive as a whole, as MessagePack; an empty
    map when it has no index (then the archive is one task, as before)."""

    index = member_index(path, path_label(Path(path)), options.archives)
    if index is None:
        return bytes(msgpack.packb({}))
    errors = [[e.reason, e.message] for e in index.errors]
    return bytes(msgpack.packb({"labels": list(index.places), "errors": errors}))


def _listing(blob: bytes) -> tuple[list[str], list[tuple[str, str]]] | None:
    """``list_remote``'s answer, checked field by field (a worker sends plain values)."""
    try:
        raw = msgpack.unpackb(blob, raw=False, strict_map_key=True)
    except Exception:
        raw = None
    if raw == {}:
        return None
    if not isinstance(raw, dict) or set(raw) != {"labels", "errors"}:
        raise ConfigError("a cluster worker sent back a malformed member list")
    labels, errors = raw["labels"], raw["errors"]
    ok = isinstance(labels, list) and all(isinstance(x, str) for x in labels)
    ok = ok and isinstance(errors, list)
    ok = ok and all(
        isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e) for e in errors
    )
    if not ok:
        raise ConfigError("a cluster worker sent back a malformed member list")
    return labels, [(reason, message) for reason, message in errors]


def members_remote(path: str, labels: Sequence[str], options: ExpandOptions) -> bytes:
    """Runs on a worker: the results of some first-level members of a large archive
    and of everything nested in them, as ``expand_path`` gives them."""

    index = member_index(path, path_label(Path(path)), options.archives)
    if index is None:  # this worker cannot see it, or it changed since its listing
        return encode(_unseen(label) for label in labels)
    return encode(member_results(index.read(labels, whole=True), options))


def own_remote(path: str, kind: str) -> bytes:
    """Runs on a worker: a large archive's own result (its digests, streamed)."""

    p = Path(path)
    if not os.path.lexists(p):
        return encode([_unseen(path_label(p))])
    return encode([disk_archive_result(p, path_label(p), kind)])


def _unseen(label: str) -> FileResult:
    return FileResult(
        label,
        "error",
        reason="not-on-worker",
        message=f"the worker on {os.uname().nodename} cannot see this path "
        "(mount the evidence at the same path on every worker)",
    )


def expand_on_cluster(
    paths: Iterable[Path],
    options: ExpandOptions,
    *,
    address: str,
    on_crash: Callable[[Path], list[FileResult]],
) -> Iterator[tuple[list[FileResult], bool]]:
    """Like ``map_ordered(expand_path, paths)``, on the cluster at ``address``: each
    path's results in order, True with the last of them. A large zip or plain tar
    (over ``expand.ARCHIVE_IN_MEMORY``) is listed by a worker, then its members go out
    in tasks of ``MEMBERS_PER_TASK`` and its results come in pieces, one per task."""
    client = connect(address)
    try:
        work = partial(run_task, options=options)
        for task, blob in _map(
            client,
            work,
            _tasks(client, paths, options),
            on_crash=partial(_crashed_task, client=client, work=work, on_crash=on_crash),
        ):
            results = decode(blob)
            if isinstance(task, OwnTask):
                own = [with_errors(r, list(task.errors)) for r in results]
                yield one_per_path(own), True
            else:
                yield one_per_path(results), isinstance(task, PathTask)
    finally:
        client.close()


def _tasks(client: Any, paths: Iterable[Path], options: ExpandOptions) -> Iterator[Task]:

    for path in paths:
        kind = archive_on_disk(path) if options.open_archives else None
        listing = None
        if kind in INDEXED:
            future = client.submit(list_remote, str(path), options, pure=False)
            try:
                listing = _listing(future.result())
            except ConfigError:
                raise
            except Exception:  # the listing killed its workers: the archive as one task
                listing = None
            finally:
                future.release()
        if listing is None or kind is None:
            yield PathTask(str(path))
            continue
        labels, errors = listing
        for k in range(0, len(labels), MEMBERS_PER_TASK):
            yield MembersTask(str(path), tuple(labels[k : k + MEMBERS_PER_TASK]))
        yield OwnTask(str(path), kind, tuple(errors))


def _crashed_task(
    task: Task,
    *,
    client: Any,
    work: Callable[[Task], bytes],
    on_crash: Callable[[Path], list[FileResult]],
) -> bytes:
    """A task that killed too many workers: a path is ``on_crash``'s; a task of
    members is tried again one member at a time, so only a member that kills its
    workers again is ``worker-crashed``."""
    if isinstance(task, PathTask):
        return encode(on_crash(Path(task.path)))
    if isinstance(task, OwnTask):
        return encode(on_crash(Path(task.path)))
    if len(task.labels) == 1:
        return encode([crashed_label(task.labels[0])])
    singles = (MembersTask(task.path, (label,)) for label in task.labels)
    out: list[FileResult] = []
    for _, blob in _map(
        client,
        work,
        singles,
        on_crash=partial(_crashed_task, client=client, work=work, on_crash=on_crash),
    ):
        out.extend(decode(blob))
    return encode(out)


__all__ = [
    "MEMBERS_PER_TASK",
    "WINDOW_PER_THREAD",
    "MembersTask",
    "OwnTask",
    "PathTask",
    "connect",
    "expand_on_cluster",
    "expand_remote",
    "list_remote",
    "map_on_cluster",
    "members_remote",
    "own_remote",
    "run_task",
]
