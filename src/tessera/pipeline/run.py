"""The one file pipeline that ``hash``, ``ingest`` and ``triage`` share.

Paths are walked (sorted; links and special files reported, not followed), each
top-level file is expanded in a pool worker (read once; archives opened, members
fingerprinted; a large archive's members spread over every worker,
``tessera.pipeline.fanout``), and the results come back in walk order, one group per
found path.
Everything the walk found is accounted for: a missing path is an ``error``
(``not-found``), a link or special file ``skipped`` with the reason, a file whose
decoder killed its worker ``error`` (``worker-crashed``) while the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tessera.pipeline.fanout import crashed_job, crashed_label, is_ready, jobs, regroup, run_job
from tessera.pipeline.label import path_label
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.pool import IN_FLIGHT_PER_WORKER, map_ordered
from tessera.pipeline.result import FileResult
from tessera.pipeline.walk import Found, iter_files


@dataclass(frozen=True)
class FileGroup:
    """The results of one found path: one for a plain file, several for an archive.
    A large archive's come in several groups as its members are done (``complete``
    only on the last: ``tessera.pipeline.fanout``)."""

    found: Found
    label: str
    results: tuple[FileResult, ...]
    complete: bool = True


def crashed(path: Path) -> list[FileResult]:
    """What a file whose decoder killed its worker (twice) comes back as."""
    return [crashed_label(path_label(path))]


def not_processed(found: Found) -> FileResult:
    """The result of a found path that is not read: missing, a link, a special file."""
    label = path_label(found.path)
    if found.missing:
        return FileResult(label, "error", reason="not-found", message="no such file")
    return FileResult(label, "skipped", reason="skipped", message=found.skip_reason)


def run_found(
    found: Iterable[Found],
    options: ExpandOptions,
    *,
    workers: int,
    skip: Callable[[str], bool] | None = None,
    cluster: str | None = None,
    ahead: int = 0,
) -> Iterator[FileGroup]:
    """Groups for ``found``, in order; ``skip(label)`` leaves a path out (resume). A
    large archive's results come in several groups, the last ``complete`` (with more
    than one worker its members are spread over them: ``tessera.pipeline.fanout``).

    ``cluster`` (a Dask scheduler address) runs the per-file work on that cluster's
    workers instead of the local pool (``tessera.pipeline.cluster``; a large zip or
    plain tar spread over them too). ``ahead`` more
    files are kept in flight than the local pool's own window: a consumer that stops to
    work on a batch of results (triage's verdict chunks) keeps the workers busy
    meanwhile (a cluster's window, per worker thread, is left as it is)."""
    chosen = [f for f in found if skip is None or not skip(path_label(f.path))]
    todo = [f.path for f in chosen if f.skip_reason is None and not f.missing]
    expanded: Iterator[tuple[list[FileResult], bool]]
    if cluster:
        from tessera.pipeline.cluster import expand_on_cluster  # noqa: PLC0415 (dask on demand)

        expanded = expand_on_cluster(todo, options, address=cluster, on_crash=crashed)
    else:  # a large archive's members spread over the workers (tessera.pipeline.fanout)
        window = workers * IN_FLIGHT_PER_WORKER + ahead
        work = partial(run_job, options=options)
        done = map_ordered(
            work,
            jobs(todo, options, fan_out=workers > 1),
            workers=workers,
            on_crash=partial(crashed_job, again=work),
            window=window,
            here=is_ready,
        )
        expanded = regroup(done)
    for f in chosen:
        label = path_label(f.path)
        if f.skip_reason is not None or f.missing:
            yield FileGroup(f, label, (not_processed(f),))
            continue
        complete = False
        while not complete:
            results, complete = next(expanded)
            yield FileGroup(f, label, tuple(results), complete)


def run_paths(
    paths: Sequence[str | Path],
    options: ExpandOptions,
    *,
    workers: int,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    cluster: str | None = None,
) -> Iterator[FileResult]:
    """Every result for everything under ``paths``, in walk order."""
    found = list(iter_files(paths))
    if on_total:
        on_total(len(found))
    for group in run_found(found, options, workers=workers, cluster=cluster):
        yield from group.results
        if on_progress and group.complete:
            on_progress(1)


__all__ = ["FileGroup", "crashed", "not_processed", "run_found", "run_paths"]
