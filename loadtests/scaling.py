"""Throughput as processes are added (issue 14): signed submissions (POST /apply) and status polls
(GET /apply/{arrive_id}) against `egov-sim serve --server granian --workers N` for N = 1, 2, 4, on
SQLite (WAL, one file) and on PostgreSQL (a throw-away cluster, loadtests/pgcluster.py), with wrk as
in bench.py. Prints one table; each row also says how many answers were not 200 (or socket errors).

    python loadtests/scaling.py                             # both databases, 1 2 4 processes, 5 s a row
    python loadtests/scaling.py --database sqlite --processes 1,2 --duration 3

On a shared 2-core machine the figures are relative: compare rows of one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serveproc
from bench import Result, prepare, run_wrk, statuses
from pgcluster import throwaway_cluster


def measure(database: str, url: str, data_dir: Path, processes: list[int], opts: argparse.Namespace
            ) -> list[tuple[str, int, Result, Result, int]]:
    port = serveproc.free_port()
    prep = prepare(data_dir, port, bodies=40, refresh_tokens=0, database_url=url)
    rows = []
    for n in processes:
        log = data_dir / f"serve-{n}.log"
        proc = serveproc.spawn(data_dir, port, "--workers", str(n), "--server", "granian", database=url, log=log)
        base = f"http://127.0.0.1:{port}"
        try:
            serveproc.wait_ready(base, 90, proc, log)
            poll_env = {"BENCH_TOKEN": prep.token, "BENCH_PATH": prep.poll_path}
            run_wrk("warm-up", f"{base}{prep.poll_path}", duration=2, connections=opts.connections, threads=1,
                    script="poll.lua", env=poll_env)
            run_wrk("warm-up", f"{base}/shinsei/v2/apply", duration=2, connections=opts.apply_connections,
                    threads=1, script="apply.lua", env={"BENCH_TOKEN": prep.token, "BENCH_BODIES": str(prep.bodies_file),
                                                        "BENCH_OUT": str(data_dir / f"warm-{n}")})
            out = str(data_dir / f"apply-{n}")
            apply = run_wrk("apply", f"{base}/shinsei/v2/apply", duration=opts.duration,
                            connections=opts.apply_connections, threads=1, script="apply.lua",
                            env={"BENCH_TOKEN": prep.token, "BENCH_BODIES": str(prep.bodies_file), "BENCH_OUT": out})
            not_ok = sum(1 for line in statuses(out) if not line.startswith("200 ")) + apply.errors
            poll = run_wrk("poll", f"{base}{prep.poll_path}", duration=opts.duration, connections=opts.connections,
                           threads=1, script="poll.lua", env=poll_env)
            rows.append((database, n, apply, poll, not_ok + poll.errors + poll.non_2xx))
        finally:
            serveproc.stop(proc)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--processes", default="1,2,4", help="comma-separated worker process counts")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--connections", type=int, default=32, help="poll connections")
    ap.add_argument("--apply-connections", type=int, default=8)
    opts = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    processes = [int(p) for p in opts.processes.split(",") if p]
    rows: list[tuple[str, int, Result, Result, int]] = []
    skipped = []
    tmp = Path(tempfile.mkdtemp(prefix="egov-scaling-"))
    try:
        if opts.database in ("sqlite", "both"):
            folder = tmp / "sqlite"
            folder.mkdir()
            rows += measure("SQLite", f"sqlite:///{folder / 'egov-sim.sqlite'}", folder, processes, opts)
        if opts.database in ("postgresql", "both"):
            try:
                with throwaway_cluster() as pg:
                    folder = tmp / "pg"
                    folder.mkdir()
                    rows += measure("PostgreSQL", pg.url, folder, processes, opts)
            except FileNotFoundError as exc:
                skipped.append(f"PostgreSQL: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"granian, N worker processes; wrk -t1, {opts.duration:g}s a row; submissions over "
          f"{opts.apply_connections} connections, polls over {opts.connections}")
    print()
    print(f"| {'database':<10} | {'processes':>9} | {'submissions/s':>13} | {'p99 ms':>7} | {'not 200':>7} "
          f"| {'polls/s':>8} | {'p99 ms':>7} |")
    print(f"|{'-' * 12}|{'-' * 11}|{'-' * 15}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 9}|")
    for database, n, apply, poll, not_ok in rows:
        print(f"| {database:<10} | {n:>9} | {apply.rps:>13,.0f} | {apply.p99_ms:>7.1f} | {not_ok:>7} "
              f"| {poll.rps:>8,.0f} | {poll.p99_ms:>7.1f} |")
    for line in skipped:
        print(f"  SKIP  {line}")
    return 1 if any(not_ok for *_, not_ok in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
