"""The request journal in the database, shared by every process of a deployment (`journal_store =
database`); journal.py's `Journal` (one process's memory) stays the default for a single process.

Entries go to the table `egov_journal` of their world's database (the default world's database, a
world's SQLite file, a world's PostgreSQL schema: the same schema_translate_map as the models' tables),
made on first use. The hot path only appends to a buffer in memory: a background thread per app
("flusher") writes every buffered entry of a world in one transaction every FLUSH_SECONDS and trims the
table to `journal_size` rows (the newest kept, trimmed after every TRIM_EVERY × size rows written, so it
holds at most 1.05 × size; reads answer the newest `size`; bodies truncated as in memory). Ids come from the
database (autoincrement, never reused): unique and increasing per world across processes.

Reads see everything answered before the read started, in any process:
- this process's own buffer is flushed first, synchronously;
- then the reader starts a *read round*: it increments the shared counter `egov_journal_rounds`
  (default database) and waits until every live process's flusher has acknowledged that round in
  `egov_journal_processes` — a flusher reads the counter, flushes all it holds, then writes the value
  it read, so an acknowledgement means "everything this process had answered when the round began is
  in the table". Live: a flusher's row was touched within LIVE_SECONDS (a crashed process is not waited
  for); the wait is bounded by WAIT_SECONDS. Flushers poll the counter every POLL_SECONDS (one small read).

The database being unreachable never reaches a request: a failed flush is logged once (until one
succeeds) and retried, the buffer kept to `journal_size` entries.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .journal import Entry, Journal

log = logging.getLogger("egov_sim.journal")

FLUSH_SECONDS = 0.2  # the longest a buffered entry waits for its transaction when no read asks for it
POLL_SECONDS = 0.02  # how often a flusher looks at the read-round counter (a read is answered within this)
HEARTBEAT_SECONDS = 1.0  # how often an idle flusher says it is alive
LIVE_SECONDS = 5.0  # a flusher silent for longer is taken for dead (not waited for)
WAIT_SECONDS = 3.0  # the longest a read waits for the other processes' flushers
TRIM_EVERY = 0.05  # trim after this share of the size was written: the table holds at most 1.05 × size rows

_entries_meta = MetaData()  # in every world's database
ENTRIES = Table("egov_journal", _entries_meta,
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("method", String(16), nullable=False),
                Column("path", Text, nullable=False),
                Column("account", String(320)),
                Column("status", Integer, nullable=False),
                Column("data", Text, nullable=False),  # the rest of the entry as JSON
                sqlite_autoincrement=True)  # SQLite: never reuse an id after a trim or a clear
_barrier_meta = MetaData()  # in the default database only
ROUNDS = Table("egov_journal_rounds", _barrier_meta,
               Column("id", Integer, primary_key=True, autoincrement=False),
               Column("value", Integer, nullable=False))
PROCESSES = Table("egov_journal_processes", _barrier_meta,
                  Column("id", String(32), primary_key=True),
                  Column("acked", Integer, nullable=False),  # the last read round this flusher has served
                  Column("seen_at", Float, nullable=False))  # real time.time() of its last round

STORES = ("memory", "database")


def store_for(settings: Any, dialect: str) -> str:
    """`journal_store` as set (EGOV_SIM_JOURNAL_STORE; `egov-sim serve --workers N>1` sets database), else
    database on PostgreSQL (a deployment that can have several servers), memory otherwise."""
    chosen = (settings.journal_store or "").strip().lower()
    if chosen and chosen not in STORES:
        raise ValueError(f"journal_store must be one of {', '.join(STORES)}, not {chosen!r}")
    return chosen or ("database" if dialect == "postgresql" else "memory")


def ensure_table(engine: Engine) -> None:
    """`egov_journal` in `engine`'s database or schema (two processes may race to make it)."""
    try:
        _entries_meta.create_all(engine)
    except SQLAlchemyError:
        with engine.connect() as conn:  # made by the other process meanwhile: fine
            conn.execute(select(ENTRIES.c.id).limit(1))


