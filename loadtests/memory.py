"""Resident memory of the simulator over many requests and across database outages (issue 14):
`egov-sim serve --server granian --workers W` on a throw-away PostgreSQL; RSS of all its processes
after a warm-up, after N polls (wrk), then after each of `--outages` PostgreSQL stop/start cycles
(requests answered 503 while it is down, then polls again once it is back). Prints one table and
the drift from the warmed-up figure.

    python loadtests/memory.py                          # 200,000 polls, 3 outages
    python loadtests/memory.py --requests 50000 --outages 3 --outage-seconds 3
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serveproc
from bench import run_wrk


def rss_mb(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


def polls(base: str, path: str, token: str, count: int, connections: int) -> int:
    """About `count` polls with wrk (in chunks of a few seconds); returns how many were made."""
    done, env = 0, {"BENCH_TOKEN": token, "BENCH_PATH": path}
    while done < count:
        done += run_wrk("polls", f"{base}{path}", duration=3, connections=connections, threads=1, script="poll.lua",
                        env=env).requests
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=200_000, help="polls in the steady-state phase")
    ap.add_argument("--after-outage", type=int, default=20_000, help="polls after each outage")
    ap.add_argument("--outages", type=int, default=3)
    ap.add_argument("--outage-seconds", type=float, default=3.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--limit", type=float, default=0.10, help="allowed drift from the warmed-up RSS")
    opts = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="egov-memory-"))
    rows: list[tuple[str, int, float, str]] = []
    try:
        port = serveproc.free_port()
        with serveproc.prepared_postgresql(tmp, port, bodies=1) as (pg, prep):
            log = tmp / "serve.log"
            proc = serveproc.spawn_granian(tmp, port, opts.workers, pg.url, log)
            base = f"http://127.0.0.1:{port}"
            try:
                serveproc.wait_ready(base, 90, proc, log)
                auth = {"Authorization": f"Bearer {prep.token}"}
                total = polls(base, prep.poll_path, prep.token, 20_000, opts.connections)
                warm = rss_mb(proc.pid)
                rows.append(("warmed up", total, warm, ""))
                total += polls(base, prep.poll_path, prep.token, opts.requests, opts.connections)
                rows.append((f"after {opts.requests:,} polls", total, rss_mb(proc.pid), ""))
                for i in range(1, opts.outages + 1):
                    pg.stop("fast")
                    answers: collections.Counter[str] = collections.Counter()
                    stop_at = time.monotonic() + opts.outage_seconds
                    with httpx.Client(base_url=base, headers=auth, timeout=10) as c:
                        while time.monotonic() < stop_at:
                            try:
                                r = c.get(prep.poll_path)
                                answers[f"{r.status_code}{' +Retry-After' if 'Retry-After' in r.headers else ''}"] += 1
                            except httpx.TransportError:
                                answers["no answer"] += 1
                    pg.start()
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:  # until the workers have reconnected
                        if httpx.get(f"{base}{prep.poll_path}", headers=auth, timeout=10).status_code == 200:
                            break
                        time.sleep(0.2)
                    total += sum(answers.values())
                    total += polls(base, prep.poll_path, prep.token, opts.after_outage, opts.connections)
                    rows.append((f"after outage {i} and {opts.after_outage:,} polls", total, rss_mb(proc.pid),
                                 ", ".join(f"{k}: {v}" for k, v in answers.most_common())))
            finally:
                serveproc.stop(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"granian × {opts.workers} workers on PostgreSQL; RSS = all server processes")
    print()
    width = max(len(r[0]) for r in rows)
    print(f"| {'phase':<{width}} | {'requests':>9} | {'RSS MB':>7} | {'drift':>7} | answers during the outage")
    print(f"|{'-' * (width + 2)}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 27}")
    for name, total, mb, answers in rows:
        print(f"| {name:<{width}} | {total:>9,} | {mb:>7.1f} | {(mb - warm) / warm:>+7.1%} | {answers}")
    drift = (rows[-1][2] - warm) / warm
    print(f"\n  {'PASS' if abs(drift) <= opts.limit else 'MISS'}  RSS within ±{opts.limit:.0%} of the warmed-up "
          f"figure: {warm:.1f} → {rows[-1][2]:.1f} MB ({drift:+.1%})")
    return 0 if abs(drift) <= opts.limit else 1


if __name__ == "__main__":
    sys.exit(main())
