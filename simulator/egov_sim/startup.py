"""The hand-off from `egov-sim serve`'s main process to its workers: the main process initialises the
database (schema, clock, demo world, keys) once before the workers start and says so in the
environment; a worker that finds the mark for its database, and the database's clock row, does not
check the schema and the demo world again (42 table lookups, the world's rows and certificate files).
"""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import exc

from .store import Database
from .store.models import ClockRow

ENV = "EGOV_SIM_INITIALISED"


def _mark(url: str) -> str:
    from .world import snapshot

    return hashlib.sha256(f"{url}\n{snapshot.fingerprint()}".encode()).hexdigest()[:32]


def mark_initialised(db: Database) -> None:
    """Called by the main process after its app initialised `db`; inherited by the workers."""
    os.environ[ENV] = _mark(db.url)


def initialised_by_main(db: Database) -> bool:
    """True when the main process initialised this database (same URL and schema) and it answers."""
    if os.environ.get(ENV) != _mark(db.url):
        return False
    try:
        with db.session() as s:
            return s.get(ClockRow, 1) is not None
    except exc.SQLAlchemyError:  # no such table, the database down: the full start decides
        return False
