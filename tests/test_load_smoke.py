"""A short, bounded Locust run against a two-worker simulator: no failures, and every accepted
submission retrievable (speed is measured by loadtests/bench.py, never asserted here)."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from egov_sim import Settings, create_app
from load_support import ROOT, env, simulator_process
from sqlalchemy import func, select

# find_spec, not import: importing locust here would monkey-patch the test process with gevent
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None
                                or importlib.util.find_spec("granian") is None,
                                reason="needs the load extra (locust, granian)")


def _has_withdraw_route() -> bool:
    from flask import Flask

    app = Flask("probe")
    from egov_sim.filing import v2

    app.register_blueprint(v2.bp)
    return any(r.rule == "/shinsei/v2/apply/withdraw" and "POST" in r.methods for r in app.url_map.iter_rules())


def test_locust_smoke_run_has_no_failures_and_keeps_every_submission(template_db: Path, tmp_path: Path) -> None:
    shutil.copy(template_db, tmp_path / "egov-sim.sqlite")
    users = ["SubmitUser", "PollUser", "BatchUser"] + (["WithdrawUser"] if _has_withdraw_route() else [])
    integrity = tmp_path / "integrity.jsonl"
    with simulator_process(tmp_path, "--workers", "2", "--clock-speed", "60") as base:
        run = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
             "-u", "8", "-r", "8", "-t", "10s", "--host", base, "--only-summary", "--csv", str(tmp_path / "stats"),
             "--stop-timeout", "5", *users],
            env=env(EGOV_SIM_DATA_DIR=str(tmp_path), LOAD_POLL_MIN="0.2", LOAD_POLL_MAX="0.5", LOAD_PACKAGES="6",
                    LOAD_WITHDRAW_WAIT="8", LOAD_INTEGRITY_FILE=str(integrity)),
            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = run.stdout + run.stderr
    rows = list(csv.DictReader((tmp_path / "stats_stats.csv").open()))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures = {r["Name"]: r["Failure Count"] for r in rows if r["Failure Count"] != "0"}
    assert run.returncode == 0 and not failures, (failures, output[-3000:])
    names = {r["Name"] for r in rows}
    assert {"/apply", "/apply/lists (確認)", "/apply/{arrive_id} (取得)", "batch of ≤20"} <= names
    assert int(total["Request Count"]) > 20

    summary = [json.loads(line) for line in integrity.read_text().splitlines()]
    accepted = sum(s["accepted"] for s in summary)
    assert accepted > 0 and all(not s["missing"] and s["unique"] == s["accepted"] for s in summary)
    # Server side: every accepted arrive_id is stored once (no lost or duplicated applications).
    from egov_sim.store.models import Application

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'egov-sim.sqlite'}", data_dir=tmp_path))
    db = app.extensions["egov_sim"].db
    with db.session() as s:
        stored = s.scalar(select(func.count()).select_from(Application))
        distinct = s.scalar(select(func.count(func.distinct(Application.arrive_id))))
    db.dispose()
    assert stored == distinct >= accepted


def test_locust_users_settle_answers_lost_after_processing_through_the_lists(template_db: Path, tmp_path: Path) -> None:
    """Three sends processed but answered 500 (a fault after processing): the users find each in the
    lists and claim it, so server rows = accepted, none sent twice, none counted as a failure."""
    import httpx

    shutil.copy(template_db, tmp_path / "egov-sim.sqlite")
    integrity = tmp_path / "integrity.jsonl"
    with simulator_process(tmp_path, "--workers", "2") as base:
        rule = {"match": {"method": "POST", "path": "/shinsei/v2/apply"},
                "action": {"status": 500, "when": "after"}, "times": 3}
        assert httpx.post(f"{base}/__admin/faults", json=rule, timeout=10).status_code == 201
        run = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
             "-u", "4", "-r", "4", "-t", "8s", "--host", base, "--only-summary", "--csv", str(tmp_path / "stats"),
             "--stop-timeout", "5", "SubmitUser"],
            env=env(EGOV_SIM_DATA_DIR=str(tmp_path), LOAD_PACKAGES="4", LOAD_INTEGRITY_FILE=str(integrity)),
            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    rows = {r["Name"]: r for r in csv.DictReader((tmp_path / "stats_stats.csv").open())}
    failures = {n: r["Failure Count"] for n, r in rows.items() if r["Failure Count"] != "0"}
    assert run.returncode == 0 and not failures, (failures, (run.stdout + run.stderr)[-3000:])
    assert rows["/apply outcome unknown → lists"]["Request Count"] == "3"
    accepted = sum(json.loads(line)["accepted"] for line in integrity.read_text().splitlines())
    from egov_sim.store.models import Application

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'egov-sim.sqlite'}", data_dir=tmp_path))
    db = app.extensions["egov_sim"].db
    with db.session() as s:
        stored = s.scalar(select(func.count()).select_from(Application))
        before = s.scalar(select(func.count()).select_from(Application).where(
            Application.corporation_name.notlike("株式会社ロード%")))
    db.dispose()
    assert stored - before == accepted > 3
