"""The prepared reads' free list never starves the sessions of connections: a burst of concurrent
polls on a SQLite file (the default pool: 5 + 10 connections) used to leave all 15 idle on the free
list, and every later session of a 16-thread worker waited 30 s for the pool (scaling.py measured
0 requests on one granian worker). At most half of the pool's capacity stays on the free list."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from egov_sim.store.db import Database
from sqlalchemy import text


def test_a_burst_of_prepared_reads_leaves_half_the_pool_to_sessions(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pool.sqlite'}")
    try:
        capacity = db.engine.pool.size() + db.engine.pool._max_overflow  # type: ignore[attr-defined]
        assert capacity == 15  # SQLAlchemy's default QueuePool for a SQLite file
        with ExitStack() as burst:  # 12 concurrent readers, each with its own connection
            for _ in range(12):
                burst.enter_context(db.reads.connection()).execute("SELECT 1")
        assert db.engine.pool.checkedout() <= capacity // 2  # idle on the free list: at most half
        with ExitStack() as sessions:  # and the rest serve sessions at once, without waiting
            for _ in range(capacity - db.engine.pool.checkedout()):
                assert sessions.enter_context(db.session()).execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()


def test_postgresql_reads_run_in_autocommit_and_connections_go_back_to_the_pool_transactional() -> None:
    """PostgreSQL: a kept read connection reads in autocommit (one round trip, no transaction left open,
    as pg_stat_activity sees it); one given back to the pool leaves autocommit, so a session on it still
    rolls back (an INSERT undone is absent when psql-level SQL counts it)."""
    from pg_cluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        db = Database(cluster.url)
        try:
            with db.reads.connection() as conn:
                assert conn.autocommit
                cur = conn.execute("SELECT pg_backend_pid()")
                pid = cur.fetchone()[0]
            with db.engine.connect() as other:  # the kept connection is idle, not "idle in transaction"
                state = other.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).scalar()
            assert state == "idle", state
            db.reads.close()  # every kept connection given back to the pool
            with db.engine.connect() as c:
                c.execute(text("CREATE TABLE t (x int)"))
                c.commit()
            for _ in range(db.engine.pool.size()):  # whichever pooled connection a session gets
                try:
                    with db.session() as s:
                        assert not s.connection().connection.dbapi_connection.autocommit
                        s.execute(text("INSERT INTO t VALUES (1)"))
                        raise RuntimeError("roll back")
                except RuntimeError:
                    pass
            with db.engine.connect() as c:
                assert c.execute(text("SELECT count(*) FROM t")).scalar() == 0
        finally:
            db.dispose()
