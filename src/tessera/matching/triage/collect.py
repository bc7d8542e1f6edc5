"""Step 1: walk the seizure and fingerprint every file (archives opened, all cores)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from tessera.ingest.expand import ExpandOptions, expand_path
from tessera.ingest.filehash import FileResult
from tessera.ingest.parallel import map_ordered
from tessera.ingest.walk import iter_files


def _crash(path: Path) -> list[FileResult]:
    return [FileResult(str(path), "error", reason="worker-crashed", message="decoder died")]


def fingerprint_paths(
    paths: Sequence[Path],
    options: ExpandOptions,
    *,
    workers: int,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> list[FileResult]:
    """Walk and fingerprint everything under ``paths`` (archives opened)."""
    found = list(iter_files(paths))
    if on_total:
        on_total(len(found))
    out: list[FileResult] = []
    todo = []
    for f in found:
        if f.missing:
            out.append(FileResult(str(f.path), "error", reason="not-found", message="no such file"))
        elif f.skip_reason is not None:
            out.append(FileResult(str(f.path), "skipped", reason="skipped", message=f.skip_reason))
        else:
            todo.append(f.path)
    if on_progress and out:
        on_progress(len(out))
    work = partial(expand_path, options=options)
    for group in map_ordered(work, todo, workers=workers, on_crash=_crash):
        out.extend(group)
        if on_progress:
            on_progress(1)
    return out


__all__ = ["fingerprint_paths"]
