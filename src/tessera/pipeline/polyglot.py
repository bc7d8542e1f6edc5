"""Finding an archive hidden after the end of a picture (a polyglot file).

``cat photo.jpg secret.zip > photo.jpg`` makes a file every image viewer shows as
the photo and every zip tool opens as the archive. Decoders stop at the picture's
end marker and never look further, so whatever follows must be looked for on
purpose: after a PNG's ``IEND`` chunk, after any JPEG end-of-image marker, and, for
a zip, from its end-of-central-directory record (zip tools find a zip from its end,
whatever precedes it).
"""

from __future__ import annotations

import io
import zipfile

from tessera.pipeline.archives import HEAD_BYTES, ArchiveKind, is_archive

APPENDED_ARCHIVE = "appended-archive"
"""Flag of a picture followed by an archive (whose members are examined too)."""

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_ZIP_END = b"PK\x05\x06"
_ZIP_END_WINDOW = 22 + 0xFFFF  # the record and the longest comment


def _picture_ends(data: bytes) -> list[int]:
    """Offsets where the picture may end (candidates, in order)."""
    if data.startswith(_PNG):
        i = data.find(b"IEND")
        return [i + 8] if i >= 0 else []
    if data.startswith(_JPEG):
        ends, i = [], data.find(b"\xff\xd9", 2)
        while i >= 0:
            ends.append(i + 2)
            i = data.find(b"\xff\xd9", i + 2)
        return ends
    return []


def appended_archive(data: bytes) -> tuple[int, ArchiveKind] | None:
    """``(offset, format)`` of an archive that follows a JPEG or PNG picture, or None."""
    ends = _picture_ends(data)
    if not ends:
        return None
    for end in ends:
        if end < len(data) and (kind := is_archive(data[end : end + HEAD_BYTES])) is not None:
            return end, kind
    if _ZIP_END in data[-_ZIP_END_WINDOW:]:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                offsets = [i.header_offset for i in zf.infolist()]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            return None
        start = min(offsets, default=0)
        if 0 < start < len(data) and data[start : start + 4] == b"PK\x03\x04":
            return start, "zip"
    return None


__all__ = ["APPENDED_ARCHIVE", "appended_archive"]
