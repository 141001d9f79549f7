"""Other requests' latency while one request hangs (issue 13 item 16): `egov-sim serve` with its
default server and threads, a `hang` fault holding one request for --hang seconds (the client waits
it out), and meanwhile the admin API and an authenticated poll measured back to back. Prints p50,
p99 and max per kind. Bounded: --hang seconds (default 60) and at most --max-requests per kind.

    python loadtests/hang_p99.py                 # 60 s hang
    python loadtests/hang_p99.py --hang 10       # shorter, for a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import free_port, prepare, simulator_cmd, start_server


def measure(base: str, path: str, headers: dict[str, str], until: float, limit: int) -> tuple[list[float], int]:
    times: list[float] = []
    errors = 0
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        while time.monotonic() < until and len(times) < limit:
            t0 = time.perf_counter()
            try:
                ok = client.get(path).status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append((time.perf_counter() - t0) * 1000)
            errors += not ok
    return times, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hang", type=float, default=60.0, help="seconds the fault holds one request")
    ap.add_argument("--max-requests", type=int, default=50_000, help="per kind")
    ap.add_argument("--server", default=None, help="default: egov-sim serve's own default")
    opts = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="egov-hang-"))
    port = free_port()
    sim = None
    try:
        prep = prepare(tmp, port, bodies=1, refresh_tokens=0)
        cmd = simulator_cmd(tmp, port, argparse.Namespace(workers=1, server="", threads=0))
        cmd = cmd[:cmd.index("--workers")]  # serve's own defaults for server, workers and threads
        if opts.server:
            cmd += ["--server", opts.server]
        auth = {"Authorization": f"Bearer {prep.token}"}
        sim = start_server(cmd, port, prep.poll_path, tmp / "sim.log", headers=auth)
        base = sim.base
        rule = {"match": {"method": "GET", "path": "/auth/certs"}, "action": {"hang": True, "seconds": opts.hang},
                "times": 1}
        assert httpx.post(f"{base}/__admin/faults", json=rule).status_code == 201
        held: dict[str, float] = {}

        def hold() -> None:
            t0 = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{base}/auth/certs", timeout=opts.hang + 30)
            held["seconds"] = time.monotonic() - t0

        holder = threading.Thread(target=hold)
        holder.start()
        time.sleep(0.2)
        until = time.monotonic() + opts.hang - 0.5
        out: dict[str, tuple[list[float], int]] = {}
        kinds = {"admin GET /__admin/clock": ("/__admin/clock", {}),
                 "API GET /shinsei/v2/apply/{id} (authenticated)": (prep.poll_path, auth)}
        threads = [threading.Thread(target=lambda k=k, p=p, h=h: out.__setitem__(
            k, measure(base, p, h, until, opts.max_requests))) for k, (p, h) in kinds.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        holder.join(opts.hang + 40)
        print(f"server: {opts.server or 'egov-sim serve default'}; one request held by a hang fault for "
              f"{held.get('seconds', float('nan')):.1f} s (fault: {opts.hang:.0f} s)")
        print(f"{'requests during the hang':<50} {'n':>7} {'err':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for kind, (times, errors) in out.items():
            p99 = statistics.quantiles(times, n=100)[98] if len(times) >= 100 else max(times)
            print(f"{kind:<50} {len(times):>7} {errors:>4} {statistics.median(times):>8.2f} {p99:>8.2f} "
                  f"{max(times):>8.2f}")
        return 0
    finally:
        if sim is not None:
            sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
