"""What the ops middleware (maintenance calendar, fault rules, journal) costs per API request.

Runs GET /shinsei/v2/apply/{arrive_id} in process (WSGI, no network) against a fresh simulator:
without the ops hooks, with them and an empty ops room, and with 5 windows + 20 non-matching
fault rules. Prints requests/second and the mean per-request time. Usage:

    PYTHONPATH=client:simulator python loadtests/bench_ops_overhead.py [requests]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from egov_format.signing import load_pkcs12
from egov_sim import Settings, create_app
from egov_sim.idp.egov_tokens import issue_tokens_for
from egov_sim.ops import middleware
from egov_sim.store.models import Account
from egov_sim.world.demo import certificate_for, load_world
from egov_sim.world.packages import sample_package
from sqlalchemy import select

PROC = "950A010700005000"


def run(client: httpx.Client, path: str, headers: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.status_code
    return times


def busy_app(folder: Path):  # type: ignore[no-untyped-def]
    """A copy of the database in a second app whose ops room has windows and rules."""
    import shutil

    shutil.copy(folder / "sim.sqlite", folder / "busy.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'busy.sqlite'}", data_dir=folder,
                              public_url="http://bench"))
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://bench") as admin:
        for i in range(5):
            admin.post("/__admin/maintenance", json={"start": f"203{i}-01-01T00:00:00", "duration": "PT6H"})
        admin.post("/__admin/maintenance", json={"recurrence": {"weekdays": "weekdays", "start": "03:00",
                                                                "duration": "PT1M", "last": "2000-01-01"}})
        for i in range(20):
            admin.post("/__admin/faults", json={"match": {"path": f"/shinsei/v2/nothing/{i}"},
                                                "action": {"status": 500}})
    return app


def main(n: int = 500) -> None:
    folder = Path(tempfile.mkdtemp())
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'sim.sqlite'}", data_dir=folder,
                              public_url="http://bench"))
    svc = app.extensions["egov_sim"]
    world = load_world(svc)
    assert world is not None
    with svc.db.session() as s:
        account_id = s.scalars(select(Account.id).where(Account.username == world.account("demo")["username"])).one()
    token = issue_tokens_for(svc, account_id, world.client_id, "http://bench/auth")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    p12, password, _ = certificate_for(svc, "valid")
    package = sample_package(svc.catalogue, PROC, load_pkcs12(p12, password))
    import base64

    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://bench") as client:
        body = {"proc_id": PROC, "send_file": {"file_name": "a.zip",
                                                "file_data": base64.b64encode(package.to_zip()).decode()}}
        arrive_id = client.post("/shinsei/v2/apply", json=body, headers=headers).json()["results"]["arrive_id"]
        path = f"/shinsei/v2/apply/{arrive_id}"
        run(client, path, headers, 50)  # warm up
        with svc.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
        before, after = list(app.before_request_funcs[None]), list(app.after_request_funcs[None])
        bare = ([f for f in before if f is not middleware._before], [f for f in after if f is not middleware._after])
        hooked = (before, after)
        second = httpx.Client(transport=httpx.WSGITransport(app=busy_app(folder)), base_url="http://bench")
        configs = {"without ops hooks": (client, bare), "ops hooks, empty ops room": (client, hooked),
                   "6 windows + 20 rules": (second, None)}
        results: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(10):  # interleaved rounds, so a busy machine affects every configuration alike
            for name, (c, hooks) in configs.items():
                if hooks is not None:
                    app.before_request_funcs[None], app.after_request_funcs[None] = hooks
                results[name] += run(c, path, headers, max(n // 10, 1))
        app.before_request_funcs[None], app.after_request_funcs[None] = hooked
        second.close()
    base = statistics.median(results["without ops hooks"])
    print(f"GET /shinsei/v2/apply/{{arrive_id}}, {n} requests each, in process (WSGI), SQLite file")
    for name, times in results.items():
        median = statistics.median(times)
        p95 = sorted(times)[int(len(times) * 0.95)]
        print(f"  {name:<28} {1 / median:8.0f} req/s   median {median * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms"
              f"   overhead {((median - base) * 1000):+.2f} ms")
    svc.db.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
