"""Members of a zip or a plain tar on disk reached by name, the archive walked once.

Triage reads some members of a seizure again after its first pass: the copy check
confirms a few copies with full features (``pipeline.reread``), and the leads stage
reads the open members, a few per job. A targeted read (``iter_archive`` with
``wanted``) still walks the whole archive's directory every time: 0.9 s for a zip of
100,000 members, 1.4 s for a tar's headers, per confirmation and per job, so a
seizure packed as one archive spent longer finding its members than reading them.

An index is built by one such walk, in which the readers tell where each member they
pass over lies (``ArchiveLevel.passed``), and each thread keeps the last one it
built: a zip's entries in its central directory, a tar member's data offset. The
names (``#2`` numbering included), refusals and limits are those of the walk, so a
member comes back as a full read gives it, nested archives read from it as usual.
Compressed tars, 7z and compressed streams have no such access and are not indexed:
reaching a member means decompressing what comes before it.
"""

from __future__ import annotations

import os
import tarfile
import threading
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tessera.errors import CorruptMedia, MediaError
from tessera.pipeline.archives.classify import classify
from tessera.pipeline.archives.limits import DEFAULT_LIMITS, ArchiveLimits, Tree, read_member
from tessera.pipeline.archives.member import SEPARATOR, ArchiveKind, Member
from tessera.pipeline.archives.reader import archive_kind, iter_source, reaches
from tessera.pipeline.archives.sniff import is_archive
from tessera.pipeline.archives.tree import ArchiveLevel, emit
from tessera.pipeline.read import read_head

INDEXED: tuple[ArchiveKind, ...] = ("zip", "tar")
"""The formats an index reaches members of directly (a zip through its central
directory, a plain tar through its headers' data offsets)."""


def archive_format(path: str | os.PathLike[str]) -> ArchiveKind | None:
    """The archive format ``path``'s content says, or None (not an archive, or not
    readable now)."""
    try:
        return is_archive(read_head(Path(path)))
    except (MediaError, OSError):
        return None


@dataclass
class MemberIndex:
    """One archive's first-level members by virtual path, with where their data lies
    (a ``ZipInfo``, a tar data offset, or None where only a walk reaches it)."""

    label: str
    limits: ArchiveLimits
    fh: BinaryIO
    zf: zipfile.ZipFile | None
    places: dict[str, tuple[Member, object]]
    order: dict[str, int]
    errors: tuple[MediaError, ...] = ()
    """What the walk found wrong with the archive as a whole (a damaged end, too many
    members): a full read reports it on the archive's own result."""

    def read(self, labels: Collection[str], *, whole: bool = False) -> Iterator[Member]:
        """The members ``labels`` name (nested ones read from their first-level
        archive), in archive order; a label the index does not lead to gives nothing.
        Members of a nested archive that are not asked for may come too; with
        ``whole``, a first-level member comes with everything nested in it, as in a
        full read."""
        firsts = {f for f in (self._first(label) for label in labels) if f is not None}
        for path in sorted(firsts, key=self.order.__getitem__):
            yield from self._member(path, None if whole else labels)

    def close(self) -> None:
        if self.zf is not None:
            self.zf.close()
        self.fh.close()

    def _first(self, label: str) -> str | None:
        """The first-level member ``label`` is, or is inside of."""
        if label in self.places:
            return label
        at = label.find(SEPARATOR, len(self.label) + len(SEPARATOR))
        while at > 0:
            if label[:at] in self.places:
                return label[:at]
            at = label.find(SEPARATOR, at + 1)
        return None

    def _member(self, path: str, labels: Collection[str] | None) -> Iterator[Member]:
        head, where = self.places[path]
        if head.error is not None or where is None:
            if head.error is not None:
                yield head
            return
        tree = Tree(self.limits)
        try:
            data = self._data(where, head.size, tree)
        except Exception as exc:  # a read error is the member's, as in a full read
            yield Member(path, None, classify(exc, "member"), head.size, head.mtime)
            return
        wanted = None if labels is None else reaches(labels)
        level = ArchiveLevel(self.label, 0, tree, read=iter_source, wanted=wanted)
        yield from emit(level, path, data, head.size, head.mtime)

    def _data(self, where: object, size: int | None, tree: Tree) -> bytes:
        if isinstance(where, zipfile.ZipInfo) and self.zf is not None:
            with self.zf.open(where) as stream:
                return read_member(stream, tree, charge=True)
        if isinstance(where, int) and size is not None:
            self.fh.seek(where)
            data = read_member(_Slice(self.fh, size), tree, charge=True)
            if len(data) != size:  # as tarfile says it, so the member reads as in a walk
                raise tarfile.ReadError("unexpected end of data")
            return data
        raise CorruptMedia("member cannot be reached in its archive", reason="corrupt")


