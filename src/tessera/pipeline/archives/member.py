"""What the archive reader yields: one leaf member, its virtual path and its times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from tessera.errors import MediaError

ArchiveKind = Literal["zip", "7z", "tar", "gzip", "bz2", "xz"]

SEPARATOR = "!/"
"""Separates an archive's path from the name of a member inside it."""

HEAD_BYTES = 512
"""How many leading bytes :func:`is_archive` needs to recognise every supported format."""


@dataclass(frozen=True)
class Member:
    """One leaf member of an archive tree.

    ``path`` is the virtual path (see the module docs). ``error`` is ``None`` for a
    member that was read; then ``data`` holds its bytes. A refused or unreadable member
    has ``data=None`` and the error. An error member may also carry ``data``: the bytes
    of a nested archive that were read but whose contents could not be (too deep,
    damaged); fingerprint them as a file and report the error alongside.

    ``size`` is the member's size (declared by the archive when the member was not
    read). ``mtime`` is the member's modification time: timezone-aware (UTC) when the
    format records UTC (tar, 7z, gzip, zip extended/NTFS timestamps); *naive* when it
    records only a wall-clock time in an unknown zone (zip's DOS timestamp).
    """

    path: str
    data: bytes | None
    error: MediaError | None = None
    size: int | None = None
    mtime: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def utc(timestamp: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(value: int) -> datetime | None:
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
