"""Integrity soak (issue 14): N `egov-sim serve` processes on one throw-away PostgreSQL, a bounded
threaded driver of signed submissions spread over them, and in the middle a `kill -9` of one
process (restarted on its port) and a PostgreSQL restart. Then the check, printed as one table:
every 200 is retrievable from every process, arrive_ids are unique, rows = accepted (+ at most the
sends whose answer was lost), 0 lost, 0 duplicated; and what the outage answered (503 + Retry-After).

    python loadtests/integrity.py                       # 2 processes × 2 workers, 30 s
    python loadtests/integrity.py --duration 10         # the CI-sized run
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serveproc
from serveproc import free_port, wait_ready

UNKNOWN = "送信結果を確認できませんでした"  # egov_sim/filing/landed.py: the commit's outcome unknown
UNKNOWN_KIND = "500 outcome unknown (commit unacknowledged)"


def spawn(data_dir: Path, port: int, url: str, workers: int, log: Path, public_url: str) -> subprocess.Popen[bytes]:
    return serveproc.spawn_granian(data_dir, port, workers, url, log, "--public-url", public_url)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="per process")
    ap.add_argument("--threads", type=int, default=8, help="driver threads")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--max-sends", type=int, default=100_000)
    opts = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="egov-integrity-"))
    procs: dict[int, subprocess.Popen[bytes]] = {}
    try:
        ports = [free_port() for _ in range(opts.processes)]
        with serveproc.prepared_postgresql(tmp, ports[0], bodies=64) as (pg, prep):
            bodies = prep.bodies_file.read_text().splitlines()
            for port in ports:
                # one deployment, one public URL (the token's issuer) for every process
                procs[port] = spawn(tmp, port, pg.url, opts.workers, tmp / f"sim{port}.log",
                              f"http://127.0.0.1:{ports[0]}")
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base in bases:
                wait_ready(base)
            auth = {"Authorization": f"Bearer {prep.token}", "Content-Type": "application/json"}
            accepted: list[str] = []
            outcomes: collections.Counter[str] = collections.Counter()
            lock = threading.Lock()
            stop_at = time.monotonic() + opts.duration
            sent = iter(range(opts.max_sends))

            def drive(worker: int) -> None:
                clients = [httpx.Client(base_url=b, headers=auth, timeout=30) for b in bases]
                for n in sent:
                    if time.monotonic() > stop_at:
                        break
                    try:
                        r = clients[n % len(clients)].post("/shinsei/v2/apply", content=bodies[n % len(bodies)])
                        kind = f"{r.status_code}" + (" +Retry-After" if r.headers.get("Retry-After") else "")
                        if r.status_code == 500 and UNKNOWN in r.text:  # the commit's answer lost (landed.py)
                            kind = UNKNOWN_KIND
                        if r.status_code == 200:
                            with lock:
                                accepted.append(r.json()["results"]["arrive_id"])
                    except httpx.TransportError:
                        kind = "answer lost (connection)"
                    with lock:
                        outcomes[kind] += 1
                for c in clients:
                    c.close()

            driver = [threading.Thread(target=drive, args=(i,)) for i in range(opts.threads)]
            for t in driver:
                t.start()
            events: list[str] = []
            time.sleep(opts.duration / 3)
            victim = ports[-1]
            os.kill(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait(10)
            events.append(f"t≈{opts.duration / 3:.0f}s kill -9 of the process on :{victim}")
            for _ in range(100):  # its workers follow their main process; then the port is free again
                procs[victim] = spawn(tmp, victim, pg.url, opts.workers, tmp / f"sim{victim}.log", bases[0])
                time.sleep(1.0)
                if procs[victim].poll() is None:
                    break
            time.sleep(max(0.0, stop_at - time.monotonic() - opts.duration / 3))
            t0 = time.monotonic()
            pg.stop("fast")
            time.sleep(1.0)
            pg.start()
            events.append(f"PostgreSQL stopped and started ({time.monotonic() - t0:.1f}s)")
            for t in driver:
                t.join(opts.duration + 60)
            for port, base in zip(ports, bases, strict=True):
                try:
                    wait_ready(base, proc=procs[port], log=tmp / f"sim{port}.log")
                except (TimeoutError, RuntimeError):
                    print(f"--- {base} did not come back; its log:\n{(tmp / f'sim{port}.log').read_text()[-6000:]}",
                          file=sys.stderr)
                    raise
            # the check
            missing: dict[str, int] = {}
            for base in bases:
                with httpx.Client(base_url=base, headers=auth, timeout=30) as c:
                    missing[base] = sum(c.get(f"/shinsei/v2/apply/{a}").status_code != 200 for a in accepted)
            rows = subprocess.run([str(pg.bin / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "egov", "-d", "egov", "-tAc",
                                   "SELECT count(*), count(DISTINCT arrive_id) FROM applications"],
                                  capture_output=True, text=True, check=True).stdout.strip().split("|")
            total, distinct = int(rows[0]) - 1, int(rows[1]) - 1  # less prepare()'s one application
            lost_answers = outcomes["answer lost (connection)"] + outcomes[UNKNOWN_KIND]
            table = [
                ("processes × workers", f"{opts.processes} × {opts.workers} (granian) on PostgreSQL"),
                ("events", "; ".join(events)),
                ("answers", json.dumps(dict(outcomes.most_common()), ensure_ascii=False)),
                ("accepted (200)", str(len(accepted))),
                ("duplicated arrive_ids among 200s", str(len(accepted) - len(set(accepted)))),
                ("rows in PostgreSQL", f"{total} ({distinct} distinct)"),
                ("lost (200 but not retrievable)", ", ".join(f"{b}: {m}" for b, m in missing.items())),
                ("rows beyond the 200s", f"{total - len(accepted)} (sends whose outcome was unknown: {lost_answers})"),
            ]
            ok = (len(set(accepted)) == len(accepted) and all(m == 0 for m in missing.values())
                  and total == distinct and 0 <= total - len(accepted) <= lost_answers
                  and not any(k.startswith("500") and k != UNKNOWN_KIND for k in outcomes))
            width = max(len(k) for k, _ in table)
            for k, v in table:
                print(f"{k:<{width}}  {v}")
            print(f"{'result':<{width}}  {'OK' if ok else 'FAILED'}")
            return 0 if ok else 1
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
