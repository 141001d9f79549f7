"""Worlds on PostgreSQL: a world is the schema `w_<id>` of the default database (worlds.py).

Making a schema's tables is PostgreSQL DDL, ~150–500 ms for the models' ~40 tables and indexes. So
schemas are made ahead ("spares", `s_<hex>`: the models' tables and the default world's demo snapshot
restored, exactly as a reset makes them) and a new world claims one: renamed to `w_<id>` and given the
world's identity (the rows `_identity` changes, fresh HMAC keys, its clock at the snapshot's virtual
time, as after a reset), with its registry rows, in one transaction. Any process may claim a spare
(`FOR UPDATE SKIP LOCKED`: never twice); after a claim this process makes the pool whole again in the
background (`world_spares` of them; `egov-sim serve` fills the pool before its workers start, so the
first worlds claim too). With no spare (a burst beyond the pool) the world is built in place.

The refill runs in a child process (`python -m egov_sim.worlds_pg`, watched by a thread): restoring the
snapshot's rows is CPU work in Python, and in the server's process it would hold the GIL against the
requests (on a loaded 2-core box, deleting a world took ~550 ms beside an in-process refill, ~80 ms beside
the child). The child
keeps the pool whole while claims go on and leaves after CHILD_IDLE_SECONDS without one.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, delete, insert, select, text, update
from sqlalchemy.engine import Connection, Engine, Row

from .store.models import Base, ClockRow, Setting
from .world import snapshot

CHILD_IDLE_SECONDS = 30.0  # a refilling child leaves after this long with the pool whole
CHILD_POLL_SECONDS = 0.1
CHILD_LIFETIME_SECONDS = 300.0  # then the next claim starts another
SPARES_KEPT = 6  # spare schemas kept ready (per fingerprint) unless the `world_spares` setting says otherwise

_meta = MetaData()
SPARES = Table("egov_world_spares", _meta,
               Column("schema", String(64), primary_key=True),
               Column("fingerprint", String(64), nullable=False))  # of the snapshot's layout


def install(engine: Engine) -> None:
    _meta.create_all(engine)


def demo_snapshot(engine: Engine) -> Row[Any] | None:
    """The default world's demo snapshot row (fingerprint, virtual_time, data), None if it has none."""
    with engine.connect() as conn:
        return conn.execute(select(snapshot.SNAPSHOTS).where(snapshot.SNAPSHOTS.c.id == snapshot.SNAPSHOT_ID)).first()


def build(engine: Engine, schema: str, snap: Row[Any], data: bytes, clock_speed: float | None) -> None:
    """Schema `schema` with the models' tables and `data` (a snapshot's rows) stored and restored, in one
    transaction (PostgreSQL's DDL is transactional: a failure leaves nothing)."""
    with engine.execution_options(schema_translate_map={None: schema}).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        Base.metadata.create_all(conn, checkfirst=False)
        snapshot.create_table(conn)
        conn.execute(snapshot.SNAPSHOTS.insert().values(id=snapshot.SNAPSHOT_ID, fingerprint=snap.fingerprint,
                                                        virtual_time=snap.virtual_time, data=data))
        if not snapshot.restore_rows(conn, clock_speed):
            raise RuntimeError(f"the demo snapshot did not restore into {schema}")


