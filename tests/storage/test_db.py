"""SQLite's binding of bytes, booleans and None (``tessera.storage.db._sqlite_binding``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from tessera.storage.db import make_engine


def test_sqlite_binds_bytes_bools_and_none_through_registered_adapters(tmp_path: Path) -> None:
    """An engine for SQLite registers adapters for the exact types (the driver then
    skips its failing ``__adapt__`` look-up), and the values are stored as the driver
    stored them without adapters: BLOB, integer 0/1, NULL."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    for kind in (bytes, bool, type(None)):
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.execute("CREATE TABLE t (b BLOB, f BOOLEAN, n BLOB, i INTEGER)")
        values = (b"\x00\xffdigest", True, None, 7)
        raw.execute("INSERT INTO t VALUES (?, ?, ?, ?)", values)
        raw.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (b"", False, None, -1))
        got = raw.execute(
            "SELECT b, typeof(b), f, typeof(f), n, typeof(n), i FROM t ORDER BY rowid"
        ).fetchall()
        assert got == [
            (b"\x00\xffdigest", "blob", 1, "integer", None, "null", 7),
            (b"", "blob", 0, "integer", None, "null", -1),
        ]
        assert conn.execute(text("SELECT count(*) FROM t WHERE n IS NULL")).scalar() == 2
    engine.dispose()
