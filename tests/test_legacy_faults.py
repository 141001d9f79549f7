"""The ops room on the legacy face (/shinsei/1): fault rules (status with its body, latency, reset),
rules on the 利用者ID that act only once its access key is verified (no header names the caller),
rules on the procedure, answers put in after processing, and scenario overrides — every answer the
face gives in the legacy envelope (Code 1, the fault's detail as the Message), nothing stored."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
import test_legacy_api as api
from conftest import advance
from egov_client.legacy import LegacyApiError, LegacyClient, upload
from egov_sim.store.models import Application, BulkSubmission
from egov_sim.world.packages import sample_package
from test_legacy_api import PROC, USER, _arrive, _count, _later, _package, _send, refused

legacy, logged_in, _frozen = api.legacy, api.logged_in, api._frozen  # the legacy tests' fixtures


def _fault(http: httpx.Client, **rule) -> dict:
    resp = http.post("/__admin/faults", json=rule)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _fired(http: httpx.Client, rule: dict) -> int:
    return next(r["fired"] for r in http.get("/__admin/faults").json()["faults"] if r["id"] == rule["id"])


def _envelope(resp: httpx.Response) -> None:
    assert resp.headers["Content-Type"] == "text/xml;charset=UTF-8" and "<Code>1</Code>" in resp.text


def test_a_status_fault_answers_in_the_envelope_with_its_detail(logged_in: LegacyClient, http) -> None:
    _fault(http, match={"method": "GET", "path": "/shinsei/1/access/bank"},
           action={"status": 503, "detail": "ただいま混み合っています。", "retry_after": 30}, times=1)
    resp = logged_in.http.get("/shinsei/1/access/bank", headers={"X-eGovAPI-SoftwareID": logged_in.software_id,
                                                                 "X-eGovAPI-AccessKey": logged_in.access_key})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    _envelope(resp)
    assert "<Message>ただいま混み合っています。</Message>" in resp.text and "<TrustBank></TrustBank>" in resp.text
    assert logged_in.banks().status == 200  # times: 1


def test_rules_on_the_user_act_after_its_access_key_is_verified(logged_in: LegacyClient, http, services,
                                                                signer) -> None:
    rule = _fault(http, match={"path": "/shinsei/1/access/*", "account": USER},  # the 利用者ID, as the admin knows it
                  action={"report_list": [{"content": "障害注入による返戻です"}]}, times=1)
    key, logged_in.access_key = logged_in.access_key, "x" * 256
    assert refused(lambda: logged_in.banks()).message == "アクセスキーが不正です。"  # authentication first
    assert _fired(http, rule) == 0
    logged_in.access_key = key
    err = refused(lambda: logged_in.apply("send.zip", upload(_package(services, signer))))
    assert "障害注入による返戻です" in err.message and _fired(http, rule) == 1
    assert _count(services, BulkSubmission) == 0  # refused inside the operation: rolled back
    journal = http.get("/__admin/requests", params={"path": "/shinsei/1/access/apply"}).json()["requests"]
    assert journal[0]["account"] == f"{USER}@legacy.shinsei.invalid" and journal[0]["faults"]


def test_latency_on_the_user(logged_in: LegacyClient, http) -> None:
    _fault(http, match={"account": USER, "path": "/shinsei/1/*"}, action={"latency": {"fixed": 0.3}}, times=1)
    start = time.perf_counter()
    assert logged_in.banks().status == 200
    assert time.perf_counter() - start >= 0.3
    entry = http.get("/__admin/requests", params={"path": "/shinsei/1/access/bank"}).json()["requests"][0]
    assert any("latency" in note for note in entry["faults"])


def test_a_rule_on_the_procedure_refuses_the_resubmission(logged_in: LegacyClient, http, services, signer) -> None:
    arrive_id = _arrive(logged_in, services, signer, scenario="resubmit")
    _later(logged_in, services, signer, "PT30M")  # 再提出 asked for
    _fault(http, match={"proc_id": PROC}, action={"status": 503, "detail": "受付を停止しています。"}, times=1)
    again = sample_package(services.catalogue, PROC, signer, apply_type="再提出", first_arrive_id=arrive_id).to_zip()
    err = refused(lambda: logged_in.reamend(arrive_id, upload(again)), 503)
    assert err.message == "受付を停止しています。" and err.appl.find("NewArriveID") is not None
    assert _count(services, Application) == 1  # nothing stored
    assert len(logged_in.reamend(arrive_id, upload(again)).text("NewArriveID")) == 16


def test_rules_on_the_procedure_act_on_a_send_before_it_is_stored(logged_in: LegacyClient, http, services,
                                                                  signer) -> None:
    _fault(http, match={"proc_id": PROC}, action={"status": 503, "detail": "受付を停止しています。"}, times=1)
    err = refused(lambda: logged_in.apply("send.zip", upload(_package(services, signer))), 503)
    assert err.message == "受付を停止しています。" and err.appl.find("SendNumber") is not None
    assert _count(services, BulkSubmission) == 0 and _count(services, Application) == 0
    _fault(http, match={"proc_id": PROC}, action={"auto_return": "missing_salary"}, times=1)
    returned = _send(logged_in, services, signer, count=2)  # fired once for the send: both folders returned
    arrived = _send(logged_in, services, signer)  # times: 1 used up
    advance(services, "PT5M")
    for number, counts in ((returned, ("0", "2")), (arrived, ("1", "0"))):
        sent = logged_in.sended_applications_by_id(number).appl.find("PackageApply")
        assert (sent.findtext("NormalCount"), sent.findtext("ErrorCount")) == counts
    assert "報酬月額" in base64.b64decode(
        logged_in.sended_applications_by_id(returned).text("PackageApply/ErrorFile")).decode()


def test_an_answer_put_in_after_processing_is_the_envelope_and_the_send_was_stored(
        logged_in: LegacyClient, http, services, signer) -> None:
    _fault(http, match={"method": "POST", "path": "/shinsei/1/access/apply"}, action={"status": 500, "when": "after"},
           times=1)
    err = refused(lambda: logged_in.apply("send.zip", upload(_package(services, signer))), 500)
    assert err.appl is not None and err.appl.find("SendNumber") is not None  # XML, not v2's JSON
    assert _count(services, BulkSubmission) == 1  # the outcome is unknown to the client, but it was stored


def test_a_scenario_set_for_the_user_applies_to_its_sends(logged_in: LegacyClient, http, services, signer) -> None:
    resp = http.post("/__admin/scenario", json={"scenario": "notice", "account": USER, "proc_id": PROC})
    assert resp.status_code == 200, resp.text
    number = _send(logged_in, services, signer)  # no header: the admin's rule chooses
    advance(services, "P1DT3H")
    logged_in.login(USER, signer)
    arrive_id = logged_in.arrived_applications(number).text("Apply/ArriveID")
    assert logged_in.notices(arrive_id).text("Comment/DocTitle") == "添付書類の確認について"


def test_a_reset_after_authentication_drops_the_connection(live_server, world, signer, services) -> None:
    with httpx.Client(base_url=live_server) as admin, httpx.Client(base_url=live_server, timeout=10) as http:
        client = LegacyClient(live_server, world.client_id, http=http)
        client.register(USER, signer)
        client.login(USER, signer)
        _fault(admin, match={"account": USER, "path": "/shinsei/1/access/bank"}, action={"reset": True}, times=1)
        with pytest.raises(httpx.TransportError):
            client.banks()
        assert client.banks().status == 200
        entry = admin.get("/__admin/requests", params={"path": "/shinsei/1/access/bank"}).json()["requests"][-1]
        assert entry["status"] == 0


def test_maintenance_refuses_before_authentication(legacy: LegacyClient, http, services, signer) -> None:
    now = services.clock.now()
    http.post("/__admin/maintenance", json={"start": f"{now:%Y-%m-%dT%H:%M:%S}", "end": f"{now:%Y-%m-%d}T23:59:59"})
    with pytest.raises(LegacyApiError) as info:
        legacy.register(USER, signer)
    assert info.value.status == 503 and "メンテナンス" in info.value.message


def test_a_database_outage_answers_503_with_retry_after(logged_in: LegacyClient, monkeypatch) -> None:
    import sqlalchemy as sa
    from egov_sim.filing.legacy.users import LegacyUsers

    def unreachable(*_args: object) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(LegacyUsers, "check_software", unreachable)
    resp = logged_in.http.get("/shinsei/1/access/bank", headers={"X-eGovAPI-SoftwareID": logged_in.software_id,
                                                                 "X-eGovAPI-AccessKey": logged_in.access_key})
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    _envelope(resp)
