"""PostgreSQL connections run without JIT compilation (``tessera.storage.db``): under
Row-Level Security the policies' costs put a page's small reads above
``jit_above_cost``, and compiling them took longer than reading. Every connection of
the pool, the first and those opened later, and after a transaction ends."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tessera.storage.db import Database


def test_every_connection_has_jit_off(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no JIT")
    with db.engine.connect() as a, db.engine.connect() as b:  # two pooled connections
        assert a.scalar(text("SHOW jit")) == "off"
        assert b.scalar(text("SHOW jit")) == "off"
        a.rollback()
        assert a.scalar(text("SHOW jit")) == "off"
    with db.session() as s:
        assert s.scalar(text("SHOW jit")) == "off"
