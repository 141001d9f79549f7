"""Print what `POST /__admin/reset` costs on a separately started simulator (what the conformance
harness pays before each scenario with `--egov-target URL`).

    PYTHONPATH=client:simulator python scripts/bench_reset.py [RESETS]

Starts `egov-sim serve` on a free loopback port with a fresh data dir, makes the state dirty
(an application, a fault rule, a maintenance window, a moved clock) before each reset, and prints
the reset's latency (mean, median, max) and the first-start time.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(resets: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGOV_")}
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("client", "simulator"))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "egov_sim.cli", "serve", "--port", str(port),
                                 "--data-dir", folder], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                while True:
                    try:
                        if http.get("/__admin/clock").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
                print(f"first start (demo world created)   {time.perf_counter() - started:8.3f} s")
                times = []
                for _ in range(resets):
                    http.post("/__admin/clock", json={"advance": "P3D"})
                    http.post("/__admin/faults", json={"action": {"latency": 0}})
                    http.post("/__admin/maintenance", json={"start": "2030-01-01T00:00:00", "duration": "PT1H"})
                    t0 = time.perf_counter()
                    resp = http.post("/__admin/reset")
                    times.append(time.perf_counter() - t0)
                    resp.raise_for_status()
                ms = [t * 1000 for t in times]
                print(f"POST /__admin/reset ({resets}×)         mean {statistics.mean(ms):7.1f} ms   "
                      f"median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
