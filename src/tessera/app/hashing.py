"""Hash: exact digests and PDQ for files and folders, without the database.

Results stream in the order the paths were found (walk sorted; skipped and
missing paths included), so an interface can print each as it comes; ``total``
is known before the first file is hashed (for a progress bar).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.result import FileResult
from tessera.pipeline.run import run_found
from tessera.pipeline.walk import Found, iter_files


@dataclass(frozen=True)
class HashRun:
    """How many paths were found, and their results as they are computed."""

    total: int
    results: Iterator[FileResult]


def _results(found: list[Found], options: HashOptions, workers: int) -> Iterator[FileResult]:
    """The one file pipeline, archives fingerprinted as plain files (not opened)."""
    plain = ExpandOptions(hash=options, open_archives=False)
    for group in run_found(found, plain, workers=workers):
        yield from group.results


def hash_paths(
    app: App,
    caller: Caller,
    paths: Sequence[Path],
    options: HashOptions,
    *,
    workers: int | None = None,
) -> HashRun:
    """Walk ``paths`` (recursive, sorted, symlinks reported not followed) and hash each file."""
    return walk_and_hash(paths, options, workers=workers or app.settings.worker_count)


def walk_and_hash(paths: Sequence[Path], options: HashOptions, *, workers: int) -> HashRun:
    """``hash_paths`` without a database: what a client of a server (``--server``)
    computes before sending only the fingerprints."""
    found = list(iter_files(paths))
    return HashRun(len(found), _results(found, options, workers))


__all__ = ["HashRun", "hash_paths", "walk_and_hash"]
