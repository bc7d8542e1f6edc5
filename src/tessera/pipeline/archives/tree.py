"""One level of an archive tree, and descending into members that are archives."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from tessera.errors import MediaError, MediaTooLarge
from tessera.pipeline.archives.limits import Tree
from tessera.pipeline.archives.member import HEAD_BYTES, ArchiveKind, Member
from tessera.pipeline.archives.sniff import is_archive

SourceReader = Callable[[IO[bytes], ArchiveKind, "ArchiveLevel"], Iterator[Member]]
"""Reads one archive of a known format at one level (injected: formats call back in)."""

Passed = Callable[[Member, object], None]
"""Told of a member a targeted read leaves unread: the member as a full read names it
(no data; its refusal as ``error``, if any) and where its data lies, in the format's
own terms (a zip's ``ZipInfo``, a tar member's data offset)."""


@dataclass(frozen=True)
class Container:
    """A nested archive as a member of its parent: for its error members."""

    data: bytes
    size: int | None
    mtime: datetime | None


@dataclass(frozen=True)
class ArchiveLevel:
    """The archive being read: its virtual path, nesting depth and tree state."""

    path: str
    depth: int
    tree: Tree
    read: SourceReader = field(kw_only=True)  # opens nested archives at the next level
    container: Container | None = None  # set when the archive is a member of another
    wanted: Callable[[str], bool] | None = field(default=None, kw_only=True)
    """Members (by virtual path) a targeted read needs; a reader that can reach a member
    without decompressing the others (zip's central directory, a tar's headers) skips
    the rest."""
    passed: Passed | None = field(default=None, kw_only=True)
    """Where this level's skipped members are told of (``archives.index``); nested
    levels do not inherit it."""

    def skips(self, path: str) -> bool:
        """Whether a targeted read can leave the member ``path`` unread."""
        return self.wanted is not None and not self.wanted(path)

    def pass_over(self, member: Member, where: object) -> None:
        """A member left unread by a targeted read (see ``Passed``)."""
        if self.passed is not None:
            self.passed(member, where)

    def error(self, error: MediaError) -> Member:
        """An error member for this archive as a whole."""
        c = self.container
        if c is None:
            return Member(self.path, None, error)
        return Member(self.path, c.data, error, c.size, c.mtime)


def emit(
    level: ArchiveLevel, path: str, data: bytes, size: int | None, mtime: datetime | None
) -> Iterator[Member]:
    """Yield a member that was read, or descend into it if it is an archive."""
    tree = level.tree
    kind = is_archive(data[:HEAD_BYTES])
    if kind is None:
        yield Member(path, data, None, size, mtime)
        return
    if level.depth + 1 > tree.limits.max_depth:
        error = MediaTooLarge(
            f"{kind} archive nested deeper than {tree.limits.max_depth} levels; not opened",
            reason="archive-too-deep",
        )
        yield Member(path, data, error, size, mtime)
        return
    inner = ArchiveLevel(
        path,
        level.depth + 1,
        tree,
        Container(data, size, mtime),
        read=level.read,
        wanted=level.wanted,
    )
    empty = True
    for member in level.read(io.BytesIO(data), kind, inner):
        empty = False
        yield member
    if empty:  # an archive with no members is still a file that was there
        yield Member(path, data, None, size, mtime)
