"""A snapshot of the demo world as it was first made, so a reset restores it instead of making a new one.

Making the demo world generates RSA keys, a test CA, four certificates and password hashes (about a
second); restoring its rows takes milliseconds. The snapshot holds every row of every table (the
signing keys of the auth server and of GビズID included, so tokens, JWKS and per-process key caches
stay valid) and the virtual time at which it was taken: a restore puts the clock back there, so the
demo certificates stand where they stood (the "unregistered" one is not yet registered again).

It lives in its own table, beside the schema it snapshots, so every server process of a shared
database restores the same world. A snapshot of another schema (an older version) is not used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.schema import Column as SchemaColumn

from ..services import Services
from ..store.models import Base, ClockRow

_meta = MetaData()
SNAPSHOTS = Table("world_snapshot", _meta,
                  Column("id", Integer, primary_key=True),
                  Column("fingerprint", String(64), nullable=False),
                  Column("virtual_time", DateTime, nullable=False),  # the virtual clock when it was taken
                  Column("data", LargeBinary, nullable=False))  # zlib-compressed JSON: {table: [row, ...]}

SNAPSHOT_ID = 1


def _key_purposes() -> tuple[str, ...]:
    from ..idp import egov_tokens, gbizid_op

    return egov_tokens.KEY_PURPOSE, gbizid_op.KEY_PURPOSE


_fingerprints: dict[tuple[tuple[str, int], ...], str] = {}


def fingerprint() -> str:
    """What the snapshot's layout depends on: every table and column with its type (computed once per
    set of tables and column counts in a process: the types' reprs are the cost)."""
    tables = Base.metadata.tables.values()
    key = tuple((t.name, len(t.columns)) for t in tables)
    if key not in _fingerprints:
        parts = sorted(f"{t.name}.{c.name}:{c.type!r}" for t in tables for c in t.columns)
        _fingerprints[key] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _fingerprints[key]


def _encode(column: SchemaColumn[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return value.isoformat()
    if isinstance(column.type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


def _decode(column: SchemaColumn[Any], value: Any) -> Any:
    if value is None or isinstance(column.type, JSON):
        return value
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value)
    return value


def take(services: Services) -> None:
    """Snapshot the database as it is now (call it right after the demo world is made)."""
    for purpose in _key_purposes():  # made lazily otherwise; the snapshot must hold them
        services.keys.get(purpose)
    virtual_now = services.clock.now()
    engine = services.db.engine
    _meta.create_all(engine)
    with engine.begin() as conn:
        rows = {t.name: [{c.name: _encode(c, r._mapping[c.name]) for c in t.columns} for r in conn.execute(select(t))]
                for t in Base.metadata.sorted_tables}
        data = zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(), 6)
        conn.execute(delete(SNAPSHOTS))
        conn.execute(SNAPSHOTS.insert().values(id=SNAPSHOT_ID, fingerprint=fingerprint(), virtual_time=virtual_now,
                                               data=data))


def restore(services: Services) -> bool:
    """Put every table back to the snapshot in one transaction; False when there is no usable snapshot."""
    engine = services.db.engine
    _meta.create_all(engine)
    with engine.begin() as conn:
        return restore_rows(conn, services.settings.clock_speed)


def create_table(conn: Connection) -> None:
    """The snapshot's table (in the connection's schema: a world's on PostgreSQL, worlds.py)."""
    _meta.create_all(conn)


def restore_rows(conn: Connection, clock_speed: float | None) -> bool:
    """`restore` inside the caller's transaction."""
    snap = conn.execute(select(SNAPSHOTS).where(SNAPSHOTS.c.id == SNAPSHOT_ID)).first()
    if snap is None or snap.fingerprint != fingerprint():
        return False
    rows: dict[str, list[dict[str, Any]]] = json.loads(zlib.decompress(snap.data))
    tables = Base.metadata.sorted_tables
    for table in reversed(tables):  # children first (foreign keys)
        conn.execute(delete(table))
    for table in tables:
        values = [{c.name: _decode(c, row.get(c.name)) for c in table.columns} for row in rows.get(table.name, [])]
        if table.name == ClockRow.__tablename__:
            values = [_clock_at(row, snap.virtual_time, clock_speed) for row in values]
        if values:
            conn.execute(table.insert(), values)
    if conn.dialect.name == "postgresql":
        _restart_sequences(conn)
    return True


def _clock_at(row: dict[str, Any], virtual_time: datetime, clock_speed: float | None) -> dict[str, Any]:
    """The clock as it was when the snapshot was taken, anchored at this real instant."""
    speed = clock_speed or row["speed"]
    return {**row, "anchor_real": time.time(), "anchor_virtual": virtual_time, "speed": speed}


def _restart_sequences(conn: Connection) -> None:
    """Rows came back with their ids; PostgreSQL's sequences must continue after them."""
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)  # a world's (worlds.py)
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement is True:
            name = f"{schema}.{table.name}" if schema else table.name
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', '{pk[0].name}'), "
                              f"COALESCE(MAX({pk[0].name}), 1), MAX({pk[0].name}) IS NOT NULL) FROM {name}"))


def discard(services: Services) -> None:
    _meta.create_all(services.db.engine)
    with services.db.engine.begin() as conn:
        conn.execute(delete(SNAPSHOTS))
