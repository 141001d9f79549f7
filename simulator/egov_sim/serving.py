"""Production serving for `egov-sim serve --workers N`: granian (default) or gunicorn, several
worker processes sharing all state through the database (SQLite WAL on one machine, PostgreSQL
across machines). Each worker builds its own app from EGOV_SIM_* variables after start-up.

Measured on the 2-core reference machine (loadtests/bench.py, see loadtests/README.md):
granian's Rust HTTP front serves a bare Flask endpoint about twice as fast as gunicorn's
sync/gthread workers, so it is the default; gunicorn stays available (`--server gunicorn`).
"""

from __future__ import annotations

import os
from typing import Any

SERVERS = ("granian", "gunicorn", "werkzeug")
APP_FACTORY = "egov_sim.app:create_app"


def default_server() -> str:
    for name in ("granian", "gunicorn"):
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    return "werkzeug"


def export_settings(**values: Any) -> None:
    """Hand CLI options to worker processes through the environment (EGOV_SIM_*)."""
    for name, value in values.items():
        if value is not None and value != "":
            os.environ[f"EGOV_SIM_{name.upper()}"] = str(value)


def run(host: str, port: int, *, workers: int = 1, server: str | None = None, threads: int = 1,
        backlog: int = 2048, target: str = APP_FACTORY) -> None:
    """Serve `target` (a `module:factory` returning a WSGI app) until interrupted."""
    server = server or default_server()
    if server == "granian":
        _granian(target, host, port, workers, threads, backlog)
    elif server == "gunicorn":
        _gunicorn(target, host, port, workers, threads, backlog)
    elif server == "werkzeug":
        if workers != 1:
            raise ValueError("the werkzeug development server runs one process; use granian or gunicorn")
        from werkzeug.serving import run_simple

        run_simple(host, port, _load(target)(), threaded=True, use_reloader=False)
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
