"""Worlds: complete, isolated sandboxes inside one server, each its own database.

On SQLite a world is a file under `<data dir>/worlds/`, copied (SQLite's backup API) from a template:
the default world's demo snapshot restored once into `template.sqlite`. On PostgreSQL a world is the
schema `w_<id>` of the default database: the models' tables made there (schema_translate_map on the
default engine's pool), the demo snapshot with the world's identity restored into them (`_identity`
rewrites the snapshot for both backends). So a world holds everything a
world has — software, accounts, GビズID accounts, certificates, cases, clock, scenario overrides,
maintenance, faults, latency, outbox — and its journal and ops cache live in its own `OpsState`.
The default world is the server's own database; the plain `/__admin/...` paths mean it.

A new world gets fresh credentials: software ID and API key, GビズID demo RP client, HMAC keys (which
sign refresh tokens). Everything else is the demo data as made (RSA keys and certificates included:
generating them takes ~0.2 s each). Requests reach their world by what a client already sends (its
client_id, the `azp` of its tokens: world_routing.py); the world then checks everything itself.

The registry (tables below, in the default database, outside the snapshot so the default world's reset
keeps it) maps world id → file or schema and each routing key (client id) → world, so every process of one
data directory routes alike. Ids of cases and bulk sends in worlds come from one counter in the
registry, starting at WORLD_ID_BASE, so arrive ids and send numbers are unique across worlds.

`in_world(id)` makes `services()` answer a world's Services for its duration (the console's door);
`list_worlds()` lists them.
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app, g
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    text,
)

from .clock import Clock, real_now_jst
from .idp.egov_federation import EGOV_RP_CLIENT_ID, FEDERATION_CLIENT_KEY
from .idp.keys import KeyRing
from .services import WORLD, Services
from .store import Database, ids
from .store.kv import count_up
from .store.models import GbizAccount, GbizDelegation, GbizRelyingParty, Setting, Software

if TYPE_CHECKING:
    from .ops.middleware import OpsState

EXTENSION = "egov_sim.worlds"
DEFAULT = "default"
WORLD_ID_BASE = 500_000_000  # world rows' ids start here; the default world's own stay below
TEMPLATE = "template.sqlite"

_meta = MetaData()
WORLDS = Table("egov_worlds", _meta,
               Column("id", String(32), primary_key=True),
               Column("created_at", DateTime, nullable=False),  # real JST time
               Column("credentials", JSON, nullable=False))  # what POST /__admin/worlds answered
ROUTES = Table("egov_world_routes", _meta,
               Column("key", String(128), primary_key=True),  # a client id (software ID, GビズID RP)
               Column("world_id", String(32), nullable=False, index=True))
COUNTERS = Table("egov_world_counters", _meta,
                 Column("name", String(64), primary_key=True),
                 Column("value", Integer, nullable=False))


class UnknownWorld(LookupError):
    """No world with this id (deleted, or never made)."""

    def __init__(self, world_id: str) -> None:
        super().__init__(f"world {world_id!r} does not exist")
        self.world_id = world_id


class WorldsUnavailable(RuntimeError):
    """Worlds cannot be made here (a PostgreSQL database, or no demo world to copy)."""


@dataclass
class World:
    """One open world: its Services and, made on first use, its ops room."""

    id: str
    path: Path | None  # its SQLite file (None on PostgreSQL: a schema of the default database)
    services: Services
    _ops: OpsState | None = field(default=None, repr=False)

    def ops(self, default: OpsState, app: Any = None) -> OpsState:
        """This world's ops state: its own journal and cache, the default's fault trees and seed. `app`: the
        Flask app, when called outside its context (the WSGI poll step, fast_poll.py)."""
        if self._ops is None:
            import random

            from .ops.journal_store import new_journal
            from .ops.middleware import OpsState

            self._ops = OpsState(new_journal(app or current_app, self.services, self._alive, self.path is not None),
                                 random.Random(self.services.settings.seed), dict(default.trees))
        return self._ops

    def close(self) -> None:
        if self._ops is not None:
            self._ops.journal.close()
        self.services.db.dispose()

    def _alive(self) -> bool:
        """Still there? Asked by a journal kept in the database before it writes (worlds_pg.py drops the
        schema, worlds.py removes the file)."""
        if self.path is not None:
            return self.path.exists()
        with self.services.db.engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                                {"s": _schema(self.id)}).first() is not None


class Worlds:
    """The registry of one app: create, list, open, delete worlds (state in the default database)."""

    def __init__(self, default: Services) -> None:
        self.default = default
        self.dir = default.settings.data_dir / "worlds"
        self._open: dict[str, World] = {}
        self._routes: dict[str, str] = {}  # client id → world id (this process's cache of ROUTES)
        self._lock = threading.Lock()
        self._spare_pool: Any = None  # worlds_pg.Spares, on PostgreSQL once a world is made
        dialect = default.db.engine.dialect.name
        self.postgresql = dialect == "postgresql"  # a world is a schema there (see _create_schema)
        self.enabled = self.postgresql or (dialect == "sqlite" and default.db.url not in ("sqlite://",
                                                                                           "sqlite:///:memory:"))
        _meta.create_all(default.db.engine)
        if self.postgresql:
            from . import worlds_pg

            worlds_pg.install(default.db.engine)
        from .world import snapshot

        self._fingerprint = snapshot.fingerprint()  # of the schema (costly: read once)
        with default.db.session() as s:
            self._default_clients = frozenset(s.scalars(select(Software.client_id))) | frozenset(
                s.scalars(select(GbizRelyingParty.client_id)))

    # -- queries

    def list(self) -> list[dict[str, Any]]:
        with self.default.db.engine.connect() as conn:
            rows = conn.execute(select(WORLDS).order_by(WORLDS.c.created_at, WORLDS.c.id)).all()
        return [_describe(r) for r in rows]

    def describe(self, world_id: str) -> dict[str, Any]:
        with self.default.db.engine.connect() as conn:
            row = conn.execute(select(WORLDS).where(WORLDS.c.id == world_id)).first()
        if row is None:
            raise UnknownWorld(world_id)
        return _describe(row)

    def get(self, world_id: str) -> World:
        """The open world `world_id` (opened on first use in this process)."""
        world = self._open.get(world_id)
        if world is not None and self._alive(world):
            return world
        with self._lock:
            if world is not None:  # deleted by another process
                self._forget(world_id)
            self.describe(world_id)  # raises UnknownWorld
            world = self._open.get(world_id) or self._open_world(world_id)
            self._open[world_id] = world
            return world

    def route(self, client_id: str) -> World | None:
        """The world a client id belongs to, None for the default world's (or nobody's)."""
        if not client_id or client_id in self._default_clients:
            return None
        world_id = self._routes.get(client_id)
        if world_id is None:
            with self.default.db.engine.connect() as conn:
                world_id = conn.execute(select(ROUTES.c.world_id).where(ROUTES.c.key == client_id)).scalar()
            if world_id is None:
                return None
            self._routes[client_id] = world_id
        try:
            return self.get(world_id)
        except UnknownWorld:
            self._routes.pop(client_id, None)
            return None

    # -- create / delete

    def create(self) -> dict[str, Any]:
        """A new world from the template, with fresh credentials; nothing is left of a failed one."""
        if not self.enabled:
            raise WorldsUnavailable("worlds need PostgreSQL or the SQLite database of a data directory "
                                    "(not an in-memory database)")
        world_id = "w" + secrets.token_hex(6)
        if self.postgresql:
            return self._create_schema(world_id)
        template = self._template()
        path = self.dir / f"{world_id}.sqlite"
        try:
            shutil.copyfile(template, path)  # the template is never written after it is made
            credentials = _fresh_credentials(path, world_id, self._fingerprint)
            created = real_now_jst()
            with self.default.db.engine.begin() as conn:
                conn.execute(insert(WORLDS).values(id=world_id, created_at=created, credentials=credentials))
                conn.execute(insert(ROUTES), [{"key": key, "world_id": world_id} for key in _route_keys(credentials)])
        except BaseException:
            _remove_files(path)
            raise
        return _describe(WorldRow(world_id, created, credentials))

    def delete(self, world_id: str) -> None:
        self.describe(world_id)
        with self.default.db.engine.begin() as conn:
            conn.execute(delete(ROUTES).where(ROUTES.c.world_id == world_id))
            conn.execute(delete(WORLDS).where(WORLDS.c.id == world_id))
        with self._lock:
            self._forget(world_id)
        if self.postgresql:
            from .worlds_pg import drop

            drop(self.default.db.engine, _schema(world_id))
        else:
            _remove_files(self.dir / f"{world_id}.sqlite")

    def warm(self) -> int:
        """On PostgreSQL: the spare pool filled now (`egov-sim serve`, before its workers start), so the
        first worlds are claimed too; how many spares were made. Nothing elsewhere."""
        if not self.postgresql:
            return 0
        from . import worlds_pg

        snap = worlds_pg.demo_snapshot(self.default.db.engine)
        if snap is None or snap.fingerprint != self._fingerprint:
            return 0
        return int(self._spares().fill())

    def close(self) -> None:
        if self._spare_pool is not None:
            self._spare_pool.closed = True
        with self._lock:
            for world_id in list(self._open):
                self._forget(world_id)

    # -- internals

    def _forget(self, world_id: str) -> None:
        world = self._open.pop(world_id, None)
        if world is not None:
            world.close()
        for key in [k for k, w in self._routes.items() if w == world_id]:
            self._routes.pop(key, None)

    def _alive(self, world: World) -> bool:
        """Not deleted (by any process): its file is there, or its registry row (PostgreSQL)."""
        if world.path is not None:
            return world.path.exists()
        with self.default.db.engine.connect() as conn:
            return conn.execute(select(WORLDS.c.id).where(WORLDS.c.id == world.id)).first() is not None

    def _open_world(self, world_id: str) -> World:
        path: Path | None = None
        if self.postgresql:
            db = Database.in_schema(self.default.db, _schema(world_id))
        else:
            path = self.dir / f"{world_id}.sqlite"
            db = Database(f"sqlite:///{path}")
        ids.share_allocator(db.engine, self._allocate)
        svc = Services(settings=self.default.settings, db=db, clock=Clock(db, self.default.settings.clock_speed),
                       keys=KeyRing(db), catalogue=self.default.catalogue)
        return World(world_id, path, svc)

    def _create_schema(self, world_id: str) -> dict[str, Any]:
        """A PostgreSQL world (worlds_pg.py): a spare schema claimed, or one built in place; with its
        registry rows in one transaction (a built one is dropped if they fail), so nothing is left half-made."""
        import json
        import zlib

        from . import worlds_pg

        engine = self.default.db.engine
        snap = worlds_pg.demo_snapshot(engine)
        if snap is None or snap.fingerprint != self._fingerprint:
            raise WorldsUnavailable("the default world has no demo snapshot to copy "
                                    "(demo_world disabled, or made by an older version: reset it)")
        rows: dict[str, list[dict[str, Any]]] = json.loads(zlib.decompress(snap.data))
        changes, own_rp, credentials = _identity(rows, world_id)
        data = zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(), 1)
        created, schema = real_now_jst(), _schema(world_id)

        def register(conn: Any) -> None:
            conn.execute(insert(WORLDS).values(id=world_id, created_at=created, credentials=credentials))
            conn.execute(insert(ROUTES), [{"key": key, "world_id": world_id} for key in _route_keys(credentials)])

        with engine.begin() as conn:
            claimed = worlds_pg.claim(conn, schema, snap.fingerprint, changes, own_rp, data, snap.virtual_time)
            if claimed:
                register(conn)
        if not claimed:
            worlds_pg.build(engine, schema, snap, data, self.default.settings.clock_speed)
            try:  # the registry is outside the schema map: its own transaction, and no schema without it
                with engine.begin() as conn:
                    register(conn)
            except BaseException:
                worlds_pg.drop(engine, schema)
                raise
        self._spares().refill_soon(_log_spare_failure)
        return _describe(WorldRow(world_id, created, credentials))

    def _spares(self) -> Any:
        from . import worlds_pg

        if self._spare_pool is None:
            self._spare_pool = worlds_pg.Spares(self.default.db.engine, self._fingerprint,
                                                self.default.settings.clock_speed, self.default.settings.world_spares)
        return self._spare_pool

    def _allocate(self, table: str) -> int:
        """The next id of `table` in any world: one counter per table in the registry."""
        with self.default.db.engine.begin() as conn:  # two first allocations at once get two ids
            return count_up(conn, COUNTERS, {"name": table}, "value", first=WORLD_ID_BASE + 1)

    def _template(self) -> Path:
        """The demo world as made (the default world's snapshot restored into a copy), made once."""
        from .world import snapshot

        path = self.dir / TEMPLATE
        stamp = self.dir / f"{TEMPLATE}.{self._fingerprint[:16]}"
        if path.exists() and stamp.exists():
            return path
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.default.db.init_lock():
            if path.exists() and stamp.exists():
                return path
            for old in self.dir.glob(f"{TEMPLATE}*"):
                old.unlink()
            work = self.dir / f"{TEMPLATE}.{uuid.uuid4().hex}.tmp"
            try:
                _copy(Path(self.default.db.url.split("///", 1)[1]), work)
                db = Database(f"sqlite:///{work}")
                try:
                    svc = Services(settings=self.default.settings, db=db, clock=Clock(db), keys=KeyRing(db),
                                   catalogue=self.default.catalogue)
                    if not snapshot.restore(svc):
                        raise WorldsUnavailable("the default world has no demo snapshot to copy "
                                                "(demo_world disabled, or made by an older version: reset it)")
                    _meta.drop_all(db.engine)  # the registry is the default world's alone
                    with db.engine.begin() as conn:  # no WAL left beside the copy's source
                        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
                finally:
                    db.dispose()
                _remove_files(work, keep_main=True)
                work.rename(path)
                stamp.touch()
            except BaseException:
                _remove_files(work)
                raise
        return path


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its backup API: safe while it is being written)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _remove_files(path: Path, keep_main: bool = False) -> None:
    for suffix in ("-wal", "-shm", "-journal", ".init-lock") if keep_main else ("", "-wal", "-shm", "-journal",
                                                                              ".init-lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass(frozen=True)
class Change:
    """Set `values` on the rows of `table` whose `column` is `key` — applied alike to the copy's tables
    and to its snapshot's rows, so a reset of the world restores what it was made with."""

    table: str
    column: str
    key: Any
    values: dict[str, Any]


def _identity(rows: dict[str, list[dict[str, Any]]], world_id: str) -> tuple[list[Change], dict[str, Any],
                                                                         dict[str, Any]]:
    """A world's own identity written into the demo snapshot's `rows` (in place): software ID and API key,
    GビズID RP clients (e-Gov's own included), new world state id, no HMAC keys (made afresh on first use),
    the federation's own RP. Returns the changes (for a copy's live tables), the added setting row and
    the credentials POST /__admin/worlds answers. Both backends start from it."""
    from .world.demo import WORLD_ID_KEY, WORLD_KEY, DemoWorld

    client_id, secret = f"egov-sandbox-{world_id}", secrets.token_urlsafe(24)
    settings = {r["key"]: r["value"] for r in rows[Setting.__tablename__]}
    demo = DemoWorld.from_dict(settings[WORLD_KEY])
    changes = [Change(Software.__tablename__, "client_id", demo.client_id,
                      {"client_id": client_id, "client_secret": secret})]
    demo.client_id, demo.client_secret = client_id, secret
    renamed: dict[str, str] = {}
    for client in demo.gbizid.get("clients", []):
        old, new = client["client_id"], f"{client['client_id']}-{world_id}"
        client["client_id"], client["client_secret"] = new, secrets.token_urlsafe(32)
        changes += [Change(GbizRelyingParty.__tablename__, "client_id", old,
                           {"client_id": new, "client_secret": client["client_secret"]}),
                    Change(GbizDelegation.__tablename__, "client_id", old, {"client_id": new})]
        renamed[old] = new
    for account in rows[GbizAccount.__tablename__]:
        mandates = [renamed.get(m, m) for m in account.get("mandates") or []]
        if mandates != (account.get("mandates") or []):
            changes.append(Change(GbizAccount.__tablename__, "id", account["id"], {"mandates": mandates}))
    changes += [Change(Setting.__tablename__, "key", WORLD_KEY, {"value": demo.as_dict()}),
                Change(Setting.__tablename__, "key", WORLD_ID_KEY, {"value": {"id": uuid.uuid4().hex}})]
    for change in changes:
        for row in rows.get(change.table, []):
            if row.get(change.column) == change.key:
                row.update(change.values)
    own_rp = {"key": FEDERATION_CLIENT_KEY, "value": {"client_id": renamed.get(EGOV_RP_CLIENT_ID, EGOV_RP_CLIENT_ID)}}
    rows[Setting.__tablename__] = [r for r in rows[Setting.__tablename__]
                                   if not r["key"].startswith("keys.hmac.")] + [own_rp]
    credentials = {"id": world_id, "client_id": client_id, "client_secret": secret,
                   "redirect_uris": demo.redirect_uris, "gbizid_clients": renamed}
    return changes, own_rp, credentials


def _fresh_credentials(path: Path, world_id: str, fingerprint: str) -> dict[str, Any]:
    """Give the SQLite copy at `path` its own identity (`_identity`), in its tables and its snapshot; its
    clock starts at the snapshot's virtual time, as after a reset. Plain sqlite3 on the closed copy: no
    engine to make (this is most of a world's creation time)."""
    import json
    import zlib

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")  # as the app opens it (store/db.py): commits need no fsync
        conn.execute("PRAGMA synchronous = NORMAL")
        with conn:
            snap = conn.execute("SELECT fingerprint, data FROM world_snapshot").fetchone()
            if snap is None or snap[0] != fingerprint:
                raise WorldsUnavailable("the template has no usable demo snapshot")
            rows: dict[str, list[dict[str, Any]]] = json.loads(zlib.decompress(snap[1]))
            changes, own_rp, credentials = _identity(rows, world_id)
            conn.execute("PRAGMA defer_foreign_keys = ON")  # RP ids change in parent and child rows
            for change in changes:
                _apply(conn, change)
            conn.execute("DELETE FROM settings_kv WHERE key LIKE 'keys.hmac.%'")  # fresh HMAC keys
            conn.execute("INSERT INTO settings_kv (key, value) VALUES (?, ?)", (own_rp["key"], json.dumps(own_rp["value"])))
            conn.execute("UPDATE world_snapshot SET data = ?", (zlib.compress(json.dumps(
                rows, ensure_ascii=False, separators=(",", ":")).encode(), 1),))
            conn.execute("UPDATE clock SET anchor_real = ?, anchor_virtual = (SELECT virtual_time FROM world_snapshot)",
                         (time.time(),))
    finally:
        conn.close()
    return credentials


def _apply(conn: sqlite3.Connection, change: Change) -> None:
    """One change to a live table (JSON values as SQLAlchemy's JSON type stores them)."""
    import json

    columns = ", ".join(f"{name} = ?" for name in change.values)
    stored = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in change.values.values()]
    conn.execute(f"UPDATE {change.table} SET {columns} WHERE {change.column} = ?", (*stored, change.key))


