"""The entry point: sniff the format, dispatch to its reader, never raise for content."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from tessera.errors import EmptyFile, MediaTooLarge, UnsupportedMedia
from tessera.pipeline.archives.classify import classify
from tessera.pipeline.archives.compressed import iter_stream
from tessera.pipeline.archives.limits import DEFAULT_LIMITS, ArchiveLimits, Tree
from tessera.pipeline.archives.member import HEAD_BYTES, SEPARATOR, ArchiveKind, Member
from tessera.pipeline.archives.sevenz import iter_7z
from tessera.pipeline.archives.sniff import is_archive
from tessera.pipeline.archives.tar import TarReader, iter_tar
from tessera.pipeline.archives.tree import ArchiveLevel
from tessera.pipeline.archives.zip import iter_zip
from tessera.pipeline.read import read_head


def iter_archive(
    data_or_path: bytes | str | os.PathLike[str],
    display_path: str,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    depth: int = 0,
    wanted: Callable[[str], bool] | None = None,
) -> Iterator[Member]:
    """Yield every leaf member of the archive ``data_or_path`` (bytes or a file path).

    ``display_path`` names the archive in member paths. ``depth`` is the nesting level
    of this archive when the caller found it inside something else (0 otherwise).
    ``wanted(path)``: a targeted read; a member (or nested archive) it refuses may be
    left unread where the format allows (zip), else it is yielded as usual.

    The format is sniffed from the content. Input that is not a supported archive, is
    empty or cannot be opened raises here, at call time (``UnsupportedMedia`` with
    reason ``not-an-archive``, ``EmptyFile``, ``UnreadableFile``, or ``MediaTooLarge``
    with reason ``archive-too-deep``). After that, iterating never raises for anything
    in the archive: problems are yielded as error members.
    """
    if depth > limits.max_depth:
        raise MediaTooLarge(
            f"archive nested deeper than {limits.max_depth} levels", reason="archive-too-deep"
        )
    if isinstance(data_or_path, bytes):
        kind = archive_kind(data_or_path[:HEAD_BYTES])
        source = io.BytesIO(data_or_path)
        return iter_source(
            source,
            kind,
            ArchiveLevel(display_path, depth, Tree(limits), read=iter_source, wanted=wanted),
        )
    path = Path(data_or_path)
    kind = archive_kind(_read_head(path))
    level = ArchiveLevel(display_path, depth, Tree(limits), read=iter_source, wanted=wanted)
    return _iter_path(path, kind, level)


def reaches(members: Iterable[str]) -> Callable[[str], bool]:
    """A ``wanted`` predicate for a targeted read of ``members`` (virtual paths): the
    members themselves and the nested archives on the way to them."""
    on_the_way: set[str] = set()
    for member in members:
        on_the_way.add(member)
        at = member.find(SEPARATOR)
        while at > 0:
            on_the_way.add(member[:at])
            at = member.find(SEPARATOR, at + 1)
    return on_the_way.__contains__


def archive_kind(head: bytes) -> ArchiveKind:
    if not head:
        raise EmptyFile("empty file")
    kind = is_archive(head)
    if kind is None:
        raise UnsupportedMedia(
            "not an archive Tessera reads (zip, 7z, tar, gzip, bzip2, xz)",
            reason="not-an-archive",
        )
    return kind


def _read_head(path: Path) -> bytes:
    return read_head(path, HEAD_BYTES)


def _iter_path(path: Path, kind: ArchiveKind, level: ArchiveLevel) -> Iterator[Member]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally; the generator may pause
    except OSError as exc:
        yield level.error(classify(exc))
        return
    try:
        yield from iter_source(fh, kind, level)
    finally:
        fh.close()


def iter_source(fh: IO[bytes], kind: ArchiveKind, level: ArchiveLevel) -> Iterator[Member]:
    try:
        if kind == "zip":
            yield from iter_zip(fh, level)
        elif kind == "7z":
            yield from iter_7z(fh, level)
        elif kind == "tar":
            yield from iter_tar(TarReader(fh, level.tree, counts=False), level, None)
        else:
            yield from iter_stream(fh, kind, level)
    except Exception as exc:  # a reader failed in a way not foreseen: report, never raise
        yield level.error(level.tree.stop or classify(exc, kind))
