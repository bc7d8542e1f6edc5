"""The index's own failure, ``IndexCorrupt``, now defined in the one hierarchy
(``tessera.errors``); re-exported here for code written against the old place."""

from __future__ import annotations

from tessera.errors import IndexCorrupt

__all__ = ["IndexCorrupt"]
