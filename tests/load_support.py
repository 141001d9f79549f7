"""Starting real simulator processes for the load and multi-process tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join(str(ROOT / p) for p in ("client", "simulator"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": PYTHONPATH, **extra}


@contextmanager
def simulator_processes(count: int, data_dir: Path, *args: str, database: str | None = None,
                        timeout: float = 90) -> Iterator[list[str]]:
    """`count` servers spawned at the same instant (racing on one database); yields their URLs. They are
    one deployment: one public URL (the first's), so a token from one is valid at the others."""
    ports = [free_port() for _ in range(count)]
    public = ("--public-url", f"http://127.0.0.1:{ports[0]}")
    with ExitStack() as stack:
        starts = [stack.enter_context(simulator_process(data_dir, *args, *public, database=database, timeout=timeout,
                                                        wait=False, port=port)) for port in ports]
        for base in starts:
            _wait_ready(base, timeout)
        yield starts


def _wait_ready(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/__admin/clock", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"simulator at {base} did not start")


@contextmanager
def simulator_process(data_dir: Path, *args: str, database: str | None = None,
                      timeout: float = 60, wait: bool = True, port: int | None = None) -> Iterator[str]:
    """`egov-sim serve` on a free loopback port; yields its base URL and stops it afterwards."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "egov_sim.cli", "serve", "--quiet", "--port", str(port), "--data-dir",
           str(data_dir), *args]
    if database:
        cmd += ["--database", database]
    log = (data_dir / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env(), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while wait:
            if proc.poll() is not None:
                raise RuntimeError((data_dir / f"server-{port}.log").read_text()[-3000:])
            try:
                if httpx.get(f"{base}/__admin/clock", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("simulator did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