class _Slice:
    """``size`` bytes of ``fh`` from where it stands."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self._fh, self._left = fh, size

    def read(self, n: int = -1, /) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data


def _never(_path: str) -> bool:
    return False


def build_index(
    path: str | os.PathLike[str], label: str, limits: ArchiveLimits = DEFAULT_LIMITS
) -> MemberIndex | None:
    """The index of the zip (with a central directory) or plain tar ``path``, named
    ``label`` in member paths; None for any other file or one that cannot be opened."""
    try:
        kind = archive_kind(read_head(Path(path)))
    except (MediaError, OSError):
        return None
    if kind not in INDEXED:
        return None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - kept open by the index, closed by close()
    except OSError:
        return None
    places: dict[str, tuple[Member, object]] = {}
    zf: zipfile.ZipFile | None = None
    try:
        if kind == "zip":
            zf = zipfile.ZipFile(fh)  # no central directory: only a walk reaches members
        fh.seek(0)
        level = ArchiveLevel(
            label,
            0,
            Tree(limits),
            read=iter_source,
            wanted=_never,
            passed=lambda m, where: places.__setitem__(m.path, (m, where)),
        )
        walked = iter_source(fh, kind, level)
        errors = [m.error for m in walked if m.path == label and m.error is not None]
    except Exception:
        if zf is not None:
            zf.close()
        fh.close()
        return None
    if zf is not None:  # it opens the walk's entries; its own copy of them is not needed
        zf.filelist, zf.NameToInfo = [], {}
    order = {p: i for i, p in enumerate(places)}
    return MemberIndex(label, limits, fh, zf, places, order, tuple(errors))


class _Kept(threading.local):
    """The index a thread keeps: its file position is the thread's own (a Dask
    worker may run several threads)."""

    def __init__(self) -> None:
        self.indexes: dict[tuple[object, ...], MemberIndex] = {}


_KEPT = _Kept()


def member_index(
    path: str | os.PathLike[str], label: str, limits: ArchiveLimits = DEFAULT_LIMITS
) -> MemberIndex | None:
    """``build_index``, kept by this thread for the next call on the same archive
    (same path, label and limits, and a file unchanged since: inode, size and time)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (os.fspath(path), label, limits, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    index = _KEPT.indexes.get(key)
    if index is None:
        release_indexes()
        index = build_index(path, label, limits)
        if index is not None:
            _KEPT.indexes[key] = index
    return index


def release_indexes() -> None:
    """Close the index this thread keeps (its file and memory: ~1.1 KB a member of
    a zip, ~0.5 KB of a tar), for a long-lived process when its run is over."""
    for index in _KEPT.indexes.values():
        index.close()
    _KEPT.indexes.clear()


def archive_member(
    path: str | os.PathLike[str],
    display_path: str,
    member: str,
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> Member | None:
    """The member named ``member`` (a virtual path under ``display_path``, nested
    archives included) of the zip or plain tar ``path``, through this thread's index
    of it: no other member of it is read. None when ``path`` has no index (another
    format, a zip without central directory) or it names no such member; a refused or
    unreadable member comes back as the error member a full read gives."""
    index = member_index(path, display_path, limits)
    if index is None:
        return None
    for m in index.read([member]):
        if m.path == member:
            return m
    return None


__all__ = [
    "INDEXED",
    "MemberIndex",
    "archive_format",
    "archive_member",
    "build_index",
    "member_index",
    "release_indexes",
]
