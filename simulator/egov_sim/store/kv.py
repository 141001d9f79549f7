"""Rows that several processes and threads may write first at once: one INSERT … ON CONFLICT statement
each (the database settles the race), never a read and then an insert (two first writers both insert
and one fails on the primary key)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from .models import Setting

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def upsert(dialect: str) -> Any:
    """The dialect's `insert` with `on_conflict_do_update` (SQLite and PostgreSQL)."""
    return _INSERT[dialect]


def put_setting(session: Session, key: str, value: dict[str, Any]) -> None:
    """Insert or replace `key` in one statement (not `session.merge`, which reads first). A copy the
    session already holds is expired, so its next read sees the new value."""
    held = session.identity_map.get(identity_key(Setting, key))
    if held is not None:
        session.expire(held)
    insert = upsert(session.get_bind().dialect.name)(Setting).values(key=key, value=value)
    session.execute(insert.on_conflict_do_update(index_elements=[Setting.key], set_={"value": insert.excluded.value}))
