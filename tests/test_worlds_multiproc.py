"""The feature suite with `-n 4 --egov-isolation world` against two `egov-sim serve` processes on one
throw-away PostgreSQL cluster, behind a round-robin TCP proxy (loadtests/rrproxy.py: a new connection
goes to the next process, as a load balancer without affinity does), so a world made through one
process is used through the other.

The oracles: the Gherkin scenarios themselves (their journal and status assertions now see requests
answered by either process), the proxy's count of connections per process, and PostgreSQL's catalogue
(no world schema is left once every test deleted its world).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pg_cluster import throwaway_cluster
from served import OPT_IN, ROOT, clean_env, server_errors
from sqlalchemy import create_engine, text
from test_worlds import CLASHING

sys.path.insert(0, str(ROOT / "loadtests"))
from rrproxy import round_robin
from serveproc import free_port, serving


@contextmanager
def two_processes(tmp_path: Path) -> Iterator[tuple[Any, str, Any]]:
    """A throw-away cluster, two `egov-sim serve` on it sharing one public URL, and the round-robin proxy
    at that URL in front of them: (cluster, url, proxy)."""
    with throwaway_cluster() as cluster:
        front = free_port()
        url = f"http://127.0.0.1:{front}"
        ports = [free_port(), free_port()]
        for name in ("one", "two"):
            (tmp_path / name).mkdir()
        with serving(tmp_path / "one", "--public-url", url, database=cluster.url, port=ports[0]), \
                serving(tmp_path / "two", "--public-url", url, database=cluster.url, port=ports[1]), \
                round_robin(front, [("127.0.0.1", p) for p in ports]) as proxy:
            yield cluster, url, proxy


SERVED = pytest.mark.skipif(not os.environ.get(OPT_IN), reason=f"serves simulators on a throw-away PostgreSQL: "
                                                              f"set {OPT_IN}=1 (`make test-served`)")


@SERVED
def test_the_feature_suite_runs_with_four_workers_in_worlds_across_two_processes_on_postgresql(
        tmp_path: Path) -> None:
    with two_processes(tmp_path) as (cluster, url, proxy):
        started = time.monotonic()
        done = subprocess.run(
            [str(ROOT / ".venv/bin/pytest"), "features", "-q", "-p", "no:cacheprovider", "-n", "4",
             "--egov-target", url, "--egov-isolation", "world", "--egov-no-report", "-k", CLASHING],
            cwd=ROOT, env=clean_env(PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"), capture_output=True,
            text=True, timeout=1200)
        took = time.monotonic() - started
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:] + server_errors(tmp_path)
        passed = re.search(r"\b(\d+) passed\b", done.stdout)
        assert passed and int(passed.group(1)) >= 20, done.stdout[-500:]
        print(f"\n-n 4 on PostgreSQL across two processes: {passed.group(0)} in {took:.0f}s; "
              f"connections per process {proxy.taken}")
        assert min(proxy.taken) >= sum(proxy.taken) // 4, proxy.taken  # both processes did real work
        assert httpx.get(f"{url}/__admin/worlds", timeout=10).json()["worlds"] == []  # every world deleted
        engine = create_engine(cluster.url)
        try:
            with engine.connect() as conn:
                left = conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'w\\_%'")).scalars()
                assert list(left) == []
        finally:
            engine.dispose()


def test_the_proxy_hands_each_new_connection_to_the_next_backend_and_closes_what_is_left_open() -> None:
    import http.server
    import threading

    def backend(tag: bytes) -> http.server.ThreadingHTTPServer:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(tag)))
                self.end_headers()
                self.wfile.write(tag)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    servers = [backend(b"one"), backend(b"two")]
    port = free_port()
    try:
        with round_robin(port, [("127.0.0.1", s.server_port) for s in servers]) as proxy:
            answers = [httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text for _ in range(4)]
            kept = httpx.Client(timeout=5)  # one connection, two requests: one backend
            assert {kept.get(f"http://127.0.0.1:{port}/").text for _ in range(2)} in ({"one"}, {"two"})
        assert answers == ["one", "two", "one", "two"] and proxy.taken == [3, 2]
        kept.close()
    finally:
        for s in servers:
            s.shutdown()


@SERVED
def test_serve_makes_the_spare_schemas_before_it_serves_and_a_child_refills_them_after_claims(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`world_spares` schemas are ready when `egov-sim serve` answers; claimed ones are remade in the
    background (a child process). The oracle: PostgreSQL's catalogue (pg_namespace)."""
    monkeypatch.setenv("EGOV_SIM_WORLD_SPARES", "3")
    with throwaway_cluster() as cluster:
        engine = create_engine(cluster.url)

        def schemas(prefix: str) -> set[str]:
            with engine.connect() as conn:
                return set(conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                                        {"p": prefix + "\\_%"}).scalars())

        try:
            (tmp_path / "data").mkdir()
            with serving(tmp_path / "data", database=cluster.url, timeout=120) as (url, _proc):
                ready = schemas("s")
                assert len(ready) == 3  # made before the first request was answered
                made = [httpx.post(f"{url}/__admin/worlds", timeout=60).json()["id"] for _ in range(3)]
                assert not ready & schemas("s")  # all three claimed (renamed), none built in place
                assert schemas("w") == {f"w_{m}" for m in made}
                deadline = time.monotonic() + 90
                while len(schemas("s")) < 3 and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert len(schemas("s")) == 3  # the pool is whole again
                for m in made:
                    assert httpx.delete(f"{url}/__admin/worlds/{m}", timeout=60).status_code == 204
                assert schemas("w") == set()
        finally:
            engine.dispose()


@SERVED
def test_a_worlds_journal_on_postgresql_holds_the_requests_either_process_answered(tmp_path: Path) -> None:
    """Each request on a connection of its own through the proxy (so they alternate between the two
    processes); the world's journal (a table in its schema), read through either, holds all of them.
    The proxy's count shows both processes answered; PostgreSQL's own count of the table is the oracle."""
    with two_processes(tmp_path) as (cluster, url, proxy):
        world = httpx.post(f"{url}/__admin/worlds", timeout=60).json()
        before = sum(proxy.taken)
        for i in range(6):  # a wrong secret: 401 from the world's auth server, journaled in the world
            r = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials", "n": str(i)},
                           auth=(world["client_id"], "wrong"), timeout=30)
            assert r.status_code in (400, 401), r.text
        assert sum(proxy.taken) - before == 6 and proxy.taken[0] >= 3 and proxy.taken[1] >= 3
        for _ in range(2):  # read through each process in turn
            found = httpx.get(f"{url}/__admin/worlds/{world['id']}/requests", params={"path": "/auth/token"},
                              timeout=30).json()["requests"]
            assert len(found) == 6 and len({e["id"] for e in found}) == 6
        default = httpx.get(f"{url}/__admin/requests", params={"path": "/auth/token"}, timeout=30).json()
        assert default["requests"] == []  # the default world's journal has none of them
        engine = create_engine(cluster.url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(text(f'SELECT count(*) FROM "w_{world["id"]}".egov_journal '
                                           "WHERE path = '/auth/token'")).scalar()
        finally:
            engine.dispose()
        assert stored == 6
        assert httpx.delete(f"{url}/__admin/worlds/{world['id']}", timeout=60).status_code == 204
