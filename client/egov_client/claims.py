"""Which arrival belongs to which send, shared by every thread and process on one machine.

e-Gov's lists cannot tell two sends of the same applicant, corporation and procedure apart. So a send
whose outcome is unknown may only take an arrival from the lists when no other send of that identity
could own it. Two things make that true for every sender using the same `Claims` (safe_submit,
`egov batch send`, the Locust users):

- `hold(scope, identity)`: sends of one identity to one server go one at a time — the send, and
  the look in the lists after an unknown outcome, happen while holding a lock (an advisory file
  lock, so threads and processes both wait; waiting is bounded and then refused: nothing sent);
- `claim(scope, arrive_id, arrived=...)`: every arrival a send owns is written down once (a SQLite
  table with a primary key), whether it came from a 200 or from the lists, and is never taken by
  another send. A claim names its arrival time too: a server that starts over (a simulator reset)
  reuses arrive_ids, and a listed arrival with another time is not the claimed one (`excluded`).

Senders that do not use the claims (another program, another machine) are beyond what the lists can
decide: arrivals.decide raises OutcomeUnknownError when more than one arrival could be the package's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import EgovError

DEFAULT_WAIT = 600.0  # seconds a send waits for another send of the same identity before refusing
POLL = 0.02


class SendBusyError(EgovError):
    """Another send of the same applicant and procedure was still in progress: nothing was sent."""

    def __init__(self, identity: str, waited: float) -> None:
        super().__init__(f"another send of {identity} is in progress (waited {waited:.0f}s); not sent")
        self.identity = identity

    @property
    def message(self) -> str:
        return "同じ申請者・手続の別の送信が処理中のため送信していません。しばらくしてから再度送信してください。"


def default_directory() -> Path:
    from .profiles import Home

    return Home.default().data_dir / "claims"


class Claims:
    """The claim store and identity locks in one directory (`claims.sqlite3` and `*.lock`)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.directory / "claims.sqlite3", timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS arrival_claims (scope TEXT NOT NULL, arrive_id TEXT NOT NULL, "
                       "arrived TEXT NOT NULL, owner TEXT NOT NULL, claimed_at REAL NOT NULL, "
                       "PRIMARY KEY (scope, arrive_id, arrived))")
            self._local.db = db
        return db

    def claim(self, scope: str, arrive_id: str, owner: str = "", arrived: datetime | None = None) -> bool:
        """Record the arrival as owned; False when another send already owns it."""
        when = _when(arrived)
        cur = self._db().execute("INSERT OR IGNORE INTO arrival_claims VALUES (?, ?, ?, ?, ?)",
                                 (scope, arrive_id, when, owner, time.time()))
        if cur.rowcount == 1:
            return True
        row = self._db().execute("SELECT owner FROM arrival_claims WHERE scope = ? AND arrive_id = ? AND arrived = ?",
                                 (scope, arrive_id, when)).fetchone()
        return bool(owner) and row is not None and row[0] == owner  # the same owner claiming again

    def claimed(self, scope: str) -> set[str]:
        return {r[0] for r in self._db().execute("SELECT arrive_id FROM arrival_claims WHERE scope = ?", (scope,))}

    def excluded(self, scope: str, listed: Iterable[Any]) -> set[str]:
        """The arrive_ids among `listed` applications that are claimed (same id and arrival time; a claim
        without a time covers the id)."""
        times: dict[str, set[str]] = {}
        for arrive_id, when in self._db().execute("SELECT arrive_id, arrived FROM arrival_claims WHERE scope = ?", (scope,)):
            times.setdefault(arrive_id, set()).add(when)
        return {a.arrive_id for a in listed if a.arrive_id in times
                and ("" in times[a.arrive_id] or _when(a.arrive_date) in times[a.arrive_id])}

    def _lock_path(self, scope: str, identity: str) -> Path:
        digest = hashlib.sha256(f"{scope} {identity}".encode()).hexdigest()[:32]
        return self.directory / f"{digest}.lock"

    def _try_lock(self, path: Path) -> int | None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: O_EXCL marker files instead
            os.close(fd)
            return _try_marker(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # per open file: threads exclude each other too
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @contextlib.contextmanager
    def hold(self, scope: str, identity: str, wait: float = DEFAULT_WAIT) -> Iterator[None]:
        """Sends of `identity` to `scope` one at a time (waits up to `wait` s, then SendBusyError)."""
        path, start = self._lock_path(scope, identity), time.monotonic()
        while (fd := self._try_lock(path)) is None:
            if time.monotonic() - start >= wait:
                raise SendBusyError(identity, wait)
            time.sleep(POLL)
        try:
            yield
        finally:
            _release(fd, path)

    @contextlib.asynccontextmanager
    async def hold_async(self, scope: str, identity: str, wait: float = DEFAULT_WAIT) -> AsyncIterator[None]:
        path, start = self._lock_path(scope, identity), time.monotonic()
        while (fd := self._try_lock(path)) is None:
            if time.monotonic() - start >= wait:
                raise SendBusyError(identity, wait)
            await asyncio.sleep(POLL)
        try:
            yield
        finally:
            _release(fd, path)


def _when(arrived: datetime | None) -> str:
    return arrived.strftime("%Y-%m-%d %H:%M:%S") if arrived else ""


def _try_marker(path: Path) -> int | None:  # pragma: no cover - Windows only
    try:
        return os.open(f"{path}.held", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None


def _release(fd: int, path: Path) -> None:
    os.close(fd)  # closing the descriptor drops the flock
    with contextlib.suppress(FileNotFoundError):
        if os.name == "nt":  # pragma: no cover
            os.unlink(f"{path}.held")
