"""The conformance harness: plugin fixtures, the admin client, evidence, and the features run
against a separately started simulator process and against a real endpoint without credentials."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from egov_client import EgovClient, UnauthorizedError
from egov_client.admin import AdminError, SimulatorAdmin
from egov_client.evidence import EvidenceRecorder, mask
from egov_format.signing import load_pkcs12
from egov_harness.steps.common import iso_duration
from load_support import serving

ROOT = Path(__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join(str(ROOT / p) for p in ("client", "simulator"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EGOV_", "PYTEST_"))}
    env.update(PYTHONPATH=PYTHONPATH, **extra)
    return env


def _run_pytest(*args: str, env: dict[str, str], timeout: float = 540) -> subprocess.CompletedProcess[str]:
    """`pytest features/ …` in a subprocess with only the plugins it needs (others installed in the
    environment, e.g. hypothesis', would only slow its start)."""
    env = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "pytest_bdd.plugin", "-p", "no:cacheprovider",
                           "-q", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# --- the plugin's fixtures, as users' own tests use them ----------------------------------------------

def test_plugin_fixtures_give_a_logged_in_client_and_the_clock(egov_client: EgovClient, egov_clock, egov_world,
                                                               egov_simulator) -> None:
    assert egov_client.introspect()["username"] == next(a["username"] for a in egov_world["accounts"]
                                                        if a["alias"] == "demo")
    before = egov_clock.now()
    after = egov_clock.advance("P3D")
    assert (after - before).days == 3
    assert egov_simulator.url.startswith("http://127.0.0.1:")
    with pytest.raises(UnauthorizedError):  # the 1-hour access token and the 180-day refresh token are gone
        egov_clock.advance("P181D")
        egov_client.get_application("9502026000000001")


def test_each_test_starts_from_a_fresh_world(egov_admin: SimulatorAdmin) -> None:
    clock = egov_admin.advance("P10D")  # moved in this test only
    assert clock["offset_seconds"] >= 10 * 86400 - 5


def test_the_previous_test_left_nothing_behind(egov_admin: SimulatorAdmin) -> None:
    assert abs(egov_admin.clock()["offset_seconds"]) < 3600


def test_admin_client_serves_certificates_and_reports_refusals(egov_admin: SimulatorAdmin) -> None:
    cert = egov_admin.certificate("revoked")
    assert cert.revoked and load_pkcs12(cert.p12, cert.password).certificate is not None
    with pytest.raises(AdminError) as err:
        egov_admin.certificate("no-such-label")
    assert err.value.status == 404
    with pytest.raises(AdminError) as err:
        egov_admin.call("POST", "/clock", {"advance": "three days"})
    assert err.value.status == 400


# --- helpers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "iso"), [("3日", "P3D"), ("2時間", "PT2H"), ("1日と1時間", "P1DT1H"),
                                           ("1時間1分", "PT1H1M"), ("181日", "P181D"), ("PT10M", "PT10M"),
                                           ("2週間", "P2W")])
def test_japanese_durations(text: str, iso: str) -> None:
    assert iso_duration(text) == iso


