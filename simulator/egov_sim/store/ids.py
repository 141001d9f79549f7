"""Row ids known before the INSERT, so numbers derived from them (arrive_id, send_number) are
written once, in the INSERT itself.

On PostgreSQL the id comes from the column's own sequence (`nextval` never waits for another
transaction), so concurrent submissions no longer queue behind each other on a placeholder value in
a unique column. SQLite has one writer at a time anyway: there the id comes from the INSERT, and
the caller writes the numbers after a flush (under a placeholder unique to the row).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable

from sqlalchemy import Table, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# engines whose ids come from a shared allocator (a world's database: ids unique across worlds, worlds.py)
_allocators: weakref.WeakKeyDictionary[Engine, Callable[[str], int]] = weakref.WeakKeyDictionary()


def share_allocator(engine: Engine, allocate: Callable[[str], int]) -> None:
    """Ids of `engine`'s rows come from `allocate(table_name)` from now on."""
    _allocators[engine] = allocate


def next_id(session: Session, table: Table) -> int | None:
    """The next id of `table` from its sequence, or None where the database allocates on INSERT."""
    bind = session.get_bind()
    allocate = _allocators.get(bind) if isinstance(bind, Engine) else None
    if allocate is not None:
        return allocate(table.name)
    if bind.dialect.name != "postgresql":
        return None
    schema = (bind.get_execution_options().get("schema_translate_map") or {}).get(None)
    return int(session.scalar(text("SELECT nextval(pg_get_serial_sequence(:table, 'id'))"),
                              {"table": f"{schema}.{table.name}" if schema else table.name}))


def placeholder() -> str:
    """A unique stand-in for a unique column written right after the INSERT (18 characters)."""
    return "~" + uuid.uuid4().hex[:17]
