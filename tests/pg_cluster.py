"""The throw-away PostgreSQL cluster of loadtests/pgcluster.py for tests; they skip with the reason
when the server binaries are absent."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
from pgcluster import Cluster, pg_bin
from pgcluster import throwaway_cluster as _cluster

__all__ = ["Cluster", "throwaway_cluster"]


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb) not found: apt-get install postgresql, or set PGBIN")
    with _cluster() as cluster:
        yield cluster
