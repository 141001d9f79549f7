"""Cold start of `egov-sim serve`, phase by phase: where the time from spawn to the first answer goes.

    python loadtests/cold_start.py             # 5 runs of each, medians
    python loadtests/cold_start.py -n 9 --server gunicorn

Two measurements, each a median of N fresh processes on one prepared data dir (bench.py's `prepare`:
the demo world, a token, one application to poll):

- phases: a child interpreter runs the real `egov-sim serve` code path (cli.main) with timers around
  its steps and the server start replaced by a stop; then what a worker does (the app factory) and the
  first poll, refresh and apply answered through the app. Each first answer is checked (200 and its body).
- total: what bench.py reports as cold start, spawn of `egov-sim serve` (granian, 2 workers by default)
  → the first answer of the bench's probe (the poll with its token), the same `start_server`.

Bytecode is compiled first (compileall: what pip does for an installed wheel). The machine is shared:
besides wall-clock medians the script prints the server's CPU time (user+sys, start to stop).

The rest (total − the parent's phases) is the server's own start: importing and starting granian or
gunicorn, forking the workers and their app factory, the first request over the socket.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

PHASES = ("interpreter", "import egov_sim.cli", "import app, world, serving", "settings", "parent create_app", "load_world + remember_url",
          "parent total (to server start)", "worker create_app", "first poll", "first refresh", "first apply")


def child(data_dir: Path, port: int, token: str, poll_path: str, basic: str, refresh: str, body: str,
          server: str, workers: int, started: float) -> dict[str, float]:
    """In a fresh interpreter: the serve path with timers, then a worker's app and its first answers."""
    marks: dict[str, float] = {"interpreter": time.perf_counter() - started}
    t = time.perf_counter()
    from egov_sim import cli

    marks["import egov_sim.cli"] = time.perf_counter() - t
    t = time.perf_counter()
    os.environ["EGOV_SIM_SQLITE_ONLY"] = "1"  # what serve imports before its work, as it does on SQLite (cli.py)
    from egov_sim import app as app_module
    from egov_sim import serving
    from egov_sim.world import demo

    del os.environ["EGOV_SIM_SQLITE_ONLY"]
    marks["import app, world, serving"] = time.perf_counter() - t

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                marks[name] = marks.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    class Stop(Exception):
        pass

    def stop(*a, **kw):  # type: ignore[no-untyped-def]
        raise Stop

    real_create_app = app_module.create_app
    cli._settings = timed("settings", cli._settings)
    app_module.create_app = timed("parent create_app", real_create_app)
    demo.load_world = timed("load_world + remember_url", demo.load_world)
    cli.remember_url = timed("load_world + remember_url", cli.remember_url)
    serving.run = stop
    t = time.perf_counter()
    with contextlib.suppress(Stop):
        cli.main(["serve", "--quiet", "--port", str(port), "--data-dir", str(data_dir), "--database",
                  f"sqlite:///{data_dir / 'egov-sim.sqlite'}", "--server", server, "--workers", str(workers)],
                 standalone_mode=False)
    marks["parent total (to server start)"] = (marks["import egov_sim.cli"] + marks["import app, world, serving"]
                                              + time.perf_counter() - t)
    t = time.perf_counter()
    app = real_create_app()  # a forked worker: modules already imported, settings from the environment
    marks["worker create_app"] = time.perf_counter() - t
    client = app.test_client()
    t = time.perf_counter()
    r = client.get(poll_path, headers={"Authorization": f"Bearer {token}"})
    marks["first poll"] = time.perf_counter() - t
    assert r.status_code == 200 and r.get_json()["results"]["arrive_id"], r.get_data(as_text=True)
    t = time.perf_counter()
    r = client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh},
                    headers={"Authorization": f"Basic {basic}"})
    marks["first refresh"] = time.perf_counter() - t
    assert r.status_code == 200 and r.get_json()["access_token"], r.get_data(as_text=True)
    t = time.perf_counter()
    r = client.post("/shinsei/v2/apply", data=body, headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json"})
    marks["first apply"] = time.perf_counter() - t
    assert r.status_code == 200 and r.get_json()["results"]["arrive_id"], r.get_data(as_text=True)
    app.extensions["egov_sim"].db.dispose()
    return marks


def wait_port_free(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"port {port} still answers {timeout:.0f}s after the server was stopped")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=5, help="fresh processes per measurement (1–50)")
    ap.add_argument("--server", default="granian", choices=["granian", "gunicorn"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the medians here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.child:
        spec = json.loads(Path(opts.child).read_text())
        spec["data_dir"] = Path(spec["data_dir"])
        print(json.dumps(child(**spec, started=float(os.environ["COLD_START_T0"]))))
        return 0
    runs = max(1, min(opts.runs, 50))
    # bytecode as an installed wheel has it (with PYTHONDONTWRITEBYTECODE=1 nothing else writes it, and
    # every start would compile ~150 modules first); a no-op when it is up to date
    compiled = subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "client"), str(ROOT / "simulator")],
                              capture_output=True, timeout=300)
    if compiled.returncode:
        print(f"compileall failed (figures include compiling): {compiled.stdout[-500:]!r}")

    import bench

    with tempfile.TemporaryDirectory(prefix="egov-cold-") as tmp_name:
        tmp = Path(tmp_name)
        port = bench.free_port()
        prep = bench.prepare(tmp, port, bodies=runs, refresh_tokens=runs)
        bodies = prep.bodies_file.read_text().splitlines()
        refresh = prep.refresh_file.read_text().splitlines()
        env = {**os.environ, "PYTHONPATH": bench.PYTHONPATH}
        phases: dict[str, list[float]] = {name: [] for name in PHASES}
        for i in range(runs):
            spec = {"data_dir": str(tmp), "port": port, "token": prep.token, "poll_path": prep.poll_path,
                    "basic": prep.basic, "refresh": refresh[i], "body": bodies[i],
                    "server": opts.server, "workers": opts.workers}
            (tmp / "spec.json").write_text(json.dumps(spec))
            env["COLD_START_T0"] = repr(time.perf_counter())  # perf_counter is CLOCK_MONOTONIC: comparable
            out = subprocess.run([sys.executable, __file__, "--child", str(tmp / "spec.json")], env=env,
                                 capture_output=True, text=True, timeout=120)
            if out.returncode:
                raise SystemExit(f"phase run failed:\n{out.stderr[-3000:]}")
            marks = json.loads(out.stdout.strip().splitlines()[-1])
            for name in PHASES:
                phases[name].append(marks.get(name, 0.0))
        totals, cpu = [], []
        auth = {"Authorization": f"Bearer {prep.token}"}
        for i in range(runs):
            server = bench.start_server(bench.simulator_cmd(tmp, port, opts), port, prep.poll_path,
                                        tmp / f"cold{i}.log", headers=auth, timeout=60)
            totals.append(server.cold_start)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            server.stop()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server and the workers it waited for
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            wait_port_free(port)  # a worker still answering would make the next run look instant
    medians = {name: statistics.median(values) for name, values in phases.items()}
    parent = medians["parent total (to server start)"] + medians["interpreter"]
    total = statistics.median(totals)
    print(f"cold start of egov-sim serve ({opts.server}, {opts.workers} workers), median of {runs} runs")
    for name in PHASES:
        print(f"  {name:<34} {medians[name] * 1000:8.1f} ms")
    print(f"  {'server start, workers, first answer':<34} {(total - parent) * 1000:8.1f} ms  (total − parent)")
    print(f"  {'TOTAL spawn → first 200 (bench)':<34} {total * 1000:8.1f} ms  "
          f"(min {min(totals) * 1000:.0f}, max {max(totals) * 1000:.0f}; target ≤ 1000)")
    print(f"  {'server CPU, spawn → stopped':<34} {statistics.median(cpu) * 1000:8.1f} ms  "
          "(user+sys of the server and its workers, start to stop: less sensitive to a shared machine)")
    if opts.json:
        opts.json.write_text(json.dumps({"medians_s": medians, "totals_s": totals, "cpu_s": cpu, "total_s": total,
                                         "runs": runs, "server": opts.server, "workers": opts.workers}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
