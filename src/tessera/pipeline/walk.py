"""Expanding the paths a user names into the files to process.

Folders are walked recursively in a stable (sorted) order so that runs, reports
and resumptions line up. Symbolic links are not followed inside folders: evidence
trees can hold links that point outside the seizure or loop back on themselves.
They are reported as skipped, so that nothing is silently left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    """A path to process, or one to report as not processed (``skip_reason``)."""

    path: Path
    skip_reason: str | None = None
    missing: bool = False


def iter_files(paths: Iterable[str | Path]) -> Iterator[Found]:
    """Yield every regular file under ``paths`` (files given directly are kept as given)."""
    for raw in paths:
        p = Path(raw)
        if p.is_symlink() and p.is_dir():
            yield Found(p, skip_reason="symlink")
        elif p.is_dir():
            yield from _walk(p)
        elif p.exists() or p.is_symlink():
            yield Found(p)
        else:
            yield Found(p, missing=True)


def _walk(root: Path) -> Iterator[Found]:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield Found(folder, skip_reason=f"unreadable folder: {exc.strerror or exc}")
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                yield Found(path, skip_reason="symlink")
            elif entry.is_dir(follow_symlinks=False):
                subdirs.append(path)
            elif entry.is_file(follow_symlinks=False):
                yield Found(path)
            else:
                yield Found(path, skip_reason="not a regular file")
        stack.extend(reversed(subdirs))
