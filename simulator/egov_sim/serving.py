"""Serving for `egov-sim serve`: gunicorn (default), granian or werkzeug, one or more worker
processes sharing all state through the database (SQLite WAL on one machine, PostgreSQL across
machines), each with several threads. Each worker builds its own app from EGOV_SIM_* variables.

The default is gunicorn's threaded workers because its workers hand the client socket to the app:
a `reset` fault is then a real TCP RST and a `hang` ends when the client goes away (ops/connection.py).
Threads are sized to the machine, so a hung or slowed request holds one thread, never the server.
granian's Rust front serves about twice as many bare requests per second (loadtests/bench.py) but
gives the app no socket: under it `reset` faults are refused with that explanation
(`--server granian` for throughput runs).

Workers die with their main process (a watchdog on the parent pid), and a second `serve` on a port
already in use refuses to start instead of serving beside the first (granian binds SO_REUSEPORT).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
import time
from typing import Any

SERVERS = ("gunicorn", "granian", "werkzeug")
APP_FACTORY = "egov_sim.serving:worker_app"
CONNECTION_FAULT_SERVERS = frozenset({"gunicorn", "werkzeug"})  # servers that hand the app the client socket


def default_server() -> str:
    for name in ("gunicorn", "granian"):
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    return "werkzeug"


def default_threads() -> int:
    """Threads per worker: enough that held requests (hang, latency faults) leave others served."""
    return min(64, max(8, 8 * (os.cpu_count() or 1)))


def refuse_busy_port(host: str, port: int) -> None:
    """OSError (EADDRINUSE) when something already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignores TIME_WAIT, not listeners
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OSError(errno.EADDRINUSE, f"{host}:{port} is already in use (another egov-sim serve?)") from None
            raise


def die_with_parent(interval: float = 1.0, grace: float = 10.0) -> None:
    """End this worker when its main process is gone (a `kill -9` of the main leaves no orphans)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="egov-sim-parent-watchdog", daemon=True).start()


def worker_app() -> Any:
    """The app of one server worker process."""
    from .app import create_app

    die_with_parent()
    return create_app()


def export_settings(**values: Any) -> None:
    """Hand CLI options to worker processes through the environment (EGOV_SIM_*)."""
    for name, value in values.items():
        if value is not None and value != "":
            os.environ[f"EGOV_SIM_{name.upper()}"] = str(value)


def run(host: str, port: int, *, workers: int = 1, server: str | None = None, threads: int | None = None,
        backlog: int = 2048, target: str = APP_FACTORY) -> None:
    """Serve `target` (a `module:factory` returning a WSGI app) until interrupted."""
    server = server or default_server()
    threads = threads or default_threads()
    if server == "granian":
        _granian(target, host, port, workers, threads, backlog)
    elif server == "gunicorn":
        _gunicorn(target, host, port, workers, threads, backlog)
    elif server == "werkzeug":
        if workers != 1:
            raise ValueError("the werkzeug development server runs one process; use granian or gunicorn")
        from werkzeug.serving import run_simple

        app = _load("egov_sim.app:create_app")() if target == APP_FACTORY else _load(target)()  # no watchdog
        run_simple(host, port, app, threaded=True, use_reloader=False)
    else:
        raise ValueError(f"unknown server {server!r} (choose from {', '.join(SERVERS)})")


def _load(target: str) -> Any:
    from importlib import import_module

    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def _granian(target: str, host: str, port: int, workers: int, threads: int, backlog: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(target, address=host, port=port, interface=Interfaces.WSGI, factory=True, workers=workers,
            blocking_threads=threads, backlog=backlog, log_access=False,
            respawn_failed_workers=True).serve()


def _gunicorn(target: str, host: str, port: int, workers: int, threads: int, backlog: int) -> None:
    from gunicorn.app.base import BaseApplication

    factory = _load(target)

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("backlog", backlog)
            self.cfg.set("keepalive", 5)

        def load(self) -> Any:
            return factory()

    _App().run()