def _log_spare_failure(exc: BaseException) -> None:
    import logging

    logging.getLogger("egov_sim.worlds").warning("a spare world schema could not be made: %s", exc)


def _schema(world_id: str) -> str:
    """A world's PostgreSQL schema (world ids are "w" + hex: a safe identifier)."""
    if not world_id.isalnum():
        raise UnknownWorld(world_id)
    return f"w_{world_id}"


def _route_keys(credentials: dict[str, Any]) -> list[str]:
    return [credentials["client_id"], *credentials["gbizid_clients"].values()]


@dataclass(frozen=True)
class WorldRow:
    id: str
    created_at: datetime
    credentials: dict[str, Any]


def _describe(row: Any) -> dict[str, Any]:
    return {"id": row.id, "created_at": row.created_at.strftime("%Y-%m-%d %H:%M:%S"), **row.credentials,
            "admin_path": f"/__admin/worlds/{row.id}"}


# ---------------------------------------------------------------------------- the app's doors

def install(app: Any, default: Services) -> Worlds:
    worlds = app.extensions[EXTENSION] = Worlds(default)
    return worlds


def registry() -> Worlds:
    return current_app.extensions[EXTENSION]


def list_worlds() -> list[dict[str, Any]]:
    """Every world but the default one: id, created_at, credentials, admin_path."""
    return registry().list()


def current_world_id() -> str:
    world = g.get(WORLD)
    return world.id if world is not None else DEFAULT


@contextmanager
def in_world(world_id: str) -> Iterator[World | None]:
    """`services()` (and the ops state) answer world `world_id`'s for the duration ("default": the
    server's own). Raises UnknownWorld for an unknown id."""
    world = None if world_id == DEFAULT else registry().get(world_id)
    previous = g.get(WORLD)
    setattr(g, WORLD, world)
    try:
        yield world
    finally:
        setattr(g, WORLD, previous)

