"""The index's own failure: a saved index that cannot be trusted.

A PDQ index is a cache of the fingerprint table, rebuilt from it when in doubt. A
damaged cache must never answer "not seen before" for a hash that is in the
database, so every problem found while opening one (a missing or truncated file, a
checksum mismatch, an edited manifest, arrays that contradict each other) raises
``IndexCorrupt`` and the caller rebuilds.
"""

from __future__ import annotations

from tessera.errors import TesseraError


class IndexCorrupt(TesseraError):
    """A saved index is missing, damaged or inconsistent; rebuild it from the database."""

    reason = "index-corrupt"


__all__ = ["IndexCorrupt"]
