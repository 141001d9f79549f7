"""How fast the GビズID OP simulator serves logins (prints figures; asserts nothing).

    PYTHONPATH=client:simulator python loadtests/bench_gbizid.py [--logins 200] [--workers 8]

Starts the simulator on a loopback port (threaded werkzeug, SQLite file in a temp dir), then:
- full logins: authorize → password → SMS code from the outbox → code exchange → userinfo, each
  with its own browser session (what a busy morning of 二要素 logins costs);
- userinfo and token refresh on one grant (the steady-state RP calls).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from egov_client.gbizid import GbizIdClient, login_with_gbizid_form, simulator, simulator_one_time_code
from egov_sim import Settings, create_app
from egov_sim.world.demo import load_world
from werkzeug.serving import make_server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, seconds: list[float], wall: float) -> None:
    print(f"{name:<28} n={len(seconds):<5} {len(seconds) / wall:8.1f}/s   p50 {statistics.median(seconds) * 1000:7.1f} ms"
          f"   p95 {percentile(seconds, 0.95) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="bench-gbizid-"))
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'sim.sqlite'}", data_dir=folder))
    world = load_world(app.extensions["egov_sim"])
    assert world is not None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    svc = app.extensions["egov_sim"]
    svc.settings = svc.settings.with_(public_url=base)  # the socket is the public URL (issuer, discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rp = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    member = next(a for a in world.gbizid["accounts"] if a["alias"] == "member")
    provider = simulator(base).with_credentials(rp["client_id"], rp["client_secret"], rp["redirect_uris"][0])

    prime = next(a for a in world.gbizid["accounts"] if a["alias"] == "prime")
    users = []  # one member per login: an SMS code in the outbox belongs to exactly one login
    with httpx.Client(base_url=base) as admin:
        for i in range(args.logins):
            created = admin.post(f"/__admin/gbizid/accounts/{prime['account_id']}/members", json={
                "account_id": f"bench{i}@example.jp", "sms_number": f"090{i:08d}", "user_last_nm": "負荷",
                "user_first_nm": f"{i}"}).json()
            users.append((created["account_id"], created["password"]))

    def one_login(i: int) -> float:
        account_id, password = users[i]
        started = time.perf_counter()
        with httpx.Client() as browser:
            client = GbizIdClient(provider, http=browser)
            authorization = client.authorization("openid profile user email offline_access")
            callback = login_with_gbizid_form(browser, authorization, account_id, password,
                                              simulator_one_time_code(browser, base, account_id))
            client.userinfo(client.callback(callback, authorization).access_token)
        return time.perf_counter() - started

    try:
        with ThreadPoolExecutor(args.workers) as pool:
            wall = time.perf_counter()
            logins = list(pool.map(one_login, range(args.logins)))
            report("two-factor login + userinfo", logins, time.perf_counter() - wall)
        with httpx.Client(limits=httpx.Limits(max_connections=args.workers)) as http:
            client = GbizIdClient(provider, http=http)  # shared: httpx.Client is thread-safe
            authorization = client.authorization("openid profile user email offline_access")
            callback = login_with_gbizid_form(http, authorization, member["account_id"], member["password"],
                                              simulator_one_time_code(http, base, member["account_id"]))
            tokens = client.callback(callback, authorization)  # discovery and JWKS are cached from here on
            for name, call in (("userinfo", lambda: client.userinfo(tokens.access_token)),
                               ("refresh (no rotation)", lambda: client.refresh(tokens.refresh_token))):
                def timed(_: int, call=call) -> float:
                    started = time.perf_counter()
                    call()
                    return time.perf_counter() - started
                with ThreadPoolExecutor(args.workers) as pool:
                    wall = time.perf_counter()
                    seconds = list(pool.map(timed, range(args.calls)))
                    report(name, seconds, time.perf_counter() - wall)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
