"""Starting, waiting for and stopping `egov-sim serve` processes: the one copy used by the load
scripts (integrity.py, scaling.py, memory.py) and the tests (tests/load_support.py, test_serving.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join(str(ROOT / p) for p in ("client", "simulator", "loadtests"))
READY = "/__admin/clock"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    """This environment with the checkout's packages importable."""
    return {**os.environ, "PYTHONPATH": PYTHONPATH, **extra}


def spawn(data_dir: Path, port: int, *args: str, database: str | None = None,
          log: Path | None = None, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`egov-sim serve --quiet --port P --data-dir D [--database URL] ARGS`, output appended to `log`
    (`environ`: the whole environment, default this one with the checkout importable)."""
    cmd = [sys.executable, "-m", "egov_sim.cli", "serve", "--quiet", "--port", str(port), "--data-dir",
           str(data_dir), *args]
    if database:
        cmd += ["--database", database]
    log = log or data_dir / f"serve-{port}.log"
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=environ or env(), stdout=out, stderr=subprocess.STDOUT)


def wait_ready(base: str, timeout: float = 60, proc: subprocess.Popen[bytes] | None = None,
               log: Path | None = None, ready: str = READY) -> None:
    """Until `base` answers `ready` (the admin clock) with 200; raises if `proc` exits first or on timeout."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:  # one client: httpx.get costs ~45 ms of CPU per call
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{base} exited with {proc.returncode}: " + (log.read_text()[-3000:] if log else ""))
            try:
                if client.get(f"{base}{ready}").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise TimeoutError(f"simulator at {base} did not start within {timeout:.0f}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def serving(data_dir: Path, *args: str, database: str | None = None, port: int | None = None,
            timeout: float = 60, wait: bool = True, log: Path | None = None, environ: dict[str, str] | None = None,
            ready: str = READY) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One `egov-sim serve` on a free loopback port: yields (base URL, process), stops it afterwards.
    `ready`: the path that answers 200 once it serves (a sandbox-mode server has no admin API)."""
    port = port or free_port()
    log = log or data_dir / f"serve-{port}.log"
    proc = spawn(data_dir, port, *args, database=database, log=log, environ=environ)
    base = f"http://127.0.0.1:{port}"
    try:
        if wait:
            wait_ready(base, timeout, proc, log, ready)
        yield base, proc
    finally:
        stop(proc)


def spawn_granian(data_dir: Path, port: int, workers: int, database: str, log: Path,
                  *args: str) -> subprocess.Popen[bytes]:
    """`egov-sim serve --server granian --workers W` on `database` (the load scripts' PostgreSQL servers)."""
    return spawn(data_dir, port, "--workers", str(workers), "--server", "granian", *args, database=database, log=log)


@contextmanager
def prepared_postgresql(data_dir: Path, port: int, bodies: int) -> Iterator[tuple[Any, Any]]:
    """A throw-away PostgreSQL cluster with the load data made on it for a deployment whose public URL is
    127.0.0.1:`port` (bench.prepare: demo world, a token, an application to poll, `bodies` signed
    packages); yields (cluster, prepared) and removes the cluster afterwards."""
    from bench import prepare
    from pgcluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        yield cluster, prepare(data_dir, port, bodies=bodies, refresh_tokens=0, database_url=cluster.url)
