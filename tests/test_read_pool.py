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
