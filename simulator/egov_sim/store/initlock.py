"""A lock that serialises one-time initialisation (schema, clock row, demo world, signing keys)
across server processes: several workers or replicas starting on an empty database must agree
on one world and one key per purpose.

PostgreSQL: a session-level advisory lock. SQLite file: an exclusive `flock` on a file beside
the database. In-memory SQLite has one process only: a thread lock is enough.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

ADVISORY_KEY = 0x65676F76  # "egov"
_thread_lock = threading.RLock()
_held = threading.local()  # re-entry by the same thread (e.g. keys made while the world is made)


@contextmanager
def init_lock(engine: Engine, url: str) -> Iterator[None]:
    with _thread_lock:
        if getattr(_held, "depth", 0):
            _held.depth += 1
            try:
                yield
            finally:
                _held.depth -= 1
            return
        _held.depth = 1
        try:
            with _process_lock(engine, url):
                yield
        finally:
            _held.depth = 0


@contextmanager
def _process_lock(engine: Engine, url: str) -> Iterator[None]:
    """The lock between processes (a flock or an advisory lock is not re-entrant by itself)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if not path or path == ":memory:":
            yield
            return
        with open(Path(path).with_name(Path(path).name + ".init-lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()
        return
    yield
