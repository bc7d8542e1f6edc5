"""Opening the database: SQLite by default, PostgreSQL by URL, always migrated.

The embedded default is one SQLite file in WAL mode (readers never block the
ingest writer; a crash loses at most the open transaction). PostgreSQL is used
when ``TESSERA_DATABASE_URL`` (or ``--db``) names it, e.g.
``postgresql+psycopg://user:pw@host/db``. Both run the same Alembic migrations,
so the schema is defined once and upgraded in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from tessera.errors import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine with Tessera's settings for the backend the URL names."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True)
    raise ConfigError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}")


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


class Database:
    """An engine, a session factory and the migration state of one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the latest revision (idempotent)."""
        cfg = _alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def is_current(self) -> bool:
        """True when the schema is at the latest revision."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision() == head

    def require_current(self) -> None:
        if not self.is_current():
            raise ConfigError(
                "the database is not initialised or not up to date; run `tessera init`"
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as s:
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["Database", "Session", "make_engine"]
"""``Session`` is re-exported: layers above storage name the type from here, never from
SQLAlchemy (the ``sql-in-storage`` import contract)."""
