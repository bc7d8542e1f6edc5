"""Opening the database: SQLite by default, PostgreSQL by URL, always migrated.

The embedded default is one SQLite file in WAL mode (readers never block the
ingest writer; a crash loses at most the open transaction). PostgreSQL is used
when ``TESSERA_DATABASE_URL`` (or ``--db``) names it, e.g.
``postgresql+psycopg://user:pw@host/db``. Both run the same Alembic migrations,
so the schema is defined once and upgraded in place.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tessera.errors import ConfigError, Contention

if TYPE_CHECKING:  # alembic (~0.4 s to import) loads only to migrate or check the revision
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


WRITER_LOCK_KEY = 0x7E55E7A
"""PostgreSQL advisory lock key of :meth:`Database.write_session`."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _none(_value: None) -> None:
    return None


def _sqlite_binding() -> None:
    """Bind bytes, booleans and None without the driver's adaptation look-ups.

    Python's ``sqlite3`` binds int, float and str as they are, but passes every other
    value (bytes, bool, None: the digests, flags and empty columns of each imported
    record) through its adaptation protocol first, whose failed ``__adapt__`` look-up
    on the protocol class formats an AttributeError each time: 7.5 per imported VICS
    record, 2.4 % of all instructions of an import (callgrind). An adapter registered
    for the exact type is found first: the same value, stored as before (BLOB,
    integer 0/1, NULL). Process-wide and idempotent; the types are not the base types
    whose adaptation would make the driver adapt every value."""
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b itself for bytes
    sqlite3.register_adapter(bool, int)
    sqlite3.register_adapter(type(None), _none)


def _sqlite_path(url: str) -> Path | None:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    return Path(path) if path and path != ":memory:" else None


_TRANSIENT_SQLSTATES = {"40P01": "a deadlock", "40001": "a serialization failure"}


@contextmanager
def _contention() -> Iterator[None]:
    """A transaction the database gave up because of another writer is ``Contention``
    (rolled back, nothing written, retry), not an internal error: PostgreSQL's deadlock
    or serialization failure, SQLite's lock held past the busy timeout."""
    try:
        yield
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state in _TRANSIENT_SQLSTATES:
            why = _TRANSIENT_SQLSTATES[state]
        elif "database is locked" in str(exc.orig):
            why = "the database staying locked by another writer"
        else:
            raise
        raise Contention(
            f"another writer held what this change needed ({why}); nothing of it was "
            "written: try again"
        ) from exc


_commits: ContextVar[int] = ContextVar("tessera_commits", default=0)
_open: ContextVar[int] = ContextVar("tessera_open_transactions", default=0)


def commits() -> int:
    """How many ``Database.session`` / ``write_session`` transactions committed so far in
    this context (thread or task): ``app.retry`` runs a call again only while none of its
    own did."""
    return _commits.get()


def in_transaction() -> bool:
    """True inside a ``Database.session`` / ``write_session`` block of this context."""
    return _open.get() > 0


@contextmanager
def _counted() -> Iterator[None]:
    # set, never Token.reset: a streamed answer's generator may leave its session in
    # another thread's copy of the context than the one it opened it in
    _open.set(_open.get() + 1)
    try:
        yield
    finally:
        _open.set(max(0, _open.get() - 1))
    _commits.set(_commits.get() + 1)  # reached only when the block committed


def _postgres_no_jit(dbapi_conn: Any, _record: Any) -> None:
    """``jit = off`` on every PostgreSQL connection.

    Under Row-Level Security each policy function counts ~100 in the planner's cost per
    row, so a page's read of 50 rows is estimated above ``jit_above_cost`` and
    PostgreSQL compiled it to machine code first: 27 ms of a 53 ms read (EXPLAIN
    ANALYZE as the service role, 100k media). Measured through ``bench_web.py
    --service-role`` (PostgreSQL backends' CPU per page, load 12): series 105 -> 41 ms,
    series report 69 -> 36, media item 59 -> 42, text search 603 -> 403. Tessera's
    reads are short; none gains from JIT."""
    with contextlib.closing(dbapi_conn.cursor()) as cur:
        cur.execute("SET jit = off")
    dbapi_conn.commit()


def make_engine(url: str) -> Engine:
    """An engine with Tessera's settings for the backend the URL names.

    Nothing is created on disk here: only ``Database.migrate`` (``tessera init``)
    creates the SQLite file and its folder, so a mistyped ``--home`` is an error.
    """
    if url.startswith("sqlite"):
        _sqlite_binding()
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "connect", _postgres_no_jit)
        return engine
    raise ConfigError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}")


