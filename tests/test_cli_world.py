# ruff: noqa: F811  (the `egov` fixture is imported from test_cli_casework)
"""The ledger knows the simulator's world: a reset (or another data directory) starts a new view of the
cases instead of colliding with the old arrive_ids; 取得 without IDs also reaches finished cases whose
documents are waiting."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import BASE, advance
from egov_client.ledger import Ledger, PackageFacts, jst_now
from test_cli import _zip, egov_cli  # noqa: F401  (a fixture)
from test_cli_casework import egov, run, run_json  # noqa: F401  (the logged-in `egov` fixture)


def test_a_reset_simulator_is_noticed_and_old_cases_are_kept_apart(egov, http, services, signer,
                                                                    tmp_path: Path) -> None:
    first = run_json(egov, "submit", str(_zip(tmp_path, services, signer, "山田", 1)))["send"]
    world = http.get("/__admin/world/id").json()["world_id"]
    assert http.get("/__admin/world").json()["world_id"] == world

    reset = http.post("/__admin/reset", json={}).json()
    assert reset["world_id"] != world == first["world"]
    run(egov, "login", "--password-stdin", input=world_login(reset) + "\n")  # a reset ends every session
    # the same arrive_id is handed out again by the new world: before, a UNIQUE constraint failure
    second = run(egov, "--json", "submit", str(_zip(tmp_path, services, signer, "佐藤", 2)))
    assert "シミュレーターの環境が変わりました" in second.stderr and "以前の環境の 1 件" in second.stderr
    new = json.loads(second.stdout)["send"]
    assert new["arrive_id"] == first["arrive_id"] and new["outcome"] == "sent" and new["world"] == reset["world_id"]
    assert [s["id"] for s in run_json(egov, "list", "--all")["sends"]] == [new["id"]]
    missing = run(egov, "status", str(first["id"]), ok=False)
    assert missing.exit_code == 1 and "現在の環境" in missing.stderr and "Traceback" not in missing.output
    # the old case is still in the file, under its world
    with sqlite3.connect(egov.app.home.ledger_file) as db:
        assert db.execute("SELECT world FROM sends WHERE id = ?", (first["id"],)).fetchone() == (world,)
    # the same world again: no notice
    assert "環境が変わりました" not in run(egov, "list").stderr


def world_login(reset: dict) -> str:
    return next(a["password"] for a in reset["world"]["accounts"] if a["alias"] == "demo")


def test_a_ledger_from_before_worlds_is_migrated_and_adopted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the ledger's schema before the world column
        db.execute("CREATE TABLE sends (id INTEGER PRIMARY KEY AUTOINCREMENT, profile TEXT NOT NULL, digest TEXT NOT"
                   " NULL, proc_id TEXT NOT NULL, proc_name TEXT NOT NULL DEFAULT '', apply_type TEXT NOT NULL DEFAULT"
                   " '', applicant_name TEXT NOT NULL DEFAULT '', corporation_name TEXT NOT NULL DEFAULT '', file_name"
                   " TEXT NOT NULL DEFAULT '', sent_at TEXT NOT NULL, outcome TEXT NOT NULL, arrive_id TEXT,"
                   " arrive_date TEXT, send_number TEXT, status TEXT NOT NULL DEFAULT '', withdraw_flag INTEGER NOT"
                   " NULL DEFAULT 0, pay_status TEXT NOT NULL DEFAULT '', notices TEXT NOT NULL DEFAULT '[]',"
                   " documents TEXT NOT NULL DEFAULT '[]', payments TEXT NOT NULL DEFAULT '[]', error TEXT,"
                   " checked_at TEXT, memo TEXT NOT NULL DEFAULT '', hidden INTEGER NOT NULL DEFAULT 0)")
        db.execute("CREATE UNIQUE INDEX sends_arrive ON sends (profile, arrive_id) WHERE arrive_id IS NOT NULL")
        db.execute("INSERT INTO sends (profile, digest, proc_id, sent_at, outcome, arrive_id)"
                   " VALUES ('sim', 'd1', 'p', '2026-04-01 10:00:00', 'sent', '9502026000000001')")
    with Ledger(path) as ledger:
        assert ledger.observe_world("sim", "w1", jst_now()) is None  # the first world seen adopts the old rows
        assert [s.arrive_id for s in ledger.sends("sim")] == ["9502026000000001"]
        change = ledger.observe_world("sim", "w2", jst_now())
        assert change is not None and change.previous_cases == 1 and "1 件" in change.message
        assert ledger.sends("sim") == []
        send_id = ledger.begin_send("sim", PackageFacts("d1", "p"), jst_now())  # same package, new world
        ledger.record_arrival(send_id, "9502026000000001", None)
        assert [s.id for s in ledger.sends("sim")] == [send_id]


def test_refresh_get_without_ids_reaches_a_finished_case_with_a_waiting_document(
        egov, services, signer, tmp_path: Path) -> None:
    run_json(egov, "submit", str(_zip(tmp_path, services, signer)))
    advance(services, "P3D")
    assert run_json(egov, "refresh")["refreshed"][0]["after"] == "審査終了"
    assert run_json(egov, "refresh")["refreshed"] == []  # 確認: nothing open any more
    got = run(egov, "refresh", "--get").stdout
    assert "1 件を取得しました。" in got and "公文書(001)" in got
    run(egov, "docs", "fetch", "1")
    assert "0 件を取得しました。" in run(egov, "refresh", "--get").stdout  # nothing left to get


def test_a_gbizid_linked_account_is_told_to_log_in_through_gbizid(egov_cli, world) -> None:
    egov_cli("profile", "add", "sim", "--simulator", BASE, "--from-world")
    gbiz = world.account("gbiz")
    failed = egov_cli("login", "-u", gbiz["username"], "--password-stdin", input=gbiz["password"] + "\n", ok=False)
    assert failed.exit_code == 1 and "GビズIDでログイン" in failed.stderr and "egov login --browser" in failed.stderr
