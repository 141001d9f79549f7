"""Row ids known before the INSERT, so numbers derived from them (arrive_id, send_number) are
written once, in the INSERT itself.

On PostgreSQL the id comes from the column's own sequence (`nextval` never waits for another
transaction), so concurrent submissions no longer queue behind each other on a placeholder value in
a unique column. SQLite has one writer at a time anyway: there the id comes from the INSERT, and
the caller writes the numbers after a flush (under a placeholder unique to the row).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Table, text
from sqlalchemy.orm import Session


def next_id(session: Session, table: Table) -> int | None:
    """The next id of `table` from its sequence, or None where the database allocates on INSERT."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.scalar(text("SELECT nextval(pg_get_serial_sequence(:table, 'id'))"),
                              {"table": table.name}))


def placeholder() -> str:
    """A unique stand-in for a unique column written right after the INSERT (18 characters)."""
    return "~" + uuid.uuid4().hex[:17]
