"""The database handle: engine, sessions, schema creation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .initlock import init_lock
from .models import Base
from .prepared import PreparedRead, ReadConnections


class Database:
    def __init__(self, url: str, engine: Engine | None = None, reads: ReadConnections | None = None) -> None:
        self.url = url
        self._owns_engine = engine is None
        self.engine = self._make_engine(url) if engine is None else engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reads = reads or ReadConnections(self.engine)  # DBAPI connections for prepared reads
        self._prepared: dict[int, tuple[Any, PreparedRead]] = {}

    @classmethod
    def in_schema(cls, default: Database, schema: str) -> Database:
        """The same database's schema `schema` (a PostgreSQL world): its tables are the models' with that
        schema (SQLAlchemy's schema_translate_map), on the default engine's pool."""
        # prepared reads name the schema, so the default's free list serves them: worlds do not each keep
        # connections of the shared pool
        return cls(default.url, default.engine.execution_options(schema_translate_map={None: schema}), default.reads)

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            memory = url in ("sqlite://", "sqlite:///:memory:")
            if not memory:
                path = url.split("///", 1)[-1]
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                poolclass=StaticPool if memory else None,
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                cur = dbapi_conn.cursor()
                if not memory:
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def init_lock(self):  # type: ignore[no-untyped-def]
        """Serialise one-time initialisation across processes (see initlock.py)."""
        return init_lock(self.engine, self.url)

    def drop_schema(self) -> None:
        Base.metadata.drop_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def prepared(self, statement: Any) -> PreparedRead:
        """`statement` compiled for this engine once (see prepared.py); statements are module constants."""
        entry = self._prepared.get(id(statement))
        if entry is None or entry[0] is not statement:
            entry = self._prepared[id(statement)] = (statement, PreparedRead(self.engine, statement))
        return entry[1]

    def dispose(self) -> None:
        if self._owns_engine:  # a schema's handle leaves the shared pool and free list to their owner
            self.reads.close()
            self.engine.dispose()
