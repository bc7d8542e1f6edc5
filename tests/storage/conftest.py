"""Contract fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TESSERA_TEST_POSTGRES_URL`` (``.ci/run`` starts a
throw-away server on loopback and sets it). Each test gets its own schema, so
tests never see each other's rows; where the variable is unset (a user's fresh
clone) the PostgreSQL half skips, saying why.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tessera.storage.db import Database, _alembic_config

PG_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")


def _pg_database() -> Iterator[Database]:
    yield from pg_schema_database(Database.migrate)


def pg_schema_database(prepare: Callable[[Database], object]) -> Iterator[Database]:
    """A PostgreSQL database in a schema of its own (``prepare`` migrates it), dropped
    after; skips where no server is configured."""
    if not PG_URL:
        pytest.skip("TESSERA_TEST_POSTGRES_URL not set (CI starts PostgreSQL and sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    db = Database(f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}")
    try:
        prepare(db)
        yield db
    finally:
        db.dispose()
        drop_schema(admin, schema)
        admin.dispose()


def rls_reader_database(prefix: str) -> Iterator[tuple[Database, str]]:
    """A migrated PostgreSQL schema and a role Row-Level Security filters there (it
    neither owns the tables nor bypasses RLS; dropped after): ``(database, role)``."""
    role = f"{prefix}_{uuid.uuid4().hex[:10]}"
    for db in pg_schema_database(Database.migrate):
        with db.engine.begin() as conn:
            schema = conn.scalar(text("SELECT current_schema()"))
            conn.execute(text(f"CREATE ROLE {role} NOLOGIN NOBYPASSRLS"))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
            conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
        try:
            yield db, role
        finally:
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))


def drop_schema(admin: Engine, schema: str) -> None:
    """Drop a test's schema once nothing of the test still reads it.

    A lookup may leave a background series recount running (stale-while-revalidate,
    ``tessera.app.lookup``) after the test's own engine is disposed; DROP SCHEMA then
    deadlocks with it. Connections the test opened carry ``application_name`` =
    the schema: they are ended first, and a deadlock that still happens is retried.
    """
    for attempt in range(5):
        try:
            with admin.begin() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": schema},
                )
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'tessera.sqlite'}")
        database.migrate()
        yield database
        database.dispose()
    else:
        yield from _pg_database()


def migrate_to(db: Database, revision: str, down_to: str | None = None) -> None:
    """Upgrade ``db`` to ``revision``, or with ``revision="down"`` downgrade to ``down_to``."""
    cfg = _alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if revision == "down":
            assert down_to is not None
            command.downgrade(cfg, down_to)
        else:
            command.upgrade(cfg, revision)


def database_at(backend: str, tmp_path: Path, revision: str) -> Iterator[Database]:
    """A database of ``backend`` migrated only up to ``revision`` (what older code made),
    for the migration tests; PostgreSQL in a schema of its own, dropped after."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.sqlite'}")
        migrate_to(db, revision)
        yield db
        db.dispose()
        return
    yield from pg_schema_database(lambda db: migrate_to(db, revision))


def seed_agency_and_media(conn: Connection, at: datetime) -> None:
    """Agency 1 (NL-B) and media item 7 (SHA-256 and MD5 all zeros), by plain SQL: the
    rows a migration test writes at an older revision (their columns date from 0019)."""
    conn.execute(
        text(
            "INSERT INTO agency (id, code, country, name, contact, created_at)"
            " VALUES (1, 'NL-B', 'NL', 'B', 'b@example.org', :t)"
        ),
        {"t": at},
    )
    conn.execute(
        text(
            "INSERT INTO media (id, sha256, md5, kind, byte_size, submissions, first_seen_at,"
            " has_content) VALUES (7, :h, :m, 'image', 1, 1, :t, true)"
        ),
        {"h": bytes(32), "m": bytes(16), "t": at},
    )