def _alembic_config() -> Config:
    from alembic.config import Config  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def _head_from_files(versions: Path) -> str | None:
    """The one head of the migration chain, read from the scripts' ``revision`` and
    ``down_revision`` lines as text (literals only); None when anything is not plain
    (then alembic decides). Tested against alembic's own ``get_current_head``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        text_ = script.read_text("utf-8")
        found = {m.group(1): m.group(2) for m in _REVISION_LINE.finditer(text_)}
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return None
        down = () if down is None else (down,) if isinstance(down, str) else down
        if not isinstance(revision, str) or not all(isinstance(d, str) for d in down):
            return None
        revisions.add(revision)
        parents.update(down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


@functools.cache
def head_revision() -> str:
    """The latest migration's revision id."""
    head = _head_from_files(MIGRATIONS / "versions")
    if head is None:
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        assert head is not None
    return head


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
        """Create the database if needed and bring the schema to the latest revision
        (idempotent). A SQLite file and its folder are the owner's only (0600 / 0700)."""
        path = _sqlite_path(self.url)
        created = False
        if path is not None:
            created = not path.parent.exists()
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                path.touch(mode=0o600)
        from alembic import command  # noqa: PLC0415

        cfg = _alembic_config()
        with self._connecting(), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        if path is not None:  # a parent folder we did not make is not ours to change
            restrict(*([path.parent] if created else []), path, *path.parent.glob(path.name + "-*"))

    @contextmanager
    def _connecting(self) -> Iterator[None]:
        """Connection failures are configuration errors (exit 3), naming the server
        without its password, never internal errors."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise ConfigError(
                f"cannot open the database {where}: {first[0] if first else type(exc).__name__}"
            ) from exc

    def is_current(self) -> bool:
        """True when the schema is at the latest revision.

        Every command asks this; it reads ``alembic_version`` itself and compares it
        with ``head_revision()`` (alembic, ~0.5 s to import and load its scripts,
        loads only to migrate)."""
        head = head_revision()
        with self._connecting(), self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        return [tuple(r) for r in rows] == [(head,)]

    def require_current(self) -> None:
        path = _sqlite_path(self.url)
        if path is not None and not path.is_file():
            raise ConfigError(
                f"no Tessera database at {path}: run `tessera init` first "
                "(or check --home / TESSERA_HOME)"
            )
        if not self.is_current():
            raise ConfigError(
                "the database is not initialised or not up to date; run `tessera init`"
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with _contention(), _counted(), self._sessions.begin() as s:
            yield s

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A Core connection for reads alone (``storage.prepared.rows`` takes it),
        rolled back when done: ~20 us of CPU against ~130 us for an ORM session's
        begin and commit (measured on SQLite at 1.25M hashes), for the index's
        per-search read of its hits' media."""
        with _contention(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session whose transaction holds the database's writer lock from its start.

        Concurrent writers (several ``tessera ingest`` runs, a server) then see each
        other's committed rows before they decide anything (is this SHA-256 known? is
        this path already recorded?), and fingerprint rows commit in id order, which
        the indexes' catch-up by id relies on. SQLite: ``BEGIN IMMEDIATE`` (waits up
        to the busy timeout); PostgreSQL: a transaction-level advisory lock.
        """
        with _contention(), _counted(), self._sessions.begin() as s:
            conn = s.connection()
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


_ON_COMMIT = "tessera.on_commit"


def on_commit(s: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once when ``s``'s transaction commits (never on a rollback).

    Kept in ``s.info`` and run by one listener on every session's commit: a listener
    registered per session (``event.listen(s, ...)``) cost ~40 us of CPU a call, once
    in every lookup that matched (measured on SQLite at 1M hashes)."""
    actions: list[Callable[[], None]] = s.info.setdefault(_ON_COMMIT, [])
    actions.append(action)


@event.listens_for(Session, "after_commit")
def _run_on_commit(s: Session) -> None:
    actions: list[Callable[[], None]] | None = s.info.pop(_ON_COMMIT, None)
    for action in actions or ():
        action()


def restrict(*paths: Path) -> None:
    """Owner-only permissions (folders 0700, files 0600) on what already exists,
    whatever the umask was when it was created."""
    for p in paths:
        with contextlib.suppress(OSError):  # not ours to change: leave it
            p.chmod(0o700 if p.is_dir() else 0o600)


__all__ = [
    "Database",
    "Session",
    "commits",
    "in_transaction",
    "make_engine",
    "on_commit",
    "restrict",
]
"""``Session`` is re-exported: layers above storage name the type from here, never from
SQLAlchemy (the ``sql-in-storage`` import contract)."""
