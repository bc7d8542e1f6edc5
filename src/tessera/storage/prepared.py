"""Statements built once and run on the session's connection: the lookup path's reads.

Why: a lookup that matches runs about a dozen small reads (who holds the item,
which grants apply, quarantine, verdicts, flood counts). Built as an ORM ``select``
and run through the session, each costs ~190-300 us of CPU (statement
construction, cache key, ORM compile state); the same statement built once at
import with an expanding ``IN`` parameter and run on the session's connection costs
~50-75 us (measured at 1M hashes, load 11). Same SQL, same transaction, same
PostgreSQL RLS caller (``set_config`` is per transaction, not per statement).

Even that is mostly SQLAlchemy's per-execution work (execution context, parameter
processing, result wrapping): ``rows`` therefore compiles each statement once per
dialect and ``IN``-list size to its SQL text and runs it on the session's DBAPI
connection itself, 47 -> 4 us per read (measured on SQLite at 1.25M hashes, load
4.9). Parameters and columns the dialect converts (dates on SQLite) are converted by
the same processors SQLAlchemy would call, so values come back as the same
Python types either way.

The session is flushed first (what ``Session.execute`` does by itself), so rows a
use case added but has not flushed are seen as before.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Executable, bindparam
from sqlalchemy.engine import Connection, Dialect

from tessera.storage.db import Session

CHUNK = 500
"""Ids per ``IN`` list (SQLite's default variable limit is far above; plans stay small)."""


def ids_param(name: str = "ids") -> BindParameter[Any]:
    """An expanding ``IN`` parameter: ``column.in_(ids_param())``."""
    return bindparam(name, expanding=True)


def chunks(ids: Iterable[int], n: int = CHUNK) -> Iterator[list[int]]:
    """Sorted distinct ids in lists of at most ``n``."""
    items = sorted(set(ids))
    for i in range(0, len(items), n):
        yield items[i : i + n]


Row = Sequence[Any]


@dataclass(frozen=True)
class _Compiled:
    """One statement's SQL text for one dialect and ``IN``-list sizes, how the call's
    parameters become the DBAPI's (positional or named, converted as the dialect
    converts them) and how its rows come back (the columns' conversions, if any)."""

    stmt: Executable  # kept alive: the cache is keyed by its id
    sql: str
    params: Callable[[dict[str, Any]], Any]
    convert: Callable[[list[Row]], list[Row]] | None


_NAMED = re.compile(r"%\((\w+)\)s")
_NOT_RAW = object()
_cache: dict[tuple[int, str, tuple[tuple[str, int], ...]], Any] = {}
_cache_lock = threading.Lock()


def _source(name: str, expanded: dict[str, int]) -> tuple[str, int | None]:
    """(call parameter, list position) that the compiled parameter ``name`` takes."""
    for key, n in expanded.items():
        prefix = key + "_"
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            i = int(name[len(prefix) :]) - 1
            if 0 <= i < n:
                return key, i
    return name, None


Source = tuple[str, int | None, Callable[[Any], Any] | None]


def _value(p: dict[str, Any], src: Source) -> Any:
    key, i, proc = src
    v = p[key] if i is None else p[key][i]
    return v if proc is None or v is None else proc(v)


def _converter(procs: list[Callable[[Any], Any] | None]) -> Callable[[list[Row]], list[Row]] | None:
    if not any(procs):
        return None
    todo = [(i, f) for i, f in enumerate(procs) if f is not None]

    def convert(found: list[Row]) -> list[Row]:
        out: list[Row] = []
        for r in found:
            row = list(r)
            for i, f in todo:
                row[i] = f(row[i])
            out.append(tuple(row))
        return out

    return convert


_CACHED_PARAMS = 50
"""psycopg converts a query's ``%(name)s`` placeholders again at every execution when
it has more than this many parameters (``psycopg._queries``: only shorter ones are
cached): a page's ``IN`` list of 64-512 ids paid that parse, ~9 % of the series
pages' CPU."""
_POSTCOMPILE = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _compile_arrays(stmt: Executable, dialect: Dialect, params: dict[str, Any]) -> _Compiled | None:
    """On PostgreSQL, ``stmt`` with each ``IN`` list as one array parameter (``= ANY``,
    ``<> ALL`` for ``NOT IN``: PostgreSQL turns an ``IN`` list into the same array
    comparison, so the same rows and plan): a short parameter list psycopg caches.
    None when the statement has other deferred parts (use ``_compile``)."""
    bound = stmt.params(**params)  # type: ignore[attr-defined]
    compiled: Any = bound.compile(dialect=dialect)
    columns = getattr(compiled, "_result_columns", None)
    if columns is None or getattr(compiled, "positiontup", None) is not None:
        return None
    arrays: set[str] = set()

    def as_array(m: re.Match[str]) -> str:
        arrays.add(m.group(2))
        return f"{'<> ALL' if m.group(1) else '= ANY'} (%({m.group(2)})s)"

    sql = _POSTCOMPILE.sub(as_array, compiled.string)
    lists = {k for k, v in params.items() if isinstance(v, (list, tuple))}
    if "__[POSTCOMPILE" in sql or not arrays <= lists:
        return None
    convert = _converter([e[3]._cached_result_processor(dialect, None) for e in columns])
    binds = dict(getattr(compiled, "_bind_processors", None) or {})
    names = {n: binds.get(n) for n in set(_NAMED.findall(sql))}
    fixed = {n: b.effective_value for n, b in compiled.binds.items() if n not in params}

    def as_dict(p: dict[str, Any]) -> Any:
        out = {}
        for n, proc in names.items():
            v = p[n] if n in p else fixed[n]  # a value the statement holds itself
            if n in arrays:
                out[n] = [x if proc is None or x is None else proc(x) for x in v]
            else:
                out[n] = v if proc is None or v is None else proc(v)
        return out

    return _Compiled(stmt, sql, as_dict, convert)


def _compile(stmt: Executable, dialect: Dialect, params: dict[str, Any]) -> _Compiled | None:
    """``stmt`` as SQL text with the ``IN`` lists of ``params`` expanded (on PostgreSQL,
    as arrays where they are many: ``_compile_arrays``), or None when it cannot be run
    so (use SQLAlchemy)."""
    expanded = {k: len(v) for k, v in params.items() if isinstance(v, (list, tuple))}
    if any(n == 0 for n in expanded.values()):
        return None  # SQLAlchemy renders an empty IN its own way
    many = sum(expanded.values()) + len(params) - len(expanded) > _CACHED_PARAMS
    if many and dialect.name == "postgresql":
        arrays = _compile_arrays(stmt, dialect, params)
        if arrays is not None:
            return arrays
    bound = stmt.params(**params)  # type: ignore[attr-defined]
    compiled: Any = bound.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    binds = dict(getattr(compiled, "_bind_processors", None) or {})
    columns = getattr(compiled, "_result_columns", None)
    if columns is None:
        return None
    convert = _converter([e[3]._cached_result_processor(dialect, None) for e in columns])

    def source(name: str) -> Source:
        key, i = _source(name, expanded)
        return key, i, binds.get(name) or binds.get(key)

    positional = getattr(compiled, "positiontup", None)
    if positional is not None:
        order = [source(name) for name in positional]

        def as_tuple(p: dict[str, Any]) -> Any:
            return tuple(_value(p, src) for src in order)

        return _Compiled(stmt, compiled.string, as_tuple, convert)
    names = {name: source(name) for name in set(_NAMED.findall(compiled.string))}

    def as_dict(p: dict[str, Any]) -> Any:
        return {n: _value(p, src) for n, src in names.items()}

    return _Compiled(stmt, compiled.string, as_dict, convert)


def _compiled(stmt: Executable, dialect: Dialect, params: dict[str, Any]) -> _Compiled | None:
    sizes = tuple(sorted((k, len(v)) for k, v in params.items() if isinstance(v, (list, tuple))))
    key = (id(stmt), dialect.name, sizes)
    hit = _cache.get(key)
    if hit is None:
        made = _compile(stmt, dialect, params)
        hit = _NOT_RAW if made is None else made
        with _cache_lock:
            if len(_cache) > 4096:  # many IN-list sizes: bounded, starts over
                _cache.clear()
            _cache[key] = hit
    return hit if isinstance(hit, _Compiled) else None


_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def _padded(params: dict[str, Any]) -> dict[str, Any]:
    """``IN`` lists lengthened to the next of ``_SIZES`` by repeating their last id
    (same rows): a few SQL texts per statement instead of one per list length."""
    out = params
    for k, v in params.items():
        if isinstance(v, (list, tuple)) and v and len(v) <= _SIZES[-1]:
            n = next(x for x in _SIZES if x >= len(v))
            if n > len(v):
                if out is params:
                    out = dict(params)
                out[k] = [*v, *([v[-1]] * (n - len(v)))]
    return out


_CONNECTION = "tessera.prepared.connection"


def _connection(s: Session) -> Connection:
    """The session's connection, kept in ``s.info`` while it is open (a commit or
    rollback closes it, and the next read asks the session again): ``s.connection()``
    walks the session's transaction state on every call."""
    conn = s.info.get(_CONNECTION)
    if not isinstance(conn, Connection) or conn.closed or conn.invalidated:
        conn = s.info[_CONNECTION] = s.connection()
    return conn


def rows(s: Session | Connection, stmt: Executable, **params: Any) -> Sequence[Sequence[Any]]:
    """Every row of ``stmt`` with ``params``, in the session's (or the Core
    connection's: ``Database.reader``) transaction."""
    if isinstance(s, Connection):
        conn = s
    else:
        if s.autoflush:
            s.flush()
        conn = _connection(s)
    params = _padded(params)
    raw = _compiled(stmt, conn.dialect, params)
    if raw is None:
        found: Sequence[Sequence[Any]] = conn.execute(stmt, params).all()
        return found
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(raw.sql, raw.params(params))
        out: list[Row] = list(cur.fetchall())
    finally:
        cur.close()
    return out if raw.convert is None else raw.convert(out)


__all__ = ["CHUNK", "chunks", "ids_param", "rows"]
