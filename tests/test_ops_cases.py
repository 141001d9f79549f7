"""Automatic returns, certificate cases, session cuts, the journal, reset and the admin guard."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from conftest import BASE, advance, certificate_signer
from egov_client import ApiError, EgovClient, UnauthorizedError
from egov_client.explain import explain
from egov_sim import Settings, create_app
from egov_sim.ops.journal import Entry, Journal
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"
MISSING = "未入力のままになっている必須入力項目があります。入力内容を確認してください。"


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _package(services, signer, proc_id: str = PROC) -> bytes:
    return sample_package(services.catalogue, proc_id, signer).to_zip()


def _submit_with_header(http, egov, services, signer, case: str, proc_id: str = PROC) -> httpx.Response:
    import base64

    body = {"proc_id": proc_id, "send_file": {"file_name": f"{proc_id}.zip",
                                               "file_data": base64.b64encode(_package(services, signer, proc_id)).decode()}}
    return http.post("/shinsei/v2/apply", json=body, headers={
        "Authorization": f"Bearer {egov.tokens.access_token}", "X-Sandbox-Auto-Return": case})


# --- 自動返戻 ----------------------------------------------------------------------------------------------

def test_catalogue_auto_return_cases_chosen_per_submission(http, egov, services, signer) -> None:
    resp = _submit_with_header(http, egov, services, signer, "missing_attachment_and_destination")
    assert resp.status_code == 400  # validated against BadRequest_Report by the http fixture
    body = resp.json()
    assert body["detail"] == "申請データに誤りがあります。"
    assert [r["content"] for r in body["report_list"]] == [
        "添付必須のファイル(資格取得届添付書類.pdf)が添付されていません", "提出先情報を設定しなければなりません"]
    resp = _submit_with_header(http, egov, services, signer, "missing_office_number", "900A010200001000")
    assert resp.json()["report_list"] == [{
        "form_name": "ＡＰＩテスト用手続（労働保険関係手続）（通）０００１＿０１", "attached_file_name": "-",
        "file_name": "900A01020000100001_01.xml", "item": "事業所番号", "content": MISSING}]
    assert _count(services) == 0
    cases = http.get(f"/__admin/auto-returns/{PROC}").json()
    assert {"missing_required", "missing_attachment", "missing_destination", "missing_salary"} <= set(cases)


def test_an_injected_auto_return_reaches_the_client_with_explanations(http, egov, services, signer) -> None:
    http.post("/__admin/faults", json={"match": {"proc_id": PROC, "path": "/shinsei/v2/apply"},
                                       "action": {"auto_return": "missing_salary"}, "times": 1})
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, _package(services, signer))
    exc = err.value
    assert exc.status == 400 and exc.messages == [MISSING]
    assert exc.report_list[0]["item"] == "報酬月額（合計）"
    assert exc.explanation.startswith("Automatic return")
    assert egov.submit(PROC, _package(services, signer)).arrive_id  # fired once only
    http.post("/__admin/faults", json={"match": {"method": "POST"}, "times": 1, "action": {
        "report_list": [{"item": "提出先情報", "file_name": "kousei.xml", "content": "提出先情報を設定しなければなりません"}]}})
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, _package(services, signer))
    assert err.value.report_list == [{"form_name": "-", "attached_file_name": "-", "file_name": "kousei.xml",
                                      "item": "提出先情報", "content": "提出先情報を設定しなければなりません"}]
    assert "destination" in err.value.explanation
    assert _count(services) == 1


def test_messages_users_meet_have_english_explanations() -> None:
    for message in ("証明書の有効期限が切れています", "アクセス許可できません。再度、利用者認証を行ってください。",
                    "利用者認証でエラーが発生しました", MISSING, "提出先情報を設定しなければなりません",
                    "添付必須のファイル(賃金台帳.pdf)が添付されていません", "PIN が不正です",
                    "トークンの有効期限が切れています"):
        assert explain(message), message
    assert explain("謎のエラー", 503) == "e-Gov is in maintenance or overloaded."
    assert explain("謎のエラー") == ""


# --- certificates and sessions ------------------------------------------------------------------------

@pytest.mark.parametrize(("label", "english"), [
    ("expired", "expired"), ("revoked", "revoked"), ("unregistered", "not registered at e-Gov yet")])
def test_certificate_errors_carry_japanese_and_english(label, english, egov, services) -> None:
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, _package(services, certificate_signer(services, label)))
    assert english in err.value.explanation


def test_applications_sent_with_an_old_certificate_stay_retrievable_after_it_is_replaced(
        http, egov, services) -> None:
    services.clock.update(frozen=True)
    old = certificate_signer(services, "valid")
    arrive_id = egov.submit(PROC, _package(services, old)).arrive_id
    # the company's registered address changes: the old certificate is revoked from now on
    assert http.post("/__admin/certificates/valid/revoke", json={}).status_code == 200
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, _package(services, old))
    assert err.value.message == "アクセス許可できません。再度、利用者認証を行ってください。"
    new = certificate_signer(services, "unregistered")  # freshly issued: e-Gov registers it after about a day
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, _package(services, new))
    assert err.value.message == "利用者認証でエラーが発生しました"
    advance(services, "P1DT1H")
    replaced = egov.submit(PROC, _package(services, new)).arrive_id
    assert egov.get_application(arrive_id).arrive_id == arrive_id  # sent with the old one: still there
    today = services.clock.now().date()
    listed = {a.arrive_id for a in egov.list_applications(date_from=today - timedelta(days=2),
                                                          date_to=today).applications}
    assert listed == {arrive_id, replaced}
    assert http.post("/__admin/certificates/nope/revoke", json={}).status_code == 404


def test_a_session_cut_gives_401_and_a_new_login_works(http, endpoint, world, services, signer) -> None:
    account = world.account("demo")
    egov = EgovClient.login(endpoint, account["username"], account["password"], http=http)
    arrive_id = egov.submit(PROC, _package(services, signer)).arrive_id
    cut = http.post("/__admin/sessions/cut", json={"account": "demo"}).json()
    assert cut["sessions_cut"] >= 1
    resp = http.get(f"/shinsei/v2/apply/{arrive_id}", headers={"Authorization": f"Bearer {egov.tokens.access_token}"})
    assert resp.status_code == 401 and resp.content == b""
    with pytest.raises(UnauthorizedError) as err:
        egov.get_application(arrive_id)
    assert err.value.refresh_failed and "ログイン" in err.value.message and "Log in" in err.value.explanation
    again = EgovClient.login(endpoint, account["username"], account["password"], http=http)
    assert again.get_application(arrive_id).arrive_id == arrive_id
    assert http.post("/__admin/sessions/cut", json={"account": "nobody"}).status_code == 404


# --- journal, reset, guard ------------------------------------------------------------------------------

def test_the_journal_lists_filters_and_is_bounded(http, egov, services, world) -> None:
    egov.get_procedure(PROC)
    http.get("/shinsei/v2/apply/9502026000000999", headers={"Authorization": f"Bearer {egov.tokens.access_token}"})
    http.get("/shinsei/v2/apply/9502026000000998")
    entries = http.get("/__admin/requests").json()["requests"]
    assert [e["status"] for e in entries[:3]] == [401, 404, 200]
    demo = world.account("demo")["username"]
    assert {e["account"] for e in http.get("/__admin/requests", params={"account": demo}).json()["requests"]} == {demo}
    assert [e["status"] for e in http.get("/__admin/requests", params={"status": "4xx"}).json()["requests"]] == [401, 404]
    only = http.get("/__admin/requests", params={"path": "/shinsei/v2/procedure/*"}).json()["requests"]
    assert len(only) == 1 and only[0]["response_body"].startswith('{"metadata"')
    assert "Authorization" not in only[0]["request_headers"]
    assert http.delete("/__admin/requests").status_code == 204
    assert http.get("/__admin/requests").json()["requests"] == []
    journal = Journal(size=3)
    for i in range(5):
        journal.add(Entry(id=journal.next_id(), at="", method="GET", path=f"/p/{i}", query="", account=None,
                          status=200, duration_ms=0))
    assert [e.path for e in journal.find()] == ["/p/4", "/p/3", "/p/2"]


def test_reset_returns_to_the_demo_world_and_clears_the_ops_room(http, egov, services, signer) -> None:
    egov.submit(PROC, _package(services, signer))
    assert http.post("/__admin/faults", json={"action": {"latency": 0}}).status_code == 201
    http.post("/__admin/maintenance", json={"start": "2030-01-01T00:00:00", "duration": "PT1H"})
    assert http.post("/__admin/reset").json()["reset"] is True
    assert http.get("/__admin/faults").json()["faults"] == []
    assert http.get("/__admin/maintenance").json()["windows"] == []
    assert http.get("/__admin/requests").json()["requests"] == []
    assert _count(services) == 0


def test_the_admin_api_is_open_on_loopback_and_needs_a_token_elsewhere(sim, tmp_path) -> None:
    remote = httpx.WSGITransport(app=sim, remote_addr="192.0.2.10")
    with httpx.Client(transport=remote, base_url=BASE) as client:
        assert client.get("/__admin/faults").status_code == 403
        assert client.get("/maintenance.json").status_code == 200  # the public notice is public
    db = sim.extensions["egov_sim"].settings.resolved_database_url
    guarded = create_app(Settings(database_url=db, data_dir=tmp_path, admin_token="s3cret"))
    with httpx.Client(transport=httpx.WSGITransport(app=guarded, remote_addr="192.0.2.10"), base_url=BASE) as c:
        assert c.get("/__admin/requests").status_code == 401
        assert c.get("/__admin/requests", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.post("/__admin/faults", headers={"X-Admin-Token": "s3cret"},
                      json={"action": {"latency": 0}}).status_code == 201
    guarded.extensions["egov_sim"].db.dispose()