class Flusher:
    """One app's writer thread and its place in the read rounds (started on first use in a process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # the default database: read rounds and process rows
        with contextlib.suppress(SQLAlchemyError):  # made by another process meanwhile
            _barrier_meta.create_all(engine)
        with engine.connect() as conn:
            made = conn.execute(select(ROUNDS.c.value).where(ROUNDS.c.id == 1)).first() is not None
        if not made:
            try:
                with engine.begin() as conn:
                    conn.execute(insert(ROUNDS).values(id=1, value=0))
            except SQLAlchemyError:  # another process made it
                pass
        self._journals: weakref.WeakSet[DatabaseJournal] = weakref.WeakSet()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self.id = ""
        self.closed = False
        self._failing = False

    # -- used by journals

    def register(self, journal: DatabaseJournal) -> None:
        with self._lock:
            self._journals.add(journal)

    def ensure_running(self) -> None:
        if self._pid != os.getpid():
            self._ensure_running()

    def read_round(self) -> None:
        """Wait until every other live process has flushed all it answered before now (bounded)."""
        self._ensure_running()
        with self.engine.begin() as conn:
            conn.execute(update(ROUNDS).where(ROUNDS.c.id == 1).values(value=ROUNDS.c.value + 1))
            wanted = conn.execute(select(ROUNDS.c.value).where(ROUNDS.c.id == 1)).scalar_one()
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with self.engine.connect() as conn:
                behind = conn.execute(select(PROCESSES.c.id).where(
                    PROCESSES.c.id != self.id, PROCESSES.c.acked < wanted,
                    PROCESSES.c.seen_at > time.time() - LIVE_SECONDS).limit(1)).first()
            if behind is None:
                return
            if time.monotonic() > deadline:
                log.warning("journal read: process %s did not flush within %.1fs", behind[0], WAIT_SECONDS)
                return
            time.sleep(POLL_SECONDS / 2)

    # -- the thread

    def _ensure_running(self) -> None:
        if self._pid == os.getpid() or self.closed:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self.id = uuid.uuid4().hex  # a forked child is a process of its own
            with self.engine.begin() as conn:
                conn.execute(delete(PROCESSES).where(PROCESSES.c.seen_at < time.time() - 60))  # long dead
                acked = conn.execute(select(ROUNDS.c.value).where(ROUNDS.c.id == 1)).scalar_one()
                conn.execute(insert(PROCESSES).values(id=self.id, acked=acked, seen_at=time.time()))
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="egov-journal-flusher", daemon=True).start()
            atexit.register(self.close)

    def _run(self) -> None:
        """A tick every POLL_SECONDS: read the round counter; flush when a read asked for it (a new round),
        when entries have waited FLUSH_SECONDS, or when a buffer is half full. Requests never wake the
        thread (one write every few hundred entries costs a few per cent of a core; one per entry cost ~40 %
        of the poll's throughput)."""
        acked, seen, flushed = -1, 0.0, time.monotonic()
        while not self.closed:
            if not self._journals:  # the app is gone (journals are weakly held): so is this thread
                self.close()
                return
            self._wake.wait(POLL_SECONDS)  # set by close() only
            try:
                with self.engine.connect() as conn:
                    wanted = conn.execute(select(ROUNDS.c.value).where(ROUNDS.c.id == 1)).scalar_one()
                journals = list(self._journals)
                due = wanted != acked or any(j.full() for j in journals) or (
                    time.monotonic() - flushed >= FLUSH_SECONDS and any(j.pending() for j in journals))
                if due:  # after reading the round: the flush covers all answered before the round began
                    self.flush_all()
                    flushed = time.monotonic()
                now = time.time()
                if wanted != acked or now - seen > HEARTBEAT_SECONDS:
                    with self.engine.begin() as conn:
                        conn.execute(update(PROCESSES).where(PROCESSES.c.id == self.id)
                                     .values(acked=wanted, seen_at=now))
                    acked, seen = wanted, now
                self._failing = False
            except Exception as exc:  # the database is down: keep the buffers, say it once
                if not self._failing:
                    log.warning("the request journal cannot be written (retrying): %s", exc)
                    self._failing = True
                time.sleep(POLL_SECONDS)

    def flush_all(self) -> None:
        for journal in list(self._journals):
            journal.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        if self._pid == os.getpid():
            try:
                self.flush_all()
                with self.engine.begin() as conn:
                    conn.execute(delete(PROCESSES).where(PROCESSES.c.id == self.id))
            except Exception:  # leaving during an outage: the row ages out (LIVE_SECONDS)
                pass


class DatabaseJournal(Journal):
    """`Journal`'s API over one world's `egov_journal` table (see the module's docstring)."""

    def __init__(self, engine: Engine, size: int, flusher: Flusher,
                 alive: Callable[[], bool] = lambda: True, check_first: bool = False) -> None:
        """`alive`: is the world still there (asked when a write fails, and before each one if
        `check_first`: a SQLite world, whose file a write would otherwise make anew)."""
        super().__init__(size)
        self.engine, self.flusher, self._alive, self._check_first = engine, flusher, alive, check_first
        self._buffer: deque[Entry] = deque(maxlen=max(size, 1))
        self._size = max(size, 1)
        self._flush_lock = threading.Lock()
        self._ready = False
        self._since_trim = 0  # rows written since the last trim: trimmed every TRIM_EVERY of the size
        self.closed = False
        flusher.register(self)

    @property
    def size(self) -> int:
        return self._size

    def next_id(self) -> int:
        return 0  # the database numbers the entry when it is flushed

    def pending(self) -> bool:
        return bool(self._buffer)

    def full(self) -> bool:
        """Half the size buffered: write now (the buffer keeps the newest `size` entries at most)."""
        return len(self._buffer) * 2 >= self._size

    def add(self, entry: Entry) -> None:
        if self.closed:
            return
        self._buffer.append(entry)  # deque.append is atomic; bounded
        self.flusher.ensure_running()  # the thread's tick writes it (no wake-up per request)

    def flush(self) -> None:
        """Write the buffered entries in one transaction and trim the table to `size` rows."""
        with self._flush_lock:
            if not self._buffer or self.closed:
                return
            if self._check_first and not self._alive():  # deleted (by any process): nothing to write to
                self.close()
                return
            try:
                self._write(list(self._buffer))
            except SQLAlchemyError:
                if not self._alive():
                    self.close()
                    return
                raise

    def _write(self, entries: list[Entry]) -> None:
        if not self._ready:
            ensure_table(self.engine)
            self._ready = True
        rows = []
        for e in entries[-self._size:]:
            data = dict(vars(e))  # shallow (dataclasses.asdict deep-copies: most of a flush's time)
            del data["id"]
            rows.append({"method": e.method, "path": e.path, "account": e.account, "status": e.status,
                         "data": json.dumps(data, ensure_ascii=False, separators=(",", ":"))})
        with self.engine.begin() as conn:
            conn.execute(insert(ENTRIES), rows)
            self._since_trim += len(rows)
            if self._since_trim >= max(1, int(self._size * TRIM_EVERY)):
                oldest_kept = select(ENTRIES.c.id).order_by(ENTRIES.c.id.desc()).offset(self._size - 1).limit(1)
                conn.execute(delete(ENTRIES).where(ENTRIES.c.id < oldest_kept.scalar_subquery()))
                self._since_trim = 0
        written = {id(e) for e in entries}
        while self._buffer and id(self._buffer[0]) in written:  # only what was written (more may follow)
            self._buffer.popleft()

    def close(self) -> None:
        self.closed = True
        self._buffer.clear()

    def _settled(self) -> None:
        """Before a read: this process's entries written, every other process's too (a read round)."""
        self.flush()
        self.flusher.read_round()
        if not self._ready:
            ensure_table(self.engine)
            self._ready = True

    def clear(self) -> None:
        self._buffer.clear()
        self._settled()
        with self.engine.begin() as conn:
            conn.execute(delete(ENTRIES))

    def get(self, entry_id: int) -> Entry | None:
        self._settled()
        with self.engine.connect() as conn:
            row = conn.execute(select(ENTRIES.c.id, ENTRIES.c.data).where(ENTRIES.c.id == entry_id)).first()
        return _entry(row.id, row.data) if row else None

    def find(self, *, path: str | None = None, account: str | None = None, status: str | None = None,
             method: str | None = None, limit: int = 100) -> list[Entry]:
        """As `Journal.find` (the same matching, on the summary columns; then the chosen entries read)."""
        self._settled()
        with self.engine.connect() as conn:
            summary = conn.execute(select(ENTRIES.c.id, ENTRIES.c.method, ENTRIES.c.path, ENTRIES.c.account,
                                          ENTRIES.c.status).order_by(ENTRIES.c.id.desc()).limit(self._size)).all()
            chosen = [r.id for r in summary if self.matches(r, path=path, account=account, status=status,
                                                            method=method)][:max(limit, 0)]
            data = dict(conn.execute(select(ENTRIES.c.id, ENTRIES.c.data).where(ENTRIES.c.id.in_(chosen))).all()) \
                if chosen else {}
        return [_entry(i, data[i]) for i in chosen if i in data]


def _entry(entry_id: int, data: str) -> Entry:
    return Entry(id=entry_id, **json.loads(data))


FLUSHER_KEY = "egov_sim.journal_flusher"


def new_journal(app: Any, services: Any, alive: Callable[[], bool] = lambda: True,
                check_first: bool = False) -> Journal:
    """The journal of one world of `app` (its `services`): in memory or in the database (`store_for`)."""
    settings, engine = services.settings, services.db.engine
    in_memory_db = services.db.url in ("sqlite://", "sqlite:///:memory:")  # one process's by nature
    if in_memory_db or store_for(settings, engine.dialect.name) == "memory":
        return Journal(settings.journal_size)
    flusher = app.extensions.get(FLUSHER_KEY)
    if flusher is None:
        default = app.extensions["egov_sim"]
        flusher = app.extensions[FLUSHER_KEY] = Flusher(default.db.engine)
    ensure_table(engine)
    journal = DatabaseJournal(engine, settings.journal_size, flusher, alive, check_first)
    journal._ready = True
    return journal
