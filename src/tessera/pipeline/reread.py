"""Read one file again by its result's label, for a step that needs more than the
first pass took: triage's copy check confirming, with full local features, a copy
its 320-pixel keypoints could not tell from another shot of the place.

Only what still holds what the first pass hashed (the same SHA-256) is read again,
and only where one file can be reached alone: a file on disk, or a member of a zip
or plain tar on disk (``archives.index``: the archive is walked once per thread,
then each member read directly; an archive inside it is read from that member). A
member of a compressed tar, 7z or compressed stream on disk is not: its archive would
be decompressed again up to the member, once per verdict chunk that asks. The caller
keeps what the first pass found when this gives None.
"""

from __future__ import annotations

import hashlib

from tessera.errors import MediaError
from tessera.pipeline.archives import (
    DEFAULT_LIMITS,
    SEPARATOR,
    ArchiveLimits,
    archive_member,
)
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.label import parse_label
from tessera.pipeline.options import HashOptions
from tessera.pipeline.read import read_file
from tessera.pipeline.result import FileResult


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
    member = archive_member(parse_label(top), top, label, archives)
    return member.data if member is not None and member.ok else None


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
