"""A simulator served as a real process (`egov-sim serve`) on a free loopback port, for the tests that
drive installed commands (the installed wheel, the README's examples)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OPT_IN = "EGOV_SERVED_TESTS"  # `make test-served` (run by .ci/run) sets it: these tests take ~1–2 min


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH into the checkout, no simulator settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EGOV_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(LANG="C.UTF-8", COLUMNS="200", **extra)
    return env


def server_errors(folder: Path, limit: int = 3000) -> str:
    """The tracebacks the servers under `folder` logged (*.log), for a failing test's message: what a
    500 was is in the server's log, not in the client's output."""
    found = []
    for log in sorted(folder.rglob("*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            found.append(f"--- {log.name}\n{text[text.index('Traceback'):][-limit:]}")
    return "\n".join(found)[-limit:] or "(no traceback in the server logs)"


@contextmanager
def served(egov_sim: str | Path, data_dir: Path, *, cwd: Path, port: int | None = None,
           env: dict[str, str] | None = None) -> Iterator[str]:
    """`egov-sim serve --port P --data-dir D`; yields its URL once the admin API answers; stops it after."""
    port = port or free_port()
    log = (cwd / f"sim-{port}.log").open("wb")
    proc = subprocess.Popen([str(egov_sim), "serve", "--port", str(port), "--data-dir", str(data_dir), "--quiet"],
                            cwd=cwd, env=env or clean_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/__admin/world/id", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"egov-sim serve did not come up: {(cwd / f'sim-{port}.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
