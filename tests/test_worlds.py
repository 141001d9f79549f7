"""Worlds: isolated sandboxes of one server (simulator/egov_sim/worlds.py), over HTTP.

The outside oracles: the unmodified client (EgovClient logs in and submits with a world's credentials
only), the official OpenAPI document (every /shinsei/v2 answer is validated by the `http` fixture's hook),
the e-Gov arrive-id format, and the auth server's answers to a foreign token as the yardstick for a
token of another world.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import BASE
from egov_client import EgovClient
from egov_client.admin import SimulatorAdmin
from egov_client.config import simulator
from egov_sim.world.packages import sample_package
from flask import Flask
from served import OPT_IN, ROOT, clean_env, served, server_errors

PROC = "950A010700005000"
ARRIVE_ID = re.compile(r"^\d{3}\d{4}\d{9}$")  # e-Gov's 到達番号: 3-digit prefix, year, 9-digit number (18 digits)


def _admin(http: httpx.Client, world: str | None = None) -> str:
    return f"/__admin/worlds/{world}" if world else "/__admin"


def _create(http: httpx.Client) -> dict:
    r = http.post("/__admin/worlds")
    assert r.status_code == 201, r.text
    return r.json()


def _login(http: httpx.Client, world: str | None) -> EgovClient:
    """The unmodified client with the world's software credentials and demo account (from its admin API)."""
    demo = http.get(f"{_admin(http, world)}/world").json()
    endpoint = simulator(BASE).with_credentials(demo["client_id"], demo["client_secret"], demo["redirect_uris"][0])
    account = next(a for a in demo["accounts"] if a["alias"] == "demo")
    return EgovClient.login(endpoint, account["username"], account["password"], http=http)


def _submit(egov: EgovClient, sim: Flask, http: httpx.Client, world: str | None) -> str:
    cert = http.get(f"{_admin(http, world)}/certificates/valid").json()
    from egov_format.signing import load_pkcs12

    signer = load_pkcs12(base64.b64decode(cert["p12"]), cert["password"])
    package = sample_package(sim.extensions["egov_sim"].catalogue, PROC, signer)
    return egov.submit(PROC, package.to_zip()).arrive_id


def test_a_world_has_fresh_credentials_is_listed_and_deleted_without_a_trace(sim: Flask, http: httpx.Client,
                                                                            tmp_path: Path) -> None:
    default = http.get("/__admin/world").json()
    made = _create(http)
    assert made["client_id"] != default["client_id"] and made["client_secret"] != default["client_secret"]
    assert set(made["gbizid_clients"]) == {c["client_id"] for c in default["gbizid"]["clients"]}
    inside = http.get(f"/__admin/worlds/{made['id']}/world").json()
    assert (inside["client_id"], inside["client_secret"]) == (made["client_id"], made["client_secret"])
    assert [a["username"] for a in inside["accounts"]] == [a["username"] for a in default["accounts"]]
    assert [w["id"] for w in http.get("/__admin/worlds").json()["worlds"]] == [made["id"]]
    assert http.get(f"/__admin/worlds/{made['id']}").json()["client_id"] == made["client_id"]
    assert (tmp_path / "worlds" / f"{made['id']}.sqlite").exists()

    egov = _login(http, made["id"])  # its credentials work (the routing step found the world)
    assert egov.tokens is not None

    assert http.delete(f"/__admin/worlds/{made['id']}").status_code == 204
    assert http.get("/__admin/worlds").json()["worlds"] == []
    assert not list((tmp_path / "worlds").glob(f"{made['id']}*"))
    # its software is now unknown, exactly as a client id no world has
    gone = http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": egov.tokens.refresh_token},
                     auth=(made["client_id"], made["client_secret"]))
    nobody = http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                       auth=("egov-sandbox-wnobody", made["client_secret"]))
    assert gone.status_code == nobody.status_code == 401
    assert gone.json() == nobody.json()


