"""Length limits of stored text, the same on SQLite and PostgreSQL, checked in Python.

SQLite ignores ``VARCHAR(n)`` and takes any length; PostgreSQL refuses a longer value
(``DataError``) and cannot index a B-tree key over ~2.7 KB. Left to the database, a
hostile 20,000-character archive member name or a 300-character agency name was fine
on one backend and an internal error (exit 70, the rest of the batch lost) on the
other. Every user-supplied string is checked here first, against the column's own
declared length, and refused as ``InvalidInput`` naming the field and the limit.
"""

from __future__ import annotations

from sqlalchemy import Column, String

from tessera.errors import InvalidInput

MAX_PATH_BYTES = 2048
"""Longest original path (UTF-8 bytes) stored for a sighting or an ingest item: the
paths are in unique indexes, and PostgreSQL's B-tree keys stop near 2,700 bytes.
Longer names are a per-file error (``path-too-long``), never a failed batch."""


def check_length(value: str | None, column: Column[str] | object, what: str) -> None:
    """Refuse ``value`` if it is longer than ``column``'s declared ``String(n)``."""
    if value is None:
        return
    col_type = getattr(column, "type", None)
    limit = col_type.length if isinstance(col_type, String) else None
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed")


def check_path(path: str) -> None:
    """Refuse a stored path over ``MAX_PATH_BYTES`` (undecodable bytes count as one)."""
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > MAX_PATH_BYTES:
        raise InvalidInput(
            f"path is {size} bytes long; at most {MAX_PATH_BYTES} are stored",
            reason="path-too-long",
        )


__all__ = ["MAX_PATH_BYTES", "check_length", "check_path"]