@pytest.mark.parametrize("bad", ["三日", "3 days", "", "3日後"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        iso_duration(bad)


def test_evidence_masks_secrets(tmp_path: Path) -> None:
    recorder = EvidenceRecorder(tmp_path)

    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "eyJhbGciOiJSUzI1NiJ9.secret", "expires_in": 3600})

    with httpx.Client(transport=httpx.MockTransport(app), event_hooks=recorder.event_hooks()) as http:
        http.post("http://sim.test/auth/token", data={"grant_type": "refresh_token", "refresh_token": "r" * 40},
                  headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA=="})
    (path,) = recorder.files
    text = path.read_text(encoding="utf-8")
    assert path.name == "001_POST_auth_token.txt"
    assert "secret" not in text and "r" * 40 not in text and "c2VjcmV0OnNlY3JldA==" not in text
    assert mask("eyJhbGciOiJSUzI1NiJ9.secret") in text and '"expires_in": 3600' in text


# --- the features against other targets ---------------------------------------------------------------

@pytest.fixture
def simulator_process(tmp_path: Path):
    with serving(tmp_path / "data", log=tmp_path / "serve.log", environ=_env()) as (url, _proc):
        yield url


def _junit(path: Path) -> dict[str, int]:
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def test_features_pass_against_a_separately_started_simulator(simulator_process: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = _run_pytest("features/", "--egov-target", simulator_process, "--egov-report-dir", str(reports),
                      "--egov-evidence", env=_env())
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    counts = _junit(reports / "junit.xml")
    assert counts["tests"] >= 30 and counts["failures"] == counts["errors"] == 0, counts
    report = (reports / "conformance.md").read_text(encoding="utf-8")
    assert f"試験対象 (target): egov-sandbox シミュレーター ({simulator_process})" in report
    assert "❌ 不合格 0" in report and "⏭️ スキップ 0" in report  # simulator-only scenarios ran too
    assert "### ✅ 04-02 シナリオ: 添付書類付きの申請データを送信する — 合格" in report
    evidence = reports / "evidence" / "04-02_添付書類付きの申請データを送信する"
    apply = next(evidence.glob("*_POST_shinsei_v2_apply.txt")).read_text(encoding="utf-8")
    assert "→ 200 OK" in apply and '"arrive_id"' in apply and "Bearer eyJhbG…(masked)" in apply
    assert next(evidence.glob("*_950A010700005000.zip")).stat().st_size > 0
    assert list((reports / "evidence").glob("01-03_*/*.png")), "the browser scenario keeps screenshots"


def test_features_against_e_gov_without_credentials_skip_with_reasons(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = _run_pytest("features/", "--egov-target", "sandbox", "--egov-report-dir", str(reports), "-rs",
                      env=_env(), timeout=120)
    assert run.returncode == 0, run.stdout[-4000:]
    counts = _junit(reports / "junit.xml")
    assert counts["tests"] == counts["skipped"] >= 30, counts
    assert "シミュレーターのみ: needs control of a simulator" in run.stdout
    assert "e-Gov 検証環境: set EGOV_CLIENT_ID, EGOV_CLIENT_SECRET" in run.stdout
    report = (reports / "conformance.md").read_text(encoding="utf-8")
    assert "試験対象 (target): e-Gov 検証環境 (sandbox)" in report and "✅ 合格 0" in report


def test_production_is_refused_as_a_target(tmp_path: Path) -> None:
    run = _run_pytest("features/", "--egov-target", "production", "--egov-report-dir", str(tmp_path),
                      env=_env(), timeout=60)
    assert run.returncode == 4 and "does not run conformance scenarios against production" in run.stderr


# --- fault and maintenance helpers of the plugin ------------------------------------------------------

def test_maintenance_helper_refuses_calls_until_the_window_is_over(egov_client: EgovClient, egov_clock,
                                                                    egov_maintenance) -> None:
    from egov_client import MaintenanceError

    egov_clock.freeze()
    window = egov_maintenance.window(duration="PT2H", expire_tokens=True)
    assert egov_maintenance.current()["window_id"] == window["id"]
    today = egov_clock.now().date()
    with pytest.raises(MaintenanceError) as err:
        egov_client.list_applications(date_from=today, date_to=today)
    assert err.value.window_end is not None
    after = egov_maintenance.wait_until_over()
    assert egov_maintenance.current() is None and after.isoformat() > window["start"][:19]
    assert egov_client.list_applications(date_from=today, date_to=today).applications == []  # refreshed itself
    egov_maintenance.weekly(["mon", "wed"], "18:00", "PT6H")
    assert len(egov_maintenance.admin.maintenance()["windows"]) == 2
    egov_maintenance.clear()
    assert egov_maintenance.admin.maintenance()["windows"] == []


def test_faults_helper_injects_and_counts(egov_client: EgovClient, egov_faults, egov_admin: SimulatorAdmin) -> None:
    from egov_client import ApiError

    rule = egov_faults.fail("/shinsei/v2/procedure/*", 500, method="GET", times=1)
    with pytest.raises(ApiError) as err:
        egov_client.get_procedure("950A010700005000")
    assert err.value.status == 500
    assert egov_client.get_procedure("950A010700005000").proc_id == "950A010700005000"  # fired once only
    assert [(r["id"], r["fired"], r["remaining"]) for r in egov_faults.rules()] == [(rule["id"], 1, 0)]
    assert [e["status"] for e in egov_admin.requests(path="/shinsei/v2/procedure/*")][:2] == [200, 500]
    egov_faults.auto_return("missing_salary", proc_id="950A010700005000")
    assert egov_faults.rules()[-1]["action"] == {"auto_return": "missing_salary"}
    with pytest.raises(AdminError) as bad:
        egov_admin.add_fault({"latency": {"gamma": 1}})
    assert bad.value.status == 400
    egov_faults.clear()
    assert egov_faults.rules() == []


def test_admin_case_helpers(egov_client: EgovClient, egov_admin: SimulatorAdmin, egov_world) -> None:
    rules = egov_admin.set_scenario("payment", account="demo", count=1)
    assert rules and rules[-1]["scenario"] == "payment"
    with pytest.raises(AdminError) as err:
        egov_admin.set_scenario("no-such-scenario")
    assert err.value.status == 400
    with pytest.raises(AdminError) as err:
        egov_admin.advance_case("9502026000000999")
    assert err.value.status == 404
    assert "missing_salary" in egov_admin.auto_returns("950A010700005000")
    assert egov_admin.cut_sessions("demo") >= 1
    prime = next(a for a in egov_world["gbizid"]["accounts"] if a["alias"] == "prime")
    assert egov_admin.outbox(prime["account_id"]) == []  # nothing sent before a login
    assert egov_admin.revoke_certificate("revoked")["label"] == "revoked"
    assert egov_admin.holds() == []