@pytest.mark.parametrize("path", ["/__admin/worlds/wnope", "/__admin/worlds/wnope/clock",
                                  "/__admin/worlds/wnope/faults", "/__admin/worlds/wnope/reset"])
def test_an_unknown_world_is_a_404_in_the_admin_format(http: httpx.Client, path: str) -> None:
    r = http.post(path) if path.endswith("/reset") else http.get(path)
    assert r.status_code == 404
    body = r.json()
    assert set(body) == {"title", "detail", "instance"} and body["title"] == "Not Found"
    assert http.delete("/__admin/worlds/wnope").status_code == 404


def test_one_worlds_clock_faults_maintenance_and_reset_leave_another_untouched(sim: Flask,
                                                                               http: httpx.Client) -> None:
    top = SimulatorAdmin(BASE, http=http)
    a, b = top.in_world(top.create_world()["id"]), top.in_world(top.create_world()["id"])
    egov_b = _login(http, b.world_id)
    kept = _submit(egov_b, sim, http, b.world_id)
    before = {"b": b.clock()["offset_seconds"], "default": top.clock()["offset_seconds"]}

    # world A: a clock jump, a fault on every submission, a maintenance window now, then a reset
    a.advance("P30D")
    a.add_fault({"status": 500}, method="POST", path="/shinsei/v2/apply")
    a.add_maintenance(a.clock()["now"], duration="PT2H")
    assert a.maintenance()["current"] is not None

    for name, admin in (("b", b), ("default", top)):
        assert abs(admin.clock()["offset_seconds"] - before[name]) < 60
        assert admin.faults() == []
        assert admin.maintenance()["windows"] == [] and admin.maintenance()["current"] is None
    assert a.clock()["offset_seconds"] > 29 * 86400

    second = _submit(egov_b, sim, http, b.world_id)  # B submits, through A's fault and maintenance
    assert second != kept
    assert not any(e["path"] == "/shinsei/v2/apply" for e in a.requests())  # B's requests: B's journal
    assert sum(e["path"] == "/shinsei/v2/apply" for e in b.requests()) == 2

    a.reset()
    assert abs(a.clock()["offset_seconds"]) < 29 * 86400 and a.faults() == [] and a.maintenance()["windows"] == []
    assert egov_b.get_application(kept).arrive_id == kept  # A's reset did not reach B
    assert a.world()["client_id"] != b.world()["client_id"]  # and A kept its own credentials
    top.reset()  # a reset of the default world leaves both worlds
    assert egov_b.get_application(kept).arrive_id == kept
    assert len(top.worlds()) == 2


def test_a_token_or_client_of_one_world_is_refused_in_another_as_a_foreign_one(sim: Flask,
                                                                               http: httpx.Client) -> None:
    a, b = _create(http), _create(http)
    egov_a, egov_default = _login(http, a["id"]), _login(http, None)
    for tokens in (egov_a.tokens, egov_default.tokens):  # A's refresh token, and a foreign (default world's)
        assert tokens is not None
    as_b = {"auth": (b["client_id"], b["client_secret"])}
    mine = http.post("/auth/token", data={"grant_type": "refresh_token",
                                          "refresh_token": egov_a.tokens.refresh_token}, **as_b)
    foreign = http.post("/auth/token", data={"grant_type": "refresh_token",
                                             "refresh_token": egov_default.tokens.refresh_token}, **as_b)
    assert mine.status_code == foreign.status_code == 400
    assert mine.json() == foreign.json()
    # A's access token introspected by B: inactive, as the default world's
    seen = [http.post("/auth/token/introspect", data={"token": t.access_token}, **as_b).json()
            for t in (egov_a.tokens, egov_default.tokens)]
    assert seen[0] == seen[1] == {"active": False}
    # A's software ID with B's API key: the client authentication fails, as with any wrong key
    wrong = http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                      auth=(a["client_id"], b["client_secret"]))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_arrive_ids_and_send_numbers_are_unique_across_worlds_in_e_govs_format(sim: Flask,
                                                                              http: httpx.Client) -> None:
    worlds = [None, _create(http)["id"], _create(http)["id"]]
    sent = []
    for world in worlds:
        egov = _login(http, world)
        arrived = {_submit(egov, sim, http, world) for _ in range(2)}
        day = egov.get_application(next(iter(arrived))).arrive_date.date()
        page = egov.list_applications(date_from=day, date_to=day)  # 申請案件一覧: with their send numbers
        sent += [(app.arrive_id, app.send_number) for app in page.applications if app.arrive_id in arrived]
    arrive_ids, send_numbers = [s[0] for s in sent], [s[1] for s in sent]
    assert all(ARRIVE_ID.match(x) for x in arrive_ids), arrive_ids
    assert all(re.fullmatch(r"\d{18}", x) for x in send_numbers), send_numbers
    assert len(set(arrive_ids)) == len(set(send_numbers)) == 6


