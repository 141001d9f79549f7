"""The simulator on a loopback port inside this process, with a fresh state on demand.

The demo world (keys, test CA, certificates) is created once into a template database; `fresh()`
copies that file and swaps a new app in behind the same URL, so each test starts from the same
clean world in milliseconds instead of seconds.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app
from .settings import Settings


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the harness records exchanges itself
        pass


class EmbeddedSimulator:
    """`url` serves /shinsei/v2, /auth and /__admin; `fresh()` resets to the template world."""

    def __init__(self, workdir: Path, *, settings: Settings | None = None) -> None:
        self.workdir = Path(workdir)
        self._settings = settings or Settings.from_env()
        self._runs = itertools.count(1)
        template_dir = self.workdir / "template"
        template_dir.mkdir(parents=True, exist_ok=True)
        self._template = template_dir / "sim.sqlite"
        app = create_app(self._settings.with_(database_url=f"sqlite:///{self._template}", data_dir=template_dir))
        app.extensions["egov_sim"].db.dispose()
        self.app: Flask | None = None
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="egov-sim", daemon=True)
        self._thread.start()
        self.fresh()

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"simulator is restarting"]
        return app(environ, start_response)

    def fresh(self) -> Flask:
        """A new app on a copy of the template world (the previous one is disposed)."""
        run_dir = self.workdir / f"run-{next(self._runs)}"
        run_dir.mkdir()
        db_file = run_dir / "sim.sqlite"
        shutil.copy(self._template, db_file)
        app = create_app(self._settings.with_(database_url=f"sqlite:///{db_file}", data_dir=run_dir,
                                              public_url=self._settings.public_url or self.url))
        with self._lock:
            old, self.app = self.app, app
        if old is not None:
            old.extensions["egov_sim"].db.dispose()
            shutil.rmtree(Path(old.extensions["egov_sim"].settings.data_dir), ignore_errors=True)
        return app

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        if self.app is not None:
            self.app.extensions["egov_sim"].db.dispose()
            self.app = None

    def __enter__(self) -> EmbeddedSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
