"""Many rows at once on the session's own connection: the hot path of large imports.

An exchange import writes four or five rows per record, hundreds of thousands of
records per file. Through SQLAlchemy's statement layer each value passes Python
bind processors and each statement is compiled; for a million-record file that
overhead cost several times the database's own work. So this module talks to the
DB-API driver directly, in the session's transaction (nothing here commits):

* lookups ``WHERE col IN (...)`` (SQLite) / ``= ANY(array)`` (PostgreSQL), chunked;
* inserts through multi-row ``INSERT ... VALUES`` statements (SQLite), or ``COPY ...
  FROM STDIN`` on PostgreSQL when row-level security does not apply to the connected
  role (COPY refuses tables under RLS), else ``executemany`` (psycopg pipelines it);
* ids for new rows handed out before the insert (``nextval`` of the table's sequence
  on PostgreSQL, ``MAX(id)`` on SQLite, whose write transaction excludes every other
  writer until it commits), so rows referencing them go in the same pass.

Values are given as the driver wants them (bytes, ints, str); datetimes are converted
here the way SQLAlchemy stores them, JSON by ``tessera.jsontext`` (compact text, read
back by SQLAlchemy's JSON type like any other).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from tessera import jsontext

SQLITE_CHUNK = 5000
"""Values per ``IN (...)`` list on SQLite (its limit is 32,766 variables)."""
PG_CHUNK = 50_000
SQLITE_ROWS = 1000
"""Rows per multi-row ``INSERT`` statement on SQLite (fewer when the columns times
the rows would pass the connection's limit of variables)."""


class Bulk:
    """Raw many-row statements in ``s``'s transaction."""

    def __init__(self, s: Session, tables: Sequence[str] = ()) -> None:
        s.flush()  # rows the ORM still holds must be in the database before ours
        self.conn = s.connection()
        self.pg = self.conn.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"
        self.copy = False
        if self.pg and tables:
            arr = ", ".join(f"row_security_active('{t}')" for t in tables)
            active = self.conn.exec_driver_sql(f"SELECT {arr}").one()
            self.copy = not any(active)

    # -- reading -------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one statement (``?``/``%s`` markers as :attr:`mark` says), as the
        driver's tuples (no per-row result objects)."""
        cur = self._cursor()
        try:
            cur.execute(sql, tuple(params))
            found: list[tuple[Any, ...]] = cur.fetchall()
        finally:
            cur.close()
        if found and type(found[0]) is not tuple:  # both drivers give tuples by default
            found = [tuple(r) for r in found]
        return found

    def scan(self, sql: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[Any]:
        """Rows of one statement, fetched ``size`` at a time (memory stays flat)."""
        cur = self._cursor()
        try:
            cur.execute(sql, tuple(params))
            while got := cur.fetchmany(size):
                yield from got
        finally:
            cur.close()

    def _cursor(self) -> Any:
        return self.conn.connection.cursor()

    def where_in(
        self,
        sql: str,
        column: str,
        keys: Iterable[Any],
        *,
        sql_type: str,
        params: Sequence[Any] = (),
        tail: str = "",
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql WHERE [prefix conditions AND] column IN keys tail``.

        ``sql`` ends with ``WHERE`` or ``AND``; ``params`` fill its markers first;
        ``sql_type`` is the column's SQL type (``BYTEA``, ``BIGINT``, ``TEXT``) for
        PostgreSQL's array parameter.
        """
        keys = list(keys)
        if self.pg:
            for i in range(0, len(keys), PG_CHUNK):
                yield from self.rows(
                    f"{sql} {column} = ANY(CAST(%s AS {sql_type}[])) {tail}",
                    (*params, keys[i : i + PG_CHUNK]),
                )
            return
        for i in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[i : i + SQLITE_CHUNK]
            holes = ",".join("?" * len(chunk))
            yield from self.rows(f"{sql} {column} IN ({holes}) {tail}", (*params, *chunk))

    # -- writing -------------------------------------------------------------------

    def new_ids(self, table: str, n: int) -> list[int]:
        """``n`` fresh ids for ``table`` (its ``id`` column), in increasing order."""
        if n <= 0:
            return []
        if self.pg:
            got = self.conn.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, %s)",
                (n,),
            )
            return sorted(int(r[0]) for r in got)
        top = self.conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar()
        start = int(top or 0) + 1
        return list(range(start, start + n))

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        *,
        json_columns: Sequence[str] = (),
        skip_conflicts: bool = False,
    ) -> None:
        """Insert ``rows`` (tuples in ``columns`` order). ``json_columns`` hold JSON
        text; ``skip_conflicts`` leaves rows whose unique key exists (SQLite ``OR
        IGNORE``, PostgreSQL ``ON CONFLICT DO NOTHING``, never through COPY)."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.pg and self.copy and not skip_conflicts:
            raw = self.conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            return
        if self.pg:
            holes = ", ".join("CAST(%s AS JSON)" if c in json_columns else "%s" for c in columns)
            tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
            sql = f"INSERT INTO {table} ({names}) VALUES ({holes}){tail}"
            self.execute_many(sql, rows)
            return
        verb = "INSERT OR IGNORE" if skip_conflicts else "INSERT"
        head = f"{verb} INTO {table} ({names}) VALUES "
        self._insert_values(head, *_inlined(rows))

    def _insert_values(self, head: str, one: str, rows: Sequence[Sequence[Any]]) -> None:
        """SQLite: many rows per ``INSERT ... VALUES (...), (...)`` statement, not
        one ``executemany`` step each. The driver lets go of the GIL around every
        step: with another thread of the process busy (a sync's fetch thread) each
        row then waited for it to hand the GIL back. One statement of up to
        ``SQLITE_ROWS`` rows (bounded by the connection's variable limit) takes it
        once; 200,000 rows of a 9-column indexed table: 3.5 -> 2.8 us CPU a row."""
        per = max(1, min(SQLITE_ROWS, self._variable_limit() // max(1, len(rows[0]))))
        cur = self._cursor()
        try:
            for i in range(0, len(rows), per):
                part = rows[i : i + per]
                sql = head + ", ".join([one] * len(part))
                cur.execute(sql, [v for row in part for v in row])
        finally:
            cur.close()

    def _variable_limit(self) -> int:
        raw = self.conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        return raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cur = self._cursor()
            try:
                cur.executemany(sql, rows)
            finally:
                cur.close()

    # -- values ----------------------------------------------------------------------

    def time(self, value: datetime) -> Any:
        """A datetime as a DateTime column stores it (SQLAlchemy's text form on SQLite)."""
        return value if self.pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    @staticmethod
    def json(value: Any) -> str:
        return jsontext.dumps(value)

    def load_json(self, value: Any) -> Any:
        """A JSON column's value as read raw (text on SQLite, parsed by psycopg)."""
        return value if self.pg else jsontext.loads(value)

    def load_json_many(self, values: Sequence[Any]) -> list[Any]:
        """``load_json`` of each of ``values`` (SQLite: ``jsontext.loads_many``, texts
        parsed a group at a time instead of one call per row)."""
        return list(values) if self.pg else jsontext.loads_many(values)


_LITERALS: dict[Any, str] = {None: "NULL", False: "0", True: "1"}


def _inlined(rows: list[tuple[Any, ...]]) -> tuple[str, Sequence[Sequence[Any]]]:
    """SQLite: one row's ``(?, ...)`` with the columns that hold the same None,
    False or True in every row written as ``NULL``, ``0``, ``1``, and the rows
    without them.

    The driver binds int, float and str as they are but passes every other value
    through its adaptation protocol (a tuple key built and looked up, the adapter
    called: ``storage.db._sqlite_binding``): ~4.5 % of the instructions of a
    fresh node's big pull went there, most for the empty columns of hash-only
    media and entries and their constant flags. SQLite stores the literal as it
    stores the bound value (NULL, integer 0/1: what ``bool`` adapts to); the
    statement's text stays the same for every chunk of a call (one prepared
    statement)."""
    first = rows[0]
    constant = [
        i
        for i, v in enumerate(first)
        if (v is None or v is False or v is True) and all(r[i] is v for r in rows)
    ]
    if not constant:
        return "(" + ", ".join("?" * len(first)) + ")", rows
    one = "(" + ", ".join(_LITERALS[first[i]] if i in constant else "?" for i in range(len(first)))
    keep = [i for i in range(len(first)) if i not in constant]
    if not keep:
        return one + ")", [() for _ in rows]
    if len(keep) == 1:
        k = keep[0]
        return one + ")", [(r[k],) for r in rows]
    return one + ")", list(map(itemgetter(*keep), rows))


__all__ = ["Bulk"]