def test_in_world_makes_services_answer_that_world(sim: Flask, http: httpx.Client) -> None:
    from egov_sim.services import services
    from egov_sim.worlds import UnknownWorld, in_world, list_worlds

    made = _create(http)
    with sim.test_request_context("/"):
        default_db = services().db
        assert [w["id"] for w in list_worlds()] == [made["id"]]
        with in_world(made["id"]) as world:
            assert world is not None and services() is world.services and services().db is not default_db
        assert services().db is default_db
        with pytest.raises(UnknownWorld), in_world("wnope"):
            pass


def test_admin_writes_made_at_once_on_a_fresh_server_all_succeed(live_server: str, tmp_path: Path) -> None:
    """The first admin writes of a server each record a new ops generation and the latency profile:
    made at once, none may fail on the other's insert (the CI run where two POST /__admin/worlds
    answered 500). The rows are counted with sqlite3, not through the simulator."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    start = Barrier(12)

    def write(i: int) -> int:
        start.wait()
        if i % 4 == 3:
            return httpx.post(f"{live_server}/__admin/worlds", timeout=60).status_code
        return httpx.put(f"{live_server}/__admin/latency", json={"profile": "off"}, timeout=60).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(write, range(12)))
    assert codes == [200, 200, 200, 201] * 3
    with sqlite3.connect(tmp_path / "sim.sqlite") as db:
        keys = dict(db.execute("SELECT key, count(*) FROM settings_kv WHERE key IN ('ops.generation', "
                               "'ops.latency') GROUP BY key").fetchall())
    assert keys == {"ops.generation": 1, "ops.latency": 1}
    assert len(httpx.get(f"{live_server}/__admin/worlds").json()["worlds"]) == 3


def test_the_world_commands_create_list_and_delete_on_a_running_server(live_server: str) -> None:
    from click.testing import CliRunner
    from egov_sim.cli import main

    runner = CliRunner()
    made = runner.invoke(main, ["world", "create", "--url", live_server, "--json"])
    assert made.exit_code == 0, made.output
    world_id = json.loads(made.stdout)["id"]
    listed = runner.invoke(main, ["world", "list", "--url", live_server])
    assert listed.exit_code == 0 and listed.stdout.split()[0] == world_id
    assert httpx.get(f"{live_server}/__admin/worlds/{world_id}/clock").status_code == 200
    gone = runner.invoke(main, ["world", "delete", "--url", live_server, world_id])
    assert gone.exit_code == 0 and httpx.get(f"{live_server}/__admin/worlds/{world_id}/clock").status_code == 404
    again = runner.invoke(main, ["world", "delete", "--url", live_server, world_id])
    assert again.exit_code == 1 and "unknown world" in again.output


# scenarios that move the clock, open maintenance windows, add faults or log in through GビズID: the ones
# that broke each other on one shared server (the whole suite with -n 4 takes ~7 min on a loaded 2-core box)
CLASHING = "メンテナンス or 期限 or 障害 or 返戻 or トークン or GビズID or gビズid"


@pytest.mark.skipif(not os.environ.get(OPT_IN), reason=f"serves a simulator and runs feature files with -n 4: "
                                                       f"set {OPT_IN}=1 (`make test-served`)")
def test_the_feature_suite_runs_with_four_workers_in_worlds_of_one_served_simulator(tmp_path: Path) -> None:
    with served(ROOT / ".venv/bin/egov-sim", tmp_path / "sim", cwd=tmp_path) as url:
        done = subprocess.run(
            [str(ROOT / ".venv/bin/pytest"), "features", "-q", "-p", "no:cacheprovider", "-n", "4",
             "--egov-target", url, "--egov-isolation", "world", "--egov-no-report", "-k", CLASHING],
            cwd=ROOT, env=clean_env(PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"), capture_output=True,
            text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:] + server_errors(tmp_path)
        assert re.search(r"\b(2\d|[3-9]\d) passed\b", done.stdout), done.stdout[-500:]
        assert httpx.get(f"{url}/__admin/worlds").json()["worlds"] == []  # every test's world was deleted


def test_worlds_are_refused_with_a_clear_409_where_they_cannot_live(tmp_path: Path) -> None:
    """An in-memory database has no data directory file to copy (PostgreSQL has worlds as schemas:
    tests/test_worlds_postgresql.py)."""
    from egov_sim import Settings, create_app

    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path))
    client = app.test_client()
    refused = client.post("/__admin/worlds")
    assert refused.status_code == 409 and "SQLite" in refused.json["detail"]
    assert client.get("/__admin/worlds").json == {"worlds": []}
    assert not (tmp_path / "worlds").exists()


def test_the_plugin_takes_world_isolation_per_test_or_worker_and_only_against_a_served_simulator() -> None:
    from egov_harness.pytest_plugin import choose_target

    assert choose_target("http://127.0.0.1:9", "world").world == "test"
    assert choose_target("http://127.0.0.1:9", "world", "worker").world == "worker"
    assert choose_target("http://127.0.0.1:9", "reset").world == ""
    with pytest.raises(pytest.UsageError, match="--egov-target URL"):
        choose_target("inprocess", "world")


def test_a_worlds_first_request_in_a_process_can_be_its_poll(sim: Flask, http: httpx.Client, tmp_path: Path) -> None:
    """Two processes on one data directory (two apps): a world made, logged in and submitted to through A is
    polled first through B, where nothing of it is open yet — B's WSGI poll step opens the world and its ops
    room outside any Flask context (it used to raise there) and answers as A's general path does."""
    from egov_sim import create_app
    from egov_sim.filing.v2.fast_poll import FAST_POLL_KEY

    world = _create(http)["id"]
    egov = _login(http, world)
    arrive_id = _submit(egov, sim, http, world)
    b = create_app(sim.extensions["egov_sim"].settings.with_(journal_store="database"))  # as under --workers 2
    try:
        headers = {"Authorization": f"Bearer {egov.tokens.access_token}"}
        first = b.test_client().get(f"/shinsei/v2/apply/{arrive_id}", headers=headers)
        assert first.status_code == 200, first.data
        assert b.extensions[FAST_POLL_KEY].hits == 1  # answered at the WSGI step
        with monkeypatch_fast_poll_off(sim):
            general = http.get(f"/shinsei/v2/apply/{arrive_id}", headers=headers)
        assert (first.status_code, first.data) == (general.status_code, general.content)
    finally:
        b.extensions["egov_sim"].db.dispose()


@contextmanager
def monkeypatch_fast_poll_off(app: Flask) -> Iterator[None]:
    from egov_sim.filing.v2.fast_poll import FAST_POLL_KEY

    step = app.extensions[FAST_POLL_KEY]
    step.enabled = False
    try:
        yield
    finally:
        step.enabled = True
