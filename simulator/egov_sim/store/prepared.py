"""Prepared reads for the hottest paths: a Core SELECT compiled once for the engine's dialect and
run straight on a DBAPI cursor, with the columns converted by their own SQLAlchemy types.

SQLAlchemy's execution layer costs 40–70 µs per statement even with its compiled cache; the
driver alone answers an indexed SELECT in ~10 µs. The statement, its bind order and the column
conversions are SQLAlchemy's (so SQLite and PostgreSQL both work); only the per-call plumbing is
skipped. Connections come from the engine's pool (its `connect` event set the pragmas) and are
kept on a small free list between calls instead of being returned each time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

KEEP = 16  # free connections kept at most (more concurrent readers get pooled ones and give them back)


def keep_for(engine: Engine) -> int:
    """How many idle connections the free list may hold: at most half of what the pool can hand out,
    so sessions always find connections (SQLite's default pool is 5 + 10: keeping 16 emptied it, and
    a 16-thread worker then waited 30 s for a connection in every session after a burst of polls)."""
    pool = engine.pool
    size, overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", None)
    if not callable(size) or not isinstance(overflow, int) or overflow < 0:
        return KEEP  # pools without a fixed capacity (StaticPool, NullPool)
    return max(1, min(KEEP, (size() + overflow) // 2))


class ReadConnections:
    """A free list of pooled DBAPI connections for prepared reads (list.pop/append are atomic)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._free: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self._keep = keep_for(engine)
        # SQLite (the sqlite3 module's default mode) runs a lone SELECT outside any transaction; a
        # rollback there could end someone else's transaction on a shared in-memory connection.
        # PostgreSQL: the kept connections read in autocommit (one round trip a read, not a BEGIN'd
        # SELECT and a ROLLBACK); one given back to the pool leaves autocommit first.
        self._autocommit = engine.dialect.name == "postgresql"
        self._end_reads = engine.dialect.name not in ("sqlite", "postgresql")

    @contextmanager
    def connection(self) -> Iterator[Any]:
        try:
            proxy = self._free.pop()
        except IndexError:
            proxy = self._engine.raw_connection()
            if self._autocommit:
                proxy.dbapi_connection.autocommit = True  # fresh from the pool: no transaction open
        ok = False
        try:
            yield proxy.dbapi_connection
            ok = True
        finally:
            self._release(proxy, ok)

    def _release(self, proxy: Any, ok: bool) -> None:
        if self._end_reads:
            try:
                proxy.dbapi_connection.rollback()  # ends the read transaction (PostgreSQL)
            except Exception:  # a broken connection is discarded
                ok = False
        if not ok:  # possibly broken (the database went away): discarded without a reset attempt
            proxy.invalidate()
        elif not self._closed and len(self._free) < self._keep:
            self._free.append(proxy)
        else:
            self._give_back(proxy)

    def _give_back(self, proxy: Any) -> None:
        """Return a kept connection to the pool as the pool handed it out (not in autocommit)."""
        if self._autocommit:
            try:
                proxy.dbapi_connection.autocommit = False
            except Exception:  # broken: the pool must not hand it out again
                proxy.invalidate()
                return
        proxy.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            while self._free:
                self._give_back(self._free.pop())


class PreparedRead:
    """One SELECT, compiled once for `engine`'s dialect; `rows(conn, params)` returns tuples."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        dialect = engine.dialect
        translate = engine.get_execution_options().get("schema_translate_map")  # a world's schema (worlds.py)
        compiled = (statement.compile(dialect=dialect, schema_translate_map=translate, render_schema_translate=True)
                    if translate else statement.compile(dialect=dialect))
        self.sql = compiled.string
        self.columns = [c.key for c in statement.selected_columns]
        binds = compiled.binds
        names = list(compiled.positiontup or []) if compiled.positional else list(binds)
        self._positional = compiled.positional
        self._binds: list[tuple[str, str, Callable[[Any], Any] | None]] = [
            (name, binds[name].key, binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names]
        self._fixed = {name: b.value for name, b in binds.items() if not b.required and b.callable is None}
        self._dialect = dialect
        self._types = [c.type.dialect_impl(dialect) for c in statement.selected_columns]
        self._processors: list[tuple[int, Callable[[Any], Any]]] | None = None  # known at the first execution

    def _params(self, values: Mapping[str, Any]) -> Any:
        out = []
        for name, key, process in self._binds:
            value = values[key] if key in values else self._fixed[name]
            out.append(process(value) if process is not None else value)
        if self._positional:
            return tuple(out)
        return {name: value for (name, _, _), value in zip(self._binds, out, strict=True)}

    def _result_processors(self, description: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        """The columns' conversions, given the driver's type codes (psycopg's numeric types need them)."""
        out = []
        for i, (t, col) in enumerate(zip(self._types, description, strict=True)):
            process = t.result_processor(self._dialect, col[1])
            if process is not None:
                out.append((i, process))
        return out

    def rows(self, conn: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cur = conn.cursor()
        try:
            cur.execute(self.sql, self._params(values))
            raw = cur.fetchall()
            if self._processors is None:
                self._processors = self._result_processors(cur.description)
        finally:
            cur.close()
        if not self._processors:
            return [tuple(r) for r in raw]
        out = []
        for r in raw:
            row = list(r)
            for i, process in self._processors:
                row[i] = process(row[i])
            out.append(tuple(row))
        return out


# per engine (a world's engine goes with its world): statement id → (statement, its PreparedRead)
_in_sessions: weakref.WeakKeyDictionary[Any, dict[int, tuple[Any, PreparedRead]]] = weakref.WeakKeyDictionary()


def session_rows(session: Any, statement: Select[Any], values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """A prepared read inside a unit of work: on the session's own connection and transaction (so it
    sees what the session wrote and holds what it read), without SQLAlchemy's per-statement plumbing.
    Pending ORM changes are not flushed: read only what the session has not changed."""
    bind = session.get_bind()
    compiled = _in_sessions.get(bind)
    if compiled is None:
        compiled = _in_sessions.setdefault(bind, {})
    entry = compiled.get(id(statement))
    if entry is None or entry[0] is not statement:
        entry = compiled[id(statement)] = (statement, PreparedRead(bind, statement))
    return entry[1].rows(session.connection().connection.dbapi_connection, values)
