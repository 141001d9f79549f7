"""Per-request CPU of the hot paths, in process (a raw WSGI call, no sockets, no HTTP server): what
each request costs the simulator itself, next to the bare Flask endpoint (bare.py). Companion of
bench.py: bench.py measures the served figures, this one says where the time goes.

    PYTHONPATH=client:simulator:loadtests python loadtests/profile_paths.py            # the table
    PYTHONPATH=client:simulator:loadtests python loadtests/profile_paths.py --profile poll   # + pyinstrument

Paths: bare (framework ceiling), poll (GET /shinsei/v2/apply/{arrive_id}), apply (signed POST
/shinsei/v2/apply), refresh (POST /auth/token grant_type=refresh_token). Each is timed as the
median of several rounds of N calls on a SQLite file in WAL mode, as served.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "client"), str(HERE.parent / "simulator"), str(HERE)]

PROC_ID = "950A010700005000"


def environ(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Callable[[], dict[str, Any]]:
    """A factory of fresh WSGI environs for one request (the body stream is single use)."""
    base = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080", "CONTENT_LENGTH": str(len(body))}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        base[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return lambda: {**base, "wsgi.input": io.BytesIO(body)}


def call(app: Any, env: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(app(env, lambda s, h, exc=None: status.append(s)))
    return status[0], body


class Paths:
    """The simulator and the bare app, with one request factory per path."""

    def __init__(self, folder: Path, bodies: int = 40) -> None:
        import bare
        from egov_format.signing import load_pkcs12
        from egov_sim import Settings, create_app
        from egov_sim.idp.egov_tokens import issue_tokens_for
        from egov_sim.store.models import Account
        from egov_sim.world.demo import certificate_for, load_world
        from egov_sim.world.packages import sample_package
        from sqlalchemy import select

        self.app = create_app(Settings(database_url=f"sqlite:///{folder / 'sim.sqlite'}", data_dir=folder))
        self.bare = bare.create_app()
        svc = self.svc = self.app.extensions["egov_sim"]
        world = load_world(svc)
        assert world is not None
        with svc.db.session() as s:
            account = s.scalars(select(Account.id).where(Account.username == world.account("demo")["username"])).one()
        self.issue = lambda: issue_tokens_for(svc, account, world.client_id, "http://127.0.0.1:8080/auth")
        token = self.issue()["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}
        p12, password, _ = certificate_for(svc, "valid")
        signer = load_pkcs12(p12, password)
        self.bodies = [json.dumps({"proc_id": PROC_ID, "send_file": {"file_name": f"p{i}.zip", "file_data":
                       base64.b64encode(sample_package(svc.catalogue, PROC_ID, signer,
                                                       corporation_name=f"株式会社計測{i:03d}").to_zip()).decode()}})
                       .encode() for i in range(bodies)]
        status, body = call(self.app, self.apply_env(0)())
        assert status.startswith("200"), body
        self.poll_path = f"/shinsei/v2/apply/{json.loads(body)['results']['arrive_id']}"
        self.basic = base64.b64encode(f"{world.client_id}:{world.client_secret}".encode()).decode()

    def apply_env(self, i: int) -> Callable[[], dict[str, Any]]:
        return environ("POST", "/shinsei/v2/apply", {**self.auth, "Content-Type": "application/json"},
                       self.bodies[i % len(self.bodies)])

    def refresh_env(self, refresh_token: str) -> Callable[[], dict[str, Any]]:
        return environ("POST", "/auth/token", {"Authorization": f"Basic {self.basic}",
                                               "Content-Type": "application/x-www-form-urlencoded"},
                       f"grant_type=refresh_token&refresh_token={refresh_token}".encode())

    def runner(self, name: str, n: int) -> Callable[[], None]:
        """A closure that performs `n` requests of path `name` (checking each answers 200)."""
        if name == "bare":
            make = environ("GET", "/bare/1", {})
            return lambda: self._loop(self.bare, [make] * n)
        if name == "poll":
            make = environ("GET", self.poll_path, self.auth)
            return lambda: self._loop(self.app, [make] * n)
        if name == "apply":
            makers = [self.apply_env(i) for i in range(n)]
            return lambda: self._loop(self.app, makers)
        if name == "refresh":  # the refresh tokens to use up are issued here, outside the timing
            makers = [self.refresh_env(self.issue()["refresh_token"]) for _ in range(n)]
            return lambda: self._loop(self.app, makers)
        raise ValueError(name)

    @staticmethod
    def _loop(app: Any, makers: list[Callable[[], dict[str, Any]]]) -> None:
        for make in makers:
            status, body = call(app, make())
            if not status.startswith("200"):
                raise RuntimeError(f"{status}: {body[:300]!r}")


def time_path(paths: Paths, name: str, n: int, rounds: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median µs per request over `rounds` rounds of `n` requests (`clock`: wall or this process's CPU time)."""
    per: list[float] = []
    for _ in range(rounds):
        run = paths.runner(name, n)
        t0 = clock()
        run()
        per.append((clock() - t0) / n * 1e6)
    return statistics.median(per)


COUNTS = {"bare": 3000, "poll": 2000, "apply": 100, "refresh": 100}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", default="bare,poll,apply,refresh")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", help="a path to profile with pyinstrument after the table")
    ap.add_argument("--cpu", action="store_true",
                    help="time with this process's CPU time, not the wall clock (steadier on a busy machine)")
    opts = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="egov-profile-"))
    paths = Paths(folder)
    names = [p for p in opts.paths.split(",") if p]
    for name in names:  # warm up: caches, compiled SQL, imports
        time_path(paths, name, max(COUNTS[name] // 10, 5), 1)
    clock = time.process_time if opts.cpu else time.perf_counter
    print(f"{'path':<10} {'µs/request':>11} {'req/s (1 core)':>15}" + ("  (CPU time)" if opts.cpu else ""))
    for name in names:
        us = time_path(paths, name, COUNTS[name], opts.rounds, clock)
        print(f"{name:<10} {us:>11.1f} {1e6 / us:>15,.0f}")
    if opts.profile:
        from pyinstrument import Profiler

        run = paths.runner(opts.profile, COUNTS[opts.profile])
        profiler = Profiler(interval=0.0001)
        profiler.start()
        run()
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    paths.svc.db.dispose()


if __name__ == "__main__":
    main()
