"""Starting real simulator processes for the load and multi-process tests (on loadtests/serveproc.py,
the one start/wait/stop helper the load scripts use too)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "loadtests"))
from serveproc import PYTHONPATH, env, free_port, serving, wait_ready  # noqa: E402

__all__ = ["PYTHONPATH", "ROOT", "env", "free_port", "serving", "simulator_process", "simulator_processes"]


@contextmanager
def simulator_processes(count: int, data_dir: Path, *args: str, database: str | None = None,
                        timeout: float = 90) -> Iterator[list[str]]:
    """`count` servers spawned at the same instant (racing on one database); yields their URLs. They are
    one deployment: one public URL (the first's), so a token from one is valid at the others."""
    ports = [free_port() for _ in range(count)]
    public = ("--public-url", f"http://127.0.0.1:{ports[0]}")
    with ExitStack() as stack:
        starts = [stack.enter_context(serving(data_dir, *args, *public, database=database, timeout=timeout,
                                              wait=False, port=port)) for port in ports]
        for base, proc in starts:
            wait_ready(base, timeout, proc)
        yield [base for base, _ in starts]


@contextmanager
def simulator_process(data_dir: Path, *args: str, database: str | None = None,
                      timeout: float = 60, wait: bool = True, port: int | None = None) -> Iterator[str]:
    """`egov-sim serve` on a free loopback port; yields its base URL and stops it afterwards."""
    with serving(data_dir, *args, database=database, timeout=timeout, wait=wait, port=port) as (base, _proc):
        yield base
