"""World creation time: p50/p99 of POST /__admin/worlds over N creations on a served simulator
(SQLite, or the PostgreSQL database given with --database), next to its peer, a reset of the default world (POST /__admin/reset), and world deletion.
Target: creation < 50 ms.

    python loadtests/bench_worlds.py             # N = 50
    python loadtests/bench_worlds.py -n 200
    python loadtests/bench_worlds.py --database postgresql+psycopg://egov@127.0.0.1:5432/egov
    python loadtests/bench_worlds.py --database throwaway   # a throw-away cluster (loadtests/pgcluster.py)

It serves `egov-sim serve` (gunicorn, one worker) in a temporary data directory on a free loopback
port, makes one world first (the template is made then, once per data directory: reported apart),
then times N creations, N default-world resets and N deletions one after another, and stops the server.
On PostgreSQL a world claims a schema made ahead (worlds_pg.py: `world_spares`, 6 kept ready, made by
`egov-sim serve` before it serves and refilled in the background) or is built in place: back-to-back
creations soon outrun the refill. So first a burst paced like a test suite is timed (BURST creations:
WORKERS at once, as xdist workers start, the rest SUITE_PACE seconds apart), then the N back-to-back,
then up to 10 more PACE seconds apart.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
EGOV_SIM = Path(sys.executable).parent / "egov-sim"
PACE = 2.0  # seconds between paced creations on PostgreSQL: time for its spare schema to be remade
BURST, WORKERS, SUITE_PACE = 10, 4, 1.0  # the -n 4 feature run makes about one world a second


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(http: httpx.Client, method: str, url: str, expect: int) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = http.request(method, url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != expect:
        raise SystemExit(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return elapsed, response


def _row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{name:<34} {len(times):>5} {statistics.median(ordered):>9.1f} {p99:>9.1f} {max(ordered):>9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="creations (and resets, deletions) to time, 1–500")
    parser.add_argument("--database", default="", help="a PostgreSQL URL (worlds are schemas there), or "
                        "'throwaway' for a throw-away cluster; default: the data directory's SQLite")
    args = parser.parse_args()
    n = max(1, min(args.n, 500))
    if args.database == "throwaway":
        from pgcluster import throwaway_cluster

        with throwaway_cluster() as cluster:
            _bench(n, cluster.url)
    else:
        _bench(n, args.database)


def _bench(n: int, database: str) -> None:
    import os

    env = {**os.environ, "EGOV_SIM_DATABASE_URL": database} if database else None
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-worlds-") as data:
        log = (Path(data) / "serve.log").open("wb")
        proc = subprocess.Popen([str(EGOV_SIM), "serve", "--port", str(port), "--data-dir", data, "--quiet"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            with httpx.Client(timeout=60) as http:
                deadline = time.monotonic() + 90
                while True:
                    try:
                        if http.get(f"{url}/__admin/clock").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("egov-sim serve did not come up: " + (Path(data) / "serve.log").read_text())
                    time.sleep(0.2)
                burst: list[float] = []
                ids: list[str] = []
                for i in range(BURST if database else 0):  # the pool as `egov-sim serve` left it
                    if i >= WORKERS:
                        time.sleep(SUITE_PACE)
                    elapsed, made = _timed(http, "POST", f"{url}/__admin/worlds", 201)
                    burst.append(elapsed)
                    ids.append(made.json()["id"])
                first, made = _timed(http, "POST", f"{url}/__admin/worlds", 201)
                ids.append(made.json()["id"])
                creations, paced, resets, deletions = [], [], [], []
                for _ in range(n):
                    elapsed, made = _timed(http, "POST", f"{url}/__admin/worlds", 201)
                    creations.append(elapsed)
                    ids.append(made.json()["id"])
                for _ in range(min(n, 10) if database else 0):  # a spare schema made ready in between
                    time.sleep(PACE)
                    elapsed, made = _timed(http, "POST", f"{url}/__admin/worlds", 201)
                    paced.append(elapsed)
                    ids.append(made.json()["id"])
                for _ in range(n):
                    resets.append(_timed(http, "POST", f"{url}/__admin/reset", 200)[0])
                for world_id in ids:
                    deletions.append(_timed(http, "DELETE", f"{url}/__admin/worlds/{world_id}", 204)[0])
        finally:
            proc.terminate()
            proc.wait(30)
    backend = "PostgreSQL (a schema each)" if database else "SQLite"
    print(f"worlds on {backend}, served by egov-sim serve (gunicorn, 1 worker) at {url}; milliseconds, over HTTP")
    print(f"{'operation':<34} {'n':>5} {'p50':>9} {'p99':>9} {'max':>9}")
    first_name = "first world" if database else "first world (makes the template)"
    if burst:
        print(_row(f"burst: {WORKERS} at once, {SUITE_PACE:.0f} s apart", burst))
    print(f"{first_name:<34} {1:>5} {first:>9.1f}")
    print(_row("POST /__admin/worlds", creations))
    if paced:
        print(_row(f"  … {PACE:.0f} s apart (spare ready)", paced))
    print(_row("POST /__admin/reset (default)", resets))
    print(_row("DELETE /__admin/worlds/{id}", deletions))
    p50 = statistics.median(paced or creations)
    print(f"creation p50 {p50:.1f} ms: {'within' if p50 < 50 else 'OVER'} the 50 ms target")
    if burst:
        print(f"burst max {max(burst):.1f} ms: {'within' if max(burst) < 50 else 'OVER'} the 50 ms target")


if __name__ == "__main__":
    main()
