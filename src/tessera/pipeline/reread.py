"""Read one file again by its result's label, for a step that needs more than the
first pass took: triage's copy check confirming, with full local features, a copy
its 320-pixel keypoints could not tell from another shot of the place.

Only a file on disk is read again, and only if it still holds what the first pass
hashed (the same SHA-256). An archive member is not: its archive would be
decompressed again for one member, once per verdict chunk it spans. The caller keeps
what the first pass found when this gives None.
"""

from __future__ import annotations

import hashlib

from tessera.errors import MediaError
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.label import parse_label
from tessera.pipeline.options import HashOptions
from tessera.pipeline.read import read_file
from tessera.pipeline.result import FileResult


def reread(f: FileResult, options: HashOptions) -> FileResult | None:
    """``f``'s file fingerprinted again with ``options``, or None when it is not a
    readable file on disk any more, changed since, or fails to decode now."""
    if f.sha256 is None:
        return None
    path = parse_label(f.path)
    try:
        if not path.is_file():
            return None  # an archive member ("a.zip!/b.jpg"), or gone
        data = read_file(path, options.limits)
    except (MediaError, OSError):  # OSError: is_file on a name the system refuses
        return None
    if hashlib.sha256(data).hexdigest() != f.sha256:
        return None  # changed since: nothing of it is decoded
    again = hash_bytes(data, f.path, options)
    return again if again.status == "ok" else None


__all__ = ["reread"]
