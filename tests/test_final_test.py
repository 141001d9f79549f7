"""`egov final-test`: e-Gov's 最終確認試験 item by item, against separately started simulators.

A controlled simulator (admin API) and one in sandbox mode (behaving as the 検証環境: no admin API,
staff acting on their own timer) both run every item to pass through the `egov` command; before the
staff have acted, or without the first phase, items are "waiting" / "fail", never "pass".
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from egov_client.final_test import load_items
from egov_client.final_test.runner import ITEMS
from load_support import serving

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join(str(ROOT / d) for d in ("client", "simulator"))
ISSUE_ITEMS = ["01-1", "02-1", "03-1", "04-1", "04-2", "05-1", "06-1", "07-1", "07-2", "08-1", "08-2", "09-1", "10-1", "11-1", "12-1", "12-2", "13-1", "13-2", "14-1", "15-1", "15-2", "16-1", "17-1", "18-1", "18-2", "19-1", "20-1", "21-1", "22-1", "23-1", "24-1", "25-1", "26-1", "27-1", "28-1", "29-1", "30-1", "31-1", "32-1", "33-1", "34-1", "35-1", "36-1"]
STAFF_SCALE = "0.0023"  # with --clock-speed 60: 補正 requested after ~3 s, 公文書 issued after ~10 s


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EGOV_", "PYTEST_"))}
    env.update(PYTHONPATH=PYTHONPATH, **extra)
    return env


def _serve(tmp_path: Path, *args: str) -> Iterator[str]:
    with serving(tmp_path / "data", *args, log=tmp_path / "serve.log", environ=_env(),
                 ready="/maintenance.json") as (url, _proc):  # sandbox mode: no admin API to wait on
        yield url


def _egov(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "egov_client.cli", "final-test", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _sheet(out: Path) -> dict[str, dict[str, str]]:
    with (out / "結果一覧.csv").open(encoding="utf-8-sig") as f:
        return {row["項番"]: row for row in csv.DictReader(f)}


# --- the items are data ------------------------------------------------------------------------------------

def test_items_are_e_govs_list_each_with_api_criterion_and_a_step() -> None:
    items = load_items()
    assert [i.id for i in items] == ISSUE_ITEMS
    assert all(i.name and i.api and i.passes_when for i in items)
    assert set(ITEMS) == set(ISSUE_ITEMS), "every item has exactly one step in runner.py"
    assert {i.id for i in items if i.gbizid} == {"32-1", "33-1", "34-1", "35-1", "36-1"}
    assert {c for i in items for c in i.prepared_cases} == {"resubmit", "amend", "withdraw", "document", "post"}


def test_feature_tags_name_items_of_the_list() -> None:
    known = {i.id for i in load_items()}
    tags = {m for f in (ROOT / "features").glob("*.feature")
            for m in re.findall(r"@最終確認-([\d]+-[\d]+)", f.read_text(encoding="utf-8"))}
    assert len(tags) >= 20 and tags <= known, tags - known


# --- targets the kit cannot use --------------------------------------------------------------------------

def test_against_the_sandbox_without_credentials_it_stops_naming_what_is_needed(tmp_path: Path) -> None:
    run = _egov("run", "--target", "sandbox", "--out", str(tmp_path), env=_env(), timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "最終確認試験を開始できません: e-Gov 検証環境" in run.stderr
    for name in ("EGOV_CLIENT_ID", "EGOV_CLIENT_SECRET", "EGOV_REDIRECT_URI", "EGOV_USERNAME", "EGOV_P12",
                 "EGOV_GBIZID_OWNER_ID"):
        assert name in run.stderr
    assert not (tmp_path / "結果一覧.csv").exists(), "nothing ran"


# --- a simulator the kit controls ----------------------------------------------------------------------------

@pytest.fixture
def controlled_simulator(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path)


def test_every_item_passes_on_a_controlled_simulator_with_evidence(controlled_simulator: str, tmp_path: Path) -> None:
    out = tmp_path / "final-test"
    run = _egov("run", "--target", controlled_simulator, "--out", str(out), env=_env())
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "合格 43 / 不合格 0 / 待ち 0 (全 43 項目)" in run.stdout
    sheet = _sheet(out)
    assert list(sheet) == ISSUE_ITEMS and all(r["結果"] == "合格 (pass)" for r in sheet.values())
    assert sheet["07-1"]["HTTPステータス"] == "200" and sheet["07-1"]["実施日時（開始）"]

    from openpyxl import load_workbook

    rows = list(load_workbook(out / "結果一覧.xlsx").active.iter_rows(values_only=True))
    assert rows[1][:4] == ("項番", "API名", "呼び出し", "結果") and len(rows) == 2 + 43
    assert rows[2][0] == "01-1" and rows[2][3] == "合格 (pass)"
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "合格 43 · 不合格 0" in report and '<a href="evidence/21-1_' in report and "<script" not in report

    apply = next((out / "evidence").glob("07-2_*/*_POST_shinsei_v2_apply.txt")).read_text(encoding="utf-8")
    assert "→ 200 OK" in apply and "Bearer eyJhbG…(masked)" in apply and '"arrive_id"' in apply
    assert list((out / "evidence").glob("07-2_*/*_950A010700005000.zip"))
    assert list((out / "evidence").glob("08-2_*/*_bulk_ng.zip")) and list((out / "evidence").glob("10-1_*/*hosei.zip"))
    token = next((out / "evidence").glob("01-1_*/*_POST_auth_token.txt")).read_text(encoding="utf-8")
    assert re.search(r'"access_token": "[^"]{0,6}…\(masked\)"', token), token[-600:]
    prepared = json.loads((out / "prepared.json").read_text(encoding="utf-8"))
    assert set(prepared["cases"]) == {"resubmit", "amend", "document", "withdraw", "post"}

    # the pytest entry: the same items as tests, on a fresh world
    assert httpx.post(f"{controlled_simulator}/__admin/reset").status_code == 200
    entry = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs",
                            "egov_client.final_test.test_items"], cwd=tmp_path, capture_output=True, text=True,
                           env=_env(EGOV_FINAL_TEST_TARGET=controlled_simulator, EGOV_FINAL_TEST_OUT=str(tmp_path / "e"),
                                    PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"), timeout=240)
    assert entry.returncode == 0 and "43 passed" in entry.stdout, entry.stdout[-3000:] + entry.stderr[-2000:]


# --- a simulator in sandbox mode: the real-endpoint path, two phases --------------------------------------------

@pytest.fixture
def sandbox_simulator(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path, "--sandbox-mode", "--clock-speed", "60", "--staff-scale", STAFF_SCALE)


def _credentials(tmp_path: Path) -> dict[str, str]:
    """What a vendor receives for the 検証環境 (here read from the simulator's world, out of band)."""
    shown = subprocess.run([sys.executable, "-m", "egov_sim.cli", "world", "--json", "--data-dir",
                            str(tmp_path / "data")], env=_env(), capture_output=True, text=True, check=True)
    world = json.loads(shown.stdout)
    demo = next(a for a in world["accounts"] if a["alias"] == "demo")
    cert = next(c for c in world["certificates"] if c["label"] == "valid")
    gbiz = {a["alias"]: a for a in world["gbizid"]["accounts"]}
    return {"EGOV_CLIENT_ID": world["client_id"], "EGOV_CLIENT_SECRET": world["client_secret"],
            "EGOV_REDIRECT_URI": world["redirect_uris"][0], "EGOV_USERNAME": demo["username"],
            "EGOV_PASSWORD": demo["password"], "EGOV_P12": cert["path"], "EGOV_P12_PASSWORD": cert["password"],
            # the 個人事業主 prime logs in with an authenticator app; the entry account has no second factor
            "EGOV_GBIZID_OWNER_ID": gbiz["sole"]["account_id"], "EGOV_GBIZID_OWNER_PASSWORD": gbiz["sole"]["password"],
            "EGOV_GBIZID_OWNER_TOTP_SECRET": gbiz["sole"]["totp_secret"],
            "EGOV_GBIZID_GRANTEE_ID": gbiz["entry"]["account_id"],
            "EGOV_GBIZID_GRANTEE_PASSWORD": gbiz["entry"]["password"]}


def test_sandbox_mode_runs_every_item_to_pass_in_two_phases(sandbox_simulator: str, tmp_path: Path) -> None:
    url = sandbox_simulator
    assert httpx.post(f"{url}/__admin/reset").status_code == 404, "sandbox mode has no admin API"
    out = tmp_path / "final-test"
    without = _egov("run", "--target", url, "--out", str(out), env=_env(), timeout=60)
    assert without.returncode == 2 and "EGOV_CLIENT_ID" in without.stderr, without.stderr

    env = _env(**_credentials(tmp_path))
    early = _egov("run", "--target", url, "--out", str(out), "--item", "09-1", "--item", "19-1", env=env)
    assert early.returncode == 1
    assert {k: v["結果"] for k, v in _sheet(out).items()} == {"09-1": "不合格 (fail)", "19-1": "不合格 (fail)"}
    assert "run `egov final-test prepare` first" in _sheet(out)["09-1"]["理由"]

    prepare = _egov("prepare", "--target", url, "--out", str(out), env=env)
    prepared_at = time.monotonic()
    assert prepare.returncode == 0, prepare.stdout + prepare.stderr
    assert "再提出 を依頼してください" in prepare.stdout and "公文書を発行してください" in prepare.stdout

    before_staff = _egov("run", "--target", url, "--out", str(out), "--item", "19-1", "--item", "20-1", env=env)
    sheet = _sheet(out)
    assert before_staff.returncode == 1 and {r["結果"] for r in sheet.values()} == {"待ち (waiting)"}, sheet
    assert "have not issued the official document yet" in sheet["19-1"]["理由"]

    time.sleep(max(0.0, prepared_at + 14 - time.monotonic()))  # the staff's timer: 公文書 after ~10 s
    after = _egov("run", "--target", url, "--out", str(out), env=env)
    assert after.returncode == 0, after.stdout[-4000:] + after.stderr[-2000:]
    sheet = _sheet(out)
    assert list(sheet) == ISSUE_ITEMS and all(r["結果"] == "合格 (pass)" for r in sheet.values()), {
        k: v["理由"] for k, v in sheet.items() if v["結果"] != "合格 (pass)"}
    assert (out / "結果一覧.xlsx").stat().st_size > 0 and "sandbox mode" in (out / "report.html").read_text("utf-8")
