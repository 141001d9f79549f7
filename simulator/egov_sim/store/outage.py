"""When the database is unreachable: which errors mean that, one log line per failed request, and
waiting for the database at start-up (a worker started during an outage waits instead of crashing).

The answer itself (a 503 in each face's own shape, with Retry-After) is drawn in ops/outage_http.py.
Connections recover by themselves: SQLAlchemy's pool pre-pings and discards broken connections,
and the prepared-read free list closes a connection that failed (prepared.py).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc as sa

log = logging.getLogger("egov_sim.database")

T = TypeVar("T")
SQLITE_ONLY_ENV = "EGOV_SIM_SQLITE_ONLY"  # set by `egov-sim serve` on SQLite while it imports the app
QUIET = 10.0  # seconds without a failure that end an outage (the next failure starts a new count)


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.OperationalError]
    if os.environ.get(SQLITE_ONLY_ENV) == "1" and "psycopg" not in sys.modules:
        return tuple(errors)  # a server on SQLite never uses psycopg: ~0.3 s of CPU not spent at start
    try:
        import psycopg

        errors += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:  # pragma: no cover - PostgreSQL extra not installed
        pass
    return tuple(errors)


# errors that say "the database cannot be reached or is busy", not "this statement is wrong"
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, sa.TimeoutError, *_driver_errors())


def is_outage(error: BaseException) -> bool:
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OUTAGE_ERRORS)


def summary(error: BaseException) -> str:
    """The error's first line, without SQLAlchemy's statement dump."""
    original = getattr(error, "orig", None) or error
    first = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first[:200]}"


class OutageLog:
    """Counts failures of the current outage and logs one line per failed request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0
        self.started = 0.0
        self._last = 0.0

    def failed(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last > QUIET:
                self.failures, self.started = 0, now
            self.failures += 1
            self._last = now
            count, since = self.failures, now - self.started
        log.warning("database unavailable (failure %d of this outage, %.1fs): %s: %s", count, since, what,
                    summary(error))


def wait_for_database(attempt: Callable[[], T], *, wait: float, what: str = "start-up") -> T:
    """Run `attempt` until the database answers, for at most `wait` seconds (0: once; inf: forever)."""
    start, delay = time.monotonic(), 0.5
    while True:
        try:
            return attempt()
        except Exception as error:
            if not is_outage(error) or time.monotonic() - start + delay > wait:
                raise
            log.warning("database unavailable at %s, retrying in %.1fs: %s", what, delay, summary(error))
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
