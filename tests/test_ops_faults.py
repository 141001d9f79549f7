"""Fault rules end to end: switched on through /__admin/faults, observed through the client."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import httpx
import pytest
from conftest import advance
from egov_client import (
    ApiError,
    CommunicationError,
    EgovClient,
    NotFoundError,
    OutcomeUnknownError,
    RequestTimeoutError,
    SafeSubmitPolicy,
    TimeoutPolicy,
    safe_submit,
)
from egov_client.config import simulator
from egov_client.transport import NO_RETRY, RetryPolicy
from egov_sim.ops.latency import Latency
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"


def _fault(http: httpx.Client, **rule) -> dict:
    resp = http.post("/__admin/faults", json=rule)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _package(services, signer) -> bytes:
    return sample_package(services.catalogue, PROC, signer).to_zip()


def _journal(http: httpx.Client, **params) -> list[dict]:
    return http.get("/__admin/requests", params=params).json()["requests"]


def test_an_injected_500_on_the_first_send_only(http, egov, services, signer) -> None:
    rule = _fault(http, name="system error", match={"method": "POST", "path": "/shinsei/v2/apply"},
                  action={"status": 500}, times=1)
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, _package(services, signer))
    assert err.value.status == 500 and err.value.message == "サーバ内部でエラーが発生（システムエラー等）"
    assert "Check the lists" in err.value.explanation
    assert _count(services) == 0  # refused before processing
    assert egov.submit(PROC, _package(services, signer)).arrive_id
    listed = http.get("/__admin/faults").json()["faults"]
    assert listed == [{**rule, "fired": 1, "remaining": 0}]


def test_a_503_with_a_short_retry_after_is_retried_by_the_client(http, egov, services) -> None:
    _fault(http, match={"path": "/shinsei/v2/apply/lists"}, action={"status": 503, "retry_after": 0}, times=2)
    today = services.clock.now().date()
    assert egov.list_applications(date_from=today, date_to=today).applications == []
    statuses = [e["status"] for e in _journal(http, path="/shinsei/v2/apply/lists")]
    assert statuses == [200, 503, 503]  # newest first: two refusals, then the third attempt answered


def test_latency_fixed_uniform_and_lognormal(http, egov, services) -> None:
    _fault(http, match={"method": "GET", "path": "/shinsei/v2/procedure/*"}, action={"latency": {"fixed": 0.15}})
    egov.get_procedure(PROC)
    entry = _journal(http, path="/shinsei/v2/procedure/*")[0]
    assert entry["duration_ms"] >= 150 and any("latency 0.150s" in f for f in entry["faults"])
    rng = random.Random(1)
    uniform = Latency.parse({"uniform": [1, 2]})
    assert all(1 <= uniform.sample(rng) <= 2 for _ in range(100))
    lognormal = Latency.parse({"lognormal": {"median": 3, "sigma": 1, "max": 300}})
    samples = sorted(lognormal.sample(rng) for _ in range(2001))
    assert 2 < samples[1000] < 4.5 and samples[-1] <= 300
    assert http.post("/__admin/faults", json={"action": {"latency": {"gamma": 1}}}).status_code == 400


def test_rules_match_account_procedure_and_fire_by_probability_and_time(
        http, egov, endpoint, world, services, signer) -> None:
    services.clock.update(frozen=True)
    now = services.clock.now()
    hr = world.account("hr")
    hr_client = EgovClient.login(endpoint, hr["username"], hr["password"], http=http, retry=NO_RETRY)
    _fault(http, match={"account": "hr"}, action={"status": 500})  # another account only
    _fault(http, match={"proc_id": "900A010200001000"}, action={"status": 500})  # another procedure only
    assert egov.submit(PROC, _package(services, signer)).arrive_id
    with pytest.raises(ApiError):
        hr_client.get_procedure(PROC)
    http.delete("/__admin/faults")
    _fault(http, match={"path": "/shinsei/v2/procedure/*"}, action={"status": 500},
           **{"from": (now + timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=2)).isoformat()})
    egov.get_procedure(PROC)
    advance(services, "PT1H")
    with pytest.raises(ApiError):
        egov.get_procedure(PROC)
    advance(services, "PT1H")
    egov.get_procedure(PROC)
    http.delete("/__admin/faults")
    rule = _fault(http, match={"path": "/shinsei/v2/procedure/*"}, action={"status": 503}, probability=0.5)
    outcomes = []
    for _ in range(40):
        outcomes.append(http.get(f"/shinsei/v2/procedure/{PROC}",
                                 headers={"Authorization": f"Bearer {egov.tokens.access_token}"}).status_code)
    fired = http.get("/__admin/faults").json()["faults"][0]["fired"]
    assert outcomes.count(503) == fired and 5 < fired < 35, (rule, outcomes)


def test_arrival_still_being_checked(http, egov, services, signer) -> None:
    services.clock.update(frozen=True)
    _fault(http, match={"method": "POST", "path": "/shinsei/v2/apply"}, action={"arrival_check": "PT30M"}, times=1)
    arrive_id = egov.submit(PROC, _package(services, signer)).arrive_id
    today = services.clock.now().date()
    with pytest.raises(NotFoundError):
        egov.get_application(arrive_id)
    assert egov.list_applications(date_from=today, date_to=today).applications == []
    advance(services, "PT30M")
    assert egov.get_application(arrive_id).arrive_id == arrive_id
    assert [a.arrive_id for a in egov.list_applications(date_from=today, date_to=today).applications] == [arrive_id]


def test_a_500_after_processing_is_resolved_by_checking_the_lists(http, egov, services, signer) -> None:
    services.clock.update(frozen=True)
    _fault(http, match={"method": "POST", "path": "/shinsei/v2/apply"},
           action={"status": 500, "when": "after", "arrival_check": "PT20M"}, times=1)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        services.clock.update(advance=timedelta(seconds=seconds))

    result = safe_submit(egov, PROC, _package(services, signer), sleep=sleep,
                         today=lambda: services.clock.now().date(),
                         policy=SafeSubmitPolicy(checks=4, check_interval=600))
    assert result.recovered and result.sends == 1 and result.application is not None
    assert waits == [600, 600]  # not visible at once nor after 10 minutes; found after 20
    assert _count(services) == 1


def test_without_an_answer_and_without_an_arrival_it_resends_once(http, egov, services, signer) -> None:
    services.clock.update(frozen=True)
    _fault(http, match={"method": "POST", "path": "/shinsei/v2/apply"}, action={"status": 500}, times=1)
    result = safe_submit(egov, PROC, _package(services, signer), sleep=lambda s: None,
                         today=lambda: services.clock.now().date(), policy=SafeSubmitPolicy(checks=2))
    assert not result.recovered and result.sends == 2 and _count(services) == 1
    _fault(http, match={"method": "POST", "path": "/shinsei/v2/apply"}, action={"status": 500})
    with pytest.raises(OutcomeUnknownError) as err:
        safe_submit(egov, PROC, _package(services, signer), sleep=lambda s: None,
                    today=lambda: services.clock.now().date(), policy=SafeSubmitPolicy(checks=2, sends=2))
    assert err.value.message == "通信エラーが発生しました。送信結果を確認してください。"
    assert _count(services) == 1


def _live_client(live_server: str, world, **kwargs) -> EgovClient:
    endpoint = simulator(live_server).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])
    account = world.account("demo")
    return EgovClient.login(endpoint, account["username"], account["password"], **kwargs)


def test_connection_reset_before_and_after_processing(live_server, world, services, signer) -> None:
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match={"method": "GET", "path": "/shinsei/v2/procedure/*"}, action={"reset": True}, times=1)
        _fault(admin, match={"method": "POST", "path": "/shinsei/v2/apply"}, action={"reset": True, "when": "after"},
               times=1)
        client = _live_client(live_server, world, retry=RetryPolicy(attempts=2, backoff=0.01))
        assert client.get_procedure(PROC).file_data  # idempotent: retried after the reset
        with pytest.raises(CommunicationError) as err:
            client.submit(PROC, _package(services, signer))  # not resent: the outcome is unknown
        assert err.value.maybe_delivered and "送信結果を確認" in err.value.message
        assert _count(services) == 1  # it was stored before the connection was cut
        entries = admin.get("/__admin/requests", params={"path": "/shinsei/v2/apply", "method": "POST"}).json()
        assert entries["requests"][0]["status"] == 0 and "reset after processing" in entries["requests"][0]["faults"][0]
        client.close()


def test_a_hang_after_processing_times_out_and_safe_submit_finds_the_arrival(
        live_server, world, services, signer) -> None:
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match={"method": "POST", "path": "/shinsei/v2/apply"},
               action={"hang": True, "seconds": 30, "when": "after"}, times=1)
        client = _live_client(live_server, world, timeouts=TimeoutPolicy().with_(submit=0.5))
        with pytest.raises(RequestTimeoutError):
            client.submit(PROC, _package(services, signer))
        assert _count(services) == 1
        _fault(admin, match={"method": "POST", "path": "/shinsei/v2/apply"},
               action={"hang": True, "seconds": 30, "when": "after"}, times=1)
        result = safe_submit(client, PROC, _package(services, signer), sleep=lambda s: None,
                             today=lambda: services.clock.now().date())
        assert result.recovered and result.sends == 1
        assert _count(services) == 2  # the timed-out send was found, not repeated
        held = admin.get("/__admin/requests", params={"method": "POST", "path": "/shinsei/v2/apply"}).json()
        assert "held" in held["requests"][0]["faults"][-1]
        client.close()


def test_a_hang_before_processing_sends_nothing(live_server, world, services, signer) -> None:
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match={"method": "POST", "path": "/shinsei/v2/apply"}, action={"hang": True, "seconds": 30},
               times=1)
        client = _live_client(live_server, world, timeouts=TimeoutPolicy().with_(submit=0.5))
        result = safe_submit(client, PROC, _package(services, signer), sleep=lambda s: None,
                             today=lambda: services.clock.now().date(), policy=SafeSubmitPolicy(checks=2))
        assert not result.recovered and result.sends == 2 and _count(services) == 1
        client.close()


@pytest.mark.parametrize("body", [
    {"action": {"status": 200}},
    {"action": {"status": 500, "reset": True}},
    {"action": {}},
    {"action": {"status": 500}, "probability": 0},
    {"action": {"status": 500}, "times": 0},
    {"action": {"status": 500}, "match": {"account": "nobody"}},
    {"action": {"status": 500}, "match": {"path": "^(unclosed"}},
    {"action": {"auto_return": "no_such_case"}, "match": {"proc_id": PROC}},
    {"action": {"teleport": True}},
])
def test_bad_rules_are_refused(http, body) -> None:
    resp = http.post("/__admin/faults", json=body)
    assert resp.status_code == 400 and resp.json()["detail"]
    assert http.get("/__admin/faults").json()["faults"] == []


def test_busy_season_profile(http, egov, services) -> None:
    from egov_sim.ops.latency import busy_reason
    from egov_sim.ops.maintenance import Calendar, Window

    assert busy_reason(datetime(2024, 1, 31, 10), Calendar([])) == "month-end"
    assert busy_reason(datetime(2024, 3, 25, 10), Calendar([])) == "spring"
    assert busy_reason(datetime(2024, 4, 12, 10), Calendar([])) is None
    window = Window(1, "m", datetime(2024, 6, 12, 18), datetime(2024, 6, 13, 0), None)
    assert busy_reason(datetime(2024, 6, 13, 1), Calendar([window])) == "after-maintenance"
    assert busy_reason(datetime(2024, 6, 13, 3), Calendar([window])) is None
    assert http.put("/__admin/latency", json={"profile": "rush-hour"}).status_code == 400
    assert http.put("/__admin/latency", json={"profile": "busy-season", "scale": 0.001}).json()["scale"] == 0.001
    services.clock.update(set_to=datetime(2024, 3, 28, 10), frozen=True)
    egov.get_procedure(PROC)
    entry = _journal(http, path="/shinsei/v2/procedure/*")[0]
    assert any(f.startswith("profile busy-season (spring)") for f in entry["faults"])
    services.clock.update(set_to=datetime(2024, 4, 15, 10))
    egov.get_procedure(PROC)
    assert any(f.startswith("profile busy-season (calm)") for f in _journal(http, path="/shinsei/v2/procedure/*")[0]["faults"])


def test_a_rule_added_through_one_process_acts_at_once_in_another(template_db, tmp_path) -> None:
    """Two server processes on one database (two apps here): a rule added through A fires at B's very
    next request, though B loaded its copy of the rules just before (it used to wait up to 1 s)."""
    import shutil

    from egov_sim import Settings, create_app

    shutil.copy(template_db, tmp_path / "sim.sqlite")
    apps = [create_app(Settings(database_url=f"sqlite:///{tmp_path / 'sim.sqlite'}", data_dir=tmp_path,
                                public_url="http://sim.test")) for _ in range(2)]
    a, b = (app.test_client() for app in apps)
    try:
        assert b.get("/shinsei/v2/apply/lists").status_code == 401  # B's copy of the rules: none
        for _ in range(3):
            made = a.post("/__admin/faults", json={"match": {"path": "/shinsei/v2/apply/lists"},
                                                   "action": {"status": 503, "retry_after": 0}, "times": 1})
            assert made.status_code == 201, made.text
            assert b.get("/shinsei/v2/apply/lists").status_code == 503  # at once, not a second later
            assert b.get("/shinsei/v2/apply/lists").status_code == 401  # fired once (times: 1), across both
        assert a.delete("/__admin/faults").status_code in (200, 204)
    finally:
        for app in apps:
            app.extensions["egov_sim"].db.dispose()
