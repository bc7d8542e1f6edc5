"""Read one file again by its result's label, for a step that needs more than the
first pass took: triage's copy check confirming, with full local features, a copy
its 320-pixel keypoints could not tell from another shot of the place.

Only what still holds what the first pass hashed (the same SHA-256) is read again:
a file on disk, or a member of a zip or plain tar on disk (``archives.index``: the
archive is walked once per thread, then each member read directly; an archive inside
it is read from that member). A member of an archive without such access (a
compressed tar, a 7z, a compressed stream, a zip without its central directory) is
reached by reading its archive again up to the member, so only where that archive
is small (``WALK_AGAIN``: what the first pass read whole, in one worker); a larger
one would be decompressed again, up to the member, for each copy to confirm. The
caller keeps what the first pass found when this gives None.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tessera.errors import MediaError
from tessera.pipeline.archives import (
    DEFAULT_LIMITS,
    SEPARATOR,
    ArchiveLimits,
    Member,
    archive_member,
    iter_archive,
    member_index,
    reaches,
)
from tessera.pipeline.expand import ARCHIVE_IN_MEMORY
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.label import parse_label
from tessera.pipeline.options import HashOptions
from tessera.pipeline.read import read_file
from tessera.pipeline.result import FileResult

WALK_AGAIN = ARCHIVE_IN_MEMORY
"""Largest archive on disk (bytes) without direct access to its members that is read
again, up to the member asked for: 64 MiB, decompressed in well under a second by
gzip, in about a second by xz or 7z's LZMA."""


def reread(
    f: FileResult, options: HashOptions, archives: ArchiveLimits = DEFAULT_LIMITS
) -> FileResult | None:
    """``f``'s file fingerprinted again with ``options``, or None when it is not a
    readable file on disk or zip or tar member any more, changed since, or fails to decode
    now. ``archives``: the limits the first pass read its archive with."""
    if f.sha256 is None:
        return None
    try:
        data = _read(f.path, options, archives)
    except (MediaError, OSError):  # OSError: is_file on a name the system refuses
        return None
    if data is None or hashlib.sha256(data).hexdigest() != f.sha256:
        return None  # gone, out of reach, or changed since: nothing of it is decoded
    again = hash_bytes(data, f.path, options)
    return again if again.status == "ok" else None


def _read(label: str, options: HashOptions, archives: ArchiveLimits) -> bytes | None:
    """The bytes ``label`` names: a file, or a zip or tar member ("a.zip!/b.jpg")."""
    path = parse_label(label)
    if path.is_file():
        return read_file(path, options.limits)
    top = _top_level(label)
    if top is None:
        return None
    archive = parse_label(top)
    if member_index(archive, top, archives) is not None:
        member = archive_member(archive, top, label, archives)
    elif archive.stat().st_size <= WALK_AGAIN:
        member = _walked(archive, top, label, archives)
    else:
        return None
    return member.data if member is not None and member.ok else None


def _walked(archive: Path, top: str, label: str, archives: ArchiveLimits) -> Member | None:
    """The member ``label`` of ``archive``, read again from its start (a targeted read:
    what a format lets it skip is skipped, and it stops at the member)."""
    members = iter_archive(archive, top, archives, wanted=reaches({label}))
    for m in members:
        if m.path == label:
            return m
    return None


def _top_level(label: str) -> str | None:
    """The label of the file on disk holding the member ``label``: the shortest
    prefix before a ``!/`` that is a file (a folder's name may hold ``!``)."""
    at = label.find(SEPARATOR)
    while at > 0:
        if parse_label(label[:at]).is_file():
            return label[:at]
        at = label.find(SEPARATOR, at + 1)
    return None


__all__ = ["reread"]
