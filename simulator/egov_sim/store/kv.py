"""Writing one row of settings_kv safely when processes and threads write it at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from .models import Setting

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def put_setting(session: Session, key: str, value: dict[str, Any]) -> None:
    """Insert or replace `key` in one statement. (`session.merge` reads first and then inserts: two
    writers of a key that is not there yet both insert, and one fails on the primary key.) A copy the
    session already holds is expired, so its next read sees the new value."""
    held = session.identity_map.get(identity_key(Setting, key))
    if held is not None:
        session.expire(held)
    insert = _INSERT[session.get_bind().dialect.name](Setting).values(key=key, value=value)
    session.execute(insert.on_conflict_do_update(index_elements=[Setting.key], set_={"value": insert.excluded.value}))
