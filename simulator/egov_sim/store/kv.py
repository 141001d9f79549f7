"""Rows that several processes and threads may write first at once: one INSERT … ON CONFLICT statement
each (the database settles the race), never a read and then an insert (two first writers both insert
and one fails on the primary key)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from .models import Setting

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _upsert(db: Session | Connection, table: Any) -> Any:
    """`INSERT INTO table` in the dialect of `db`, with `on_conflict_do_update` (SQLite and PostgreSQL)."""
    dialect = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    return _INSERT[dialect](table)


def count_up(db: Session | Connection, table: Table, key: dict[str, Any], column: str, first: int = 1) -> int:
    """Add one to `column` of `table`'s row `key` (made with `first` if there is none) and return the new
    value, in one statement: counts made at once each count (failed logins, id counters)."""
    counter = table.c[column]
    statement = _upsert(db, table).values(**key, **{column: first})
    return int(db.execute(statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key], set_={column: func.coalesce(counter, first - 1) + 1})
        .returning(counter)).scalar_one())


def put_setting(session: Session, key: str, value: dict[str, Any]) -> None:
    """Insert or replace `key` in one statement (not `session.merge`, which reads first). A copy the
    session already holds is expired, so its next read sees the new value."""
    held = session.identity_map.get(identity_key(Setting, key))
    if held is not None:
        session.expire(held)
    insert = _upsert(session, Setting).values(key=key, value=value)
    session.execute(insert.on_conflict_do_update(index_elements=[Setting.key], set_={"value": insert.excluded.value}))
