"""Step 1: walk the seizure and fingerprint every file (archives opened, all cores)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.result import FileResult
from tessera.pipeline.run import run_paths


def fingerprint_paths(
    paths: Sequence[Path],
    options: ExpandOptions,
    *,
    workers: int,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    cluster: str | None = None,
) -> Iterator[FileResult]:
    """Walk and fingerprint everything under ``paths`` with the one file pipeline
    (archives opened), in walk order, as the workers return them (triage decides
    them in chunks meanwhile); on the Dask cluster at ``cluster`` if given."""
    return run_paths(
        paths,
        options,
        workers=workers,
        on_total=on_total,
        on_progress=on_progress,
        cluster=cluster,
    )


__all__ = ["fingerprint_paths"]