def drop(engine: Engine, schema: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def claim(conn: Connection, schema: str, fingerprint: str, changes: list[Any], own_rp: dict[str, Any],
          data: bytes, virtual_time: Any) -> bool:
    """Within the caller's transaction: rename a spare to `schema` and give it the world's identity
    (`changes`, `own_rp`, the rewritten snapshot `data`). False when there is no spare."""
    spare = conn.execute(text(
        "DELETE FROM egov_world_spares WHERE schema = (SELECT schema FROM egov_world_spares "
        "WHERE fingerprint = :f LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING schema"), {"f": fingerprint}).scalar()
    if spare is None:
        return False
    conn.execute(text(f'ALTER SCHEMA "{spare}" RENAME TO "{schema}"'))
    opts = {"schema_translate_map": {None: schema}}
    tables = Base.metadata.tables
    for change in changes:
        table = tables[change.table]
        conn.execute(update(table).where(table.c[change.column] == change.key).values(**change.values),
                     execution_options=opts)
    settings = Setting.__table__
    conn.execute(delete(settings).where(settings.c.key.like("keys.hmac.%")), execution_options=opts)  # fresh
    conn.execute(insert(settings).values(**own_rp), execution_options=opts)
    conn.execute(update(snapshot.SNAPSHOTS).values(data=data), execution_options=opts)
    clock = ClockRow.__table__
    conn.execute(update(clock).values(anchor_real=time.time(), anchor_virtual=virtual_time), execution_options=opts)
    return True


class Spares:
    """This process's upkeep of the spare pool: one refilling thread at a time, up to `kept` spares."""

    def __init__(self, engine: Engine, fingerprint: str, clock_speed: float | None, kept: int = SPARES_KEPT) -> None:
        self.engine, self.fingerprint, self.clock_speed = engine, fingerprint, clock_speed
        self.kept = max(kept, 0)
        self._busy = threading.Lock()
        self.closed = False

    def ready(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(SPARES.c.schema).where(SPARES.c.fingerprint == self.fingerprint)).all())

    def refill_soon(self, on_error: Callable[[BaseException], None]) -> threading.Thread | None:
        """Make spares up to `kept` in a daemon thread (none if one is at work already: its child sees
        the claim and goes on)."""
        if self.closed or self.kept == 0 or not self._busy.acquire(blocking=False):
            return None
        thread = threading.Thread(target=self._refill, args=(on_error,), name="egov-world-spares", daemon=True)
        thread.start()
        return thread

    def _refill(self, on_error: Callable[[BaseException], None]) -> None:
        try:
            self._fill_in_child()
        except BaseException as exc:  # the pool stays short; creation builds in place meanwhile
            on_error(exc)
        finally:
            self._busy.release()

    def _fill_in_child(self) -> None:
        """`keep_filled` in a child process (see the module's docstring); this thread only waits."""
        url = self.engine.url.render_as_string(hide_password=False)
        speed = "" if self.clock_speed is None else str(self.clock_speed)
        modules = ",".join(sorted({m.class_.__module__ for m in Base.registry.mappers}))  # the models' tables
        done = subprocess.run([sys.executable, "-m", "egov_sim.worlds_pg", self.fingerprint, str(self.kept), speed,
                               modules],
                              env={**os.environ, "EGOV_SIM_SPARES_DATABASE_URL": url, "EGOV_SIM_SPARES_PARENT":
                                   str(os.getpid())}, capture_output=True, timeout=CHILD_LIFETIME_SECONDS + 120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode("utf-8", "replace")[-2000:])

    def keep_filled(self, idle: float = CHILD_IDLE_SECONDS) -> None:
        """Fill the pool, and again whenever a claim takes from it, until `idle` seconds pass without one
        (or CHILD_LIFETIME_SECONDS, or the parent server process is gone)."""
        started = quiet_since = time.monotonic()
        parent = os.environ.get("EGOV_SIM_SPARES_PARENT")
        while not self.closed and time.monotonic() - quiet_since < idle and \
                time.monotonic() - started < CHILD_LIFETIME_SECONDS:
            if parent and str(os.getppid()) != parent:
                return
            if self.fill():
                quiet_since = time.monotonic()
            time.sleep(CHILD_POLL_SECONDS)

    def fill(self) -> int:
        """Make spares until `kept` are ready (bounded: at most `kept` per call); how many were made."""
        self.drop_stale()
        made = 0
        for _ in range(self.kept):
            if self.closed or self.ready() >= self.kept:
                break
            snap = demo_snapshot(self.engine)
            if snap is None or snap.fingerprint != self.fingerprint:
                break
            self.make(snap)
            made += 1
        return made

    def drop_stale(self) -> None:
        """Spares of another layout (made by an older version) are of no use: dropped."""
        with self.engine.begin() as conn:
            stale = list(conn.execute(delete(SPARES).where(SPARES.c.fingerprint != self.fingerprint)
                                      .returning(SPARES.c.schema)).scalars())
            for schema in stale:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    def make(self, snap: Row[Any]) -> str:
        schema = "s_" + secrets.token_hex(6)
        build(self.engine, schema, snap, snap.data, self.clock_speed)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(SPARES).values(schema=schema, fingerprint=snap.fingerprint))
        except BaseException:
            drop(self.engine, schema)
            raise
        return schema


def main(argv: list[str]) -> None:
    """The refilling child: `python -m egov_sim.worlds_pg FINGERPRINT KEPT CLOCK_SPEED MODULES` (MODULES: the
    comma-separated modules whose models make the schema; the database URL in EGOV_SIM_SPARES_DATABASE_URL,
    not on the command line: it may hold a password)."""
    import importlib

    from sqlalchemy import create_engine

    os.nice(10)  # the server's requests first: the pool only has to be whole before the next claim

    fingerprint, kept, speed, modules = argv[0], int(argv[1]), argv[2], argv[3]
    for module in filter(None, modules.split(",")):
        importlib.import_module(module)
    if snapshot.fingerprint() != fingerprint:
        raise SystemExit(f"the models imported from {modules} do not make the server's schema")
    engine = create_engine(os.environ["EGOV_SIM_SPARES_DATABASE_URL"], pool_size=1, max_overflow=1)
    try:
        Spares(engine, fingerprint, float(speed) if speed else None, kept).keep_filled()
    finally:
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
