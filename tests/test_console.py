"""The web console (/__console) over HTTP: the admin guard (foreign Host, other sites, the admin token),
CSRF on every form (refused and nothing changed), each form's Japanese errors (nothing changed), each
page rendering, and the pages agreeing with the API: statuses as the client reads them through
/shinsei/v2 (validated against the OpenAPI document by the `http` fixture), rules as /__admin lists them."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import BASE, advance
from egov_client import EgovClient
from egov_sim import Settings, create_app
from egov_sim.world.packages import sample_package

PROC = "950A010700005000"
C = "/__console"


def csrf(http: httpx.Client, path: str = f"{C}/clock") -> str:
    """The token of this browser's forms (the page sets its cookie)."""
    page = http.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def post(http: httpx.Client, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
    return http.post(path, data={**data, "csrf_token": csrf(http)}, headers=headers)


def errors(page: httpx.Response) -> list[str]:
    block = re.search(r'<div class="errors" id="errors".*?</div>', page.text, re.S)
    return [html.unescape(e) for e in re.findall(r"<li>(.*?)</li>", block.group(0))] if block else []


def submit(egov: EgovClient, services: Any, signer: Any, **headers: str) -> str:
    package = sample_package(services.catalogue, PROC, signer).to_zip()
    return egov.submit(PROC, package).arrive_id


def clock_now(http: httpx.Client) -> str:
    return http.get("/__admin/clock").json()["now"]


# --- guard -------------------------------------------------------------------------------------------------

def test_guard_refuses_foreign_hosts_other_sites_and_missing_csrf_and_changes_nothing(http: httpx.Client) -> None:
    r = http.get(f"{C}/", headers={"Host": "attacker.example"})
    assert r.status_code == 403 and "Hostヘッダ" in r.text and r.headers["Content-Type"].startswith("text/html")
    assert http.get(f"{C}/", headers={"Host": "localhost:8080"}).status_code == 200
    token = csrf(http)
    before = clock_now(http)
    form = {"action": "advance", "advance": "P3D", "csrf_token": token}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "null"}):
        r = http.post(f"{C}/clock", data=form, headers=headers)
        assert r.status_code == 403 and "クロスサイト" in r.text, headers
    r = http.post(f"{C}/clock", data={"action": "advance", "advance": "P3D"})  # no token
    assert r.status_code == 403 and "CSRFトークン" in r.text
    r = http.post(f"{C}/clock", data={**form, "csrf_token": "forged.0000"})
    assert r.status_code == 403
    other = httpx.Client(transport=http._transport, base_url=BASE)  # another browser: its own cookie, not ours
    other.get(f"{C}/clock")
    assert other.post(f"{C}/clock", data=form).status_code == 403
    assert clock_now(http)[:16] == before[:16]  # nothing moved (3 days would show)
    odd = httpx.Client(transport=http._transport, base_url=BASE, cookies={"egov_console_csrf": '"><b>x</b>'})
    page = odd.get(f"{C}/clock")  # a cookie not of our shape is replaced, never echoed into the page
    assert "<b>x</b>" not in page.text and "egov_console_csrf=" in page.headers["set-cookie"]
    r = http.post(f"{C}/clock", data=form, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/clock?done=clock")
    assert clock_now(http)[:10] != before[:10]


def test_admin_token_is_asked_once_and_kept_in_a_cookie(template_db: Any, tmp_path: Any) -> None:
    import shutil

    shutil.copy(template_db, tmp_path / "sim.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'sim.sqlite'}", data_dir=tmp_path,
                              public_url=BASE, admin_token="s3cret-token"))
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=app, remote_addr="192.0.2.7"), base_url=BASE) as browser:
            r = browser.get(f"{C}/faults")
            assert r.status_code == 303 and "/__console/login" in r.headers["Location"]
            page = browser.get(r.headers["Location"])
            assert page.status_code == 200 and "トークン" in page.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            login = f"{C}/login?next={C}/faults"
            r = browser.post(login, data={"token": "wrong", "csrf_token": token})
            assert r.status_code == 401 and "トークンが違います" in r.text
            assert browser.post(login, data={"token": "s3cret-token"}).status_code == 403  # no CSRF token
            r = browser.post(login, data={"token": "s3cret-token", "csrf_token": token})
            assert r.status_code == 303 and r.headers["Location"] == f"{C}/faults"
            assert browser.get(f"{C}/faults").status_code == 200
            r = browser.post(f"{C}/login?next=https://evil.example/", data={"token": "s3cret-token", "csrf_token": token})
            assert r.headers["Location"] == f"{C}/"  # no open redirect
        with httpx.Client(transport=httpx.WSGITransport(app=app, remote_addr="192.0.2.7"), base_url=BASE) as admin:
            assert admin.get("/__admin/clock").status_code == 401  # the admin API's own door is unchanged
            assert admin.get("/__admin/clock", headers={"X-Admin-Token": "s3cret-token"}).status_code == 200
    finally:
        app.extensions["egov_sim"].db.dispose()


def test_sandbox_mode_has_no_console(template_db: Any, tmp_path: Any) -> None:
    import shutil

    shutil.copy(template_db, tmp_path / "sim.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'sim.sqlite'}", data_dir=tmp_path,
                              public_url=BASE, sandbox_mode=True))
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as browser:
            r = browser.get(f"{C}/")
            assert r.status_code == 404 and "検証環境" in r.text
            assert browser.get(f"{C}/applications").status_code == 404
    finally:
        app.extensions["egov_sim"].db.dispose()


def test_without_a_token_only_loopback_clients_may_open_it(sim: Any) -> None:
    with httpx.Client(transport=httpx.WSGITransport(app=sim, remote_addr="192.0.2.7"), base_url=BASE) as remote:
        r = remote.get(f"{C}/")
        assert r.status_code == 403 and "ループバック" in r.text


def test_unknown_world_is_a_japanese_404(http: httpx.Client) -> None:
    r = http.get(f"{C}/w/nowhere/applications")
    assert r.status_code == 404 and "ワールド「nowhere」は存在しません" in r.text
    assert http.get(f"{C}/w/default/applications").status_code in (200, 308)
    r = http.get(f"{C}/applications/9509999000000001")
    assert r.status_code == 404 and "案件はありません" in r.text


def test_worlds_are_created_entered_and_deleted_from_the_console(http: httpx.Client) -> None:
    csrf(http)  # the browser has its cookie, but the form carries no token: nothing made
    assert http.post(f"{C}/worlds", data={}).status_code == 403
    assert http.get("/__admin/worlds").json()["worlds"] == []
    made = http.post(f"{C}/worlds", data={"csrf_token": csrf(http)})
    assert made.status_code == 303
    world_id = made.headers["location"].split("/w/", 1)[1].split("/", 1)[0]
    listed = http.get("/__admin/worlds").json()["worlds"]
    assert [w["id"] for w in listed] == [world_id]
    page = http.get(f"{C}/w/{world_id}/")
    assert page.status_code == 200 and listed[0]["client_secret"] in page.text  # its credentials, shown
    token = csrf(http, f"{C}/w/{world_id}/clock")  # a clock jump inside the world stays inside it
    before = http.get("/__admin/clock").json()["now"]
    assert http.post(f"{C}/w/{world_id}/clock", data={"csrf_token": token, "action": "advance",
                                                        "advance": "P2D"}).status_code == 303
    assert http.get("/__admin/clock").json()["now"][:13] == before[:13]
    assert http.get(f"/__admin/worlds/{world_id}/clock").json()["now"][:10] > before[:10]
    gone = http.post(f"{C}/worlds/{world_id}/delete", data={"csrf_token": csrf(http)})
    assert gone.status_code == 303 and http.get("/__admin/worlds").json()["worlds"] == []
    assert http.get(f"{C}/w/{world_id}/").status_code == 404
    assert "ワールドを削除できません" in http.post(f"{C}/worlds/{world_id}/delete",
                                               data={"csrf_token": csrf(http)}).text


# --- pages and forms ---------------------------------------------------------------------------------------

def test_every_page_renders_in_japanese(http: httpx.Client, egov: EgovClient, services: Any, signer: Any) -> None:
    arrive_id = submit(egov, services, signer)
    journal_id = http.get("/__admin/requests").json()["requests"][0]["id"]
    pages = {"/": "ダッシュボード", "/applications": "申請一覧", f"/applications/{arrive_id}": "タイムライン",
             "/clock": "仮想時計", "/maintenance": "■ 作業予定日時", "/faults": "障害注入", "/requests": "リクエスト履歴",
             f"/requests/{journal_id}": "レスポンス", "/gbizid": "送信箱（SMS）"}
    for path, heading in pages.items():
        r = http.get(C + path)
        assert r.status_code == 200, (path, r.text[-500:])
        assert '<html lang="ja">' in r.text and heading in r.text, path
        assert r.headers["Cache-Control"] == "no-store"


def test_case_page_follows_the_clock_and_the_advance_button(http: httpx.Client, egov: EgovClient, services: Any,
                                                            signer: Any) -> None:
    arrive_id = submit(egov, services, signer)
    page = http.get(f"{C}/applications/{arrive_id}").text
    assert egov.get_application(arrive_id).status == "到達"
    assert '<td id="status" class="status">到達' in page
    assert page.count('class="scheduled"') == 3  # 審査中, 審査終了 (公文書), 手続終了 — still to come
    r = post(http, f"{C}/applications/{arrive_id}/advance", {})
    assert r.status_code == 303
    page = http.get(r.headers["Location"]).text
    assert "次の手順に進めました" in page
    assert egov.get_application(arrive_id).status == "審査中"  # the API agrees
    assert '<td id="status" class="status">審査中' in page and page.count('class="scheduled"') == 2
    advance(services, "P4D")
    page = http.get(f"{C}/applications/{arrive_id}").text
    status = egov.get_application(arrive_id).status
    assert f'<td id="status" class="status">{status}' in page and "公文書(001)" in page
    r = post(http, f"{C}/applications/{arrive_id}/advance", {})
    assert r.status_code == 409 and "進められる手順がありません" in r.text
    r = post(http, f"{C}/applications/{arrive_id}/pay", {})
    assert r.status_code == 409 and "納付待ちの納付がありません" in r.text


def test_pay_and_scenario_buttons(http: httpx.Client, egov: EgovClient, services: Any, signer: Any) -> None:
    first = submit(egov, services, signer)
    r = post(http, f"{C}/applications/{first}/scenario", {"scenario": "nonesuch", "account": "demo@egov.example.jp",
                                                          "proc_id": PROC, "count": "1"})
    assert r.status_code == 400 and "シナリオは" in errors(r)[0]
    r = post(http, f"{C}/applications/{first}/scenario", {"scenario": "payment", "account": "demo@egov.example.jp",
                                                          "proc_id": PROC, "count": "0"})
    assert r.status_code == 400 and errors(r) == ["件数は1〜1000の整数で入力してください（入力値: 0）。"]
    r = post(http, f"{C}/applications/{first}/scenario", {"scenario": "payment", "account": "demo@egov.example.jp",
                                                          "proc_id": PROC, "count": "1"})
    assert r.status_code == 303
    paying = submit(egov, services, signer)
    assert egov.get_application(paying).pay_status == "納付待ち"
    page = http.get(f"{C}/applications/{paying}").text
    assert "納付待ち" in page and "1,000円" in page
    r = post(http, f"{C}/applications/{paying}/pay", {})
    assert r.status_code == 303
    assert egov.get_application(paying).pay_status == "納付済み"
    assert "納付済み" in http.get(f"{C}/applications/{paying}").text
    assert submit(egov, services, signer) and egov.get_application(paying).pay_status == "納付済み"


def test_application_list_filters_by_status_group_and_send_date_and_pages(http: httpx.Client, egov: EgovClient,
                                                                         services: Any, signer: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from egov_sim.console import forms

    old = submit(egov, services, signer)
    advance(services, "PT3H")  # old: 審査中
    new = [submit(egov, services, signer) for _ in range(2)]  # 到達
    today = clock_now(http)[:10]
    listing = http.get(f"{C}/applications").text
    assert all(a in listing for a in [old, *new]) and "3件" in listing
    assert f'value="{today}"' in listing  # the seed's default range ends today
    by_group = {g: http.get(f"{C}/applications", params={"group": g}).text for g in ("審査中", "処理中", "終了")}
    assert old in by_group["審査中"] and not any(a in by_group["審査中"] for a in new)
    assert all(a in by_group["処理中"] for a in new) and old not in by_group["処理中"]
    assert "該当する申請はありません" in by_group["終了"]
    assert egov.get_application(old).status == "審査中" and egov.get_application(new[0]).status == "到達"
    tomorrow = http.get(f"{C}/applications", params={"sent_from": "2999-01-01", "sent_to": ""}).text
    assert "該当する申請はありません" in tomorrow
    monkeypatch.setattr(forms, "PAGE_SIZE", 2)
    first = http.get(f"{C}/applications").text
    second = http.get(f"{C}/applications", params={"page": "2"}).text
    assert "（1/2ページ）" in first and 'id="next"' in first and old not in first and old in second
    for params, message in (({"sent_from": "2026-13-01"}, "送信日時（開始）は日付"),
                            ({"sent_from": "2026-05-02", "sent_to": "2026-05-01"}, "開始は終了より前"),
                            ({"group": "保留"}, "到達状況は 全て/審査中/処理中/終了/要再申請/取下げ処理中")):
        r = http.get(f"{C}/applications", params=params)
        assert r.status_code == 400 and any(message in e for e in errors(r)), (params, errors(r))


def test_clock_form(http: httpx.Client) -> None:
    before = http.get("/__admin/clock").json()
    for data, message in (({"action": "advance", "advance": "3 hours"}, "進める時間は PT3H"),
                          ({"action": "advance", "advance": ""}, "進める時間を入力"),
                          ({"action": "speed", "speed": "0"}, "速さは0より大きく"),
                          ({"action": "speed", "speed": "fast"}, "速さは0より大きく"),
                          ({"action": "set", "set_to": "someday"}, "設定する日時は日時"),
                          ({"action": "warp"}, "操作を選んでください")):
        r = post(http, f"{C}/clock", data)
        assert r.status_code == 400 and any(message in e for e in errors(r)), (data, errors(r))
    after = http.get("/__admin/clock").json()
    assert (after["speed"], after["frozen"], after["now"][:16]) == (before["speed"], before["frozen"], before["now"][:16])
    assert post(http, f"{C}/clock", {"action": "freeze"}).status_code == 303
    assert http.get("/__admin/clock").json()["frozen"] is True
    assert "停止中" in http.get(f"{C}/clock").text
    assert post(http, f"{C}/clock", {"action": "speed", "speed": "60"}).status_code == 303
    assert http.get("/__admin/clock").json()["speed"] == 60
    assert post(http, f"{C}/clock", {"action": "set", "set_to": "2027-04-01T09:00"}).status_code == 303
    assert http.get("/__admin/clock").json()["now"].startswith("2027-04-01 09:00")


def test_maintenance_form(http: httpx.Client) -> None:
    for data, message in (({"kind": "once", "start": "", "end": "2027-01-01T06:00"}, "開始日時を入力"),
                          ({"kind": "once", "start": "2027-01-02T06:00", "end": "2027-01-01T06:00"}, "終了日時は開始日時より後"),
                          ({"kind": "recurring", "time": "18:00", "duration": "PT6H"}, "繰り返す曜日"),
                          ({"kind": "recurring", "weekdays": "mon", "time": "25:99", "duration": "PT6H"}, "開始時刻は HH:MM"),
                          ({"kind": "recurring", "weekdays": "mon", "time": "18:00", "duration": "P8D"}, "1分以上7日以内"),
                          ({"kind": "once", "start": "2027-01-01T00:00", "end": "2027-01-01T06:00",
                            "lose_before": "ten minutes"}, "直前に失われる送信の期間は")):
        r = post(http, f"{C}/maintenance", data)
        assert r.status_code == 400 and any(message in e for e in errors(r)), (data, errors(r))
    assert http.get("/__admin/maintenance").json()["windows"] == []
    start = (datetime.fromisoformat(clock_now(http)) + timedelta(days=2)).date()
    r = post(http, f"{C}/maintenance", {"kind": "once", "title": "年末年始", "start": f"{start}T06:00",
                                        "end": f"{start + timedelta(days=3)}T06:00", "auth_down": "on", "announce": "on"})
    assert r.status_code == 303
    [window] = http.get("/__admin/maintenance").json()["windows"]
    assert window["title"] == "年末年始" and window["auth_down"] is True and window["start"].startswith(f"{start}T06:00")
    public = http.get("/maintenance.json").json()["schedule"][0]
    page = http.get(f"{C}/maintenance").text
    assert public["start_text"] in page and public["end_text"] in page  # the notice's own wording
    r = post(http, f"{C}/maintenance", {"kind": "recurring", "weekdays": ["mon", "fri"], "time": "18:00",
                                        "duration": "PT6H"})
    assert r.status_code == 303
    windows = http.get("/__admin/maintenance").json()["windows"]
    assert windows[1]["recurrence"] == {"weekdays": ["mon", "fri"], "start": "18:00", "duration": "PT6H",
                                        "first": None, "last": None}
    assert post(http, f"{C}/maintenance/{window['id']}/delete", {}).status_code == 303
    assert [w["id"] for w in http.get("/__admin/maintenance").json()["windows"]] == [windows[1]["id"]]
    assert post(http, f"{C}/maintenance/{window['id']}/delete", {}).status_code == 404


def test_fault_form_and_hit_counts(http: httpx.Client, egov: EgovClient) -> None:
    for data, message in (({"kind": "status", "value": "503"}, "対象（メソッド・パス・アカウント・手続ID）を1つ以上"),
                          ({"path": "/shinsei/v2/apply/lists", "kind": "status", "value": "200"}, "HTTPステータスは400〜599"),
                          ({"path": "/shinsei/v2/apply/lists", "kind": "latency", "value": ""}, "遅延の秒数を入力"),
                          ({"path": "/shinsei/v2/apply/lists", "kind": "auto_return", "value": ""}, "ケース名"),
                          ({"path": "/shinsei/v2/apply/lists", "kind": "status", "value": "503", "times": "0"}, "回数は1〜"),
                          ({"path": "/shinsei/v2/apply/lists", "kind": "status", "value": "503", "probability": "2"}, "確率は"),
                          ({"path": "/elsewhere", "kind": "status", "value": "503"}, "path"),  # the backend's refusal
                          ({"path": "/shinsei/v2/apply/lists", "kind": "boom"}, "障害の種類を選んでください")):
        r = post(http, f"{C}/faults", data)
        assert r.status_code == 400 and any(message in e for e in errors(r)), (data, errors(r))
    assert http.get("/__admin/faults").json()["faults"] == []
    r = post(http, f"{C}/faults", {"name": "混雑", "method": "GET", "path": "/shinsei/v2/apply/lists", "kind": "status",
                                   "value": "503", "times": "1", "when": "before"})
    assert r.status_code == 303
    [rule] = http.get("/__admin/faults").json()["faults"]
    assert rule["match"] == {"method": "GET", "path": "/shinsei/v2/apply/lists"} and rule["action"]["status"] == 503
    resp = http.get("/shinsei/v2/apply/lists", params={"date_from": "2020-01-01", "date_to": "2020-01-02"},
                    headers={"Authorization": f"Bearer {egov.tokens.access_token}"})
    assert resp.status_code == 503
    page = http.get(f"{C}/faults").text
    assert re.search(rf'data-rule-id="{rule["id"]}">.*?<td class="fired">1</td>', page, re.S)
    journal = http.get(f"{C}/requests", params={"status": "503"}).text
    assert "/shinsei/v2/apply/lists" in journal and f"#{rule['id']} 混雑" in journal
    assert post(http, f"{C}/faults/{rule['id']}/delete", {}).status_code == 303
    assert http.get("/__admin/faults").json()["faults"] == []


def test_request_journal_filters_and_opens_one(http: httpx.Client, egov: EgovClient) -> None:
    egov.list_applications(date_from=date(2020, 1, 1), date_to=date(2020, 1, 31))
    r = http.get(f"{C}/requests", params={"status": "five"})
    assert r.status_code == 400 and "ステータスは 503 や 5xx" in errors(r)[0]
    r = http.get(f"{C}/requests", params={"limit": "0"})
    assert r.status_code == 400 and "件数は1〜1000" in errors(r)[0]
    listing = http.get(f"{C}/requests", params={"path": "/shinsei/v2/apply/lists", "method": "GET"}).text
    ids = re.findall(r'data-request-id="(\d+)"', listing)
    assert ids and "/auth/token" not in listing
    entry = http.get("/__admin/requests").json()["requests"]
    wanted = next(e for e in entry if e["id"] == int(ids[0]))
    page = http.get(f"{C}/requests/{ids[0]}").text
    assert wanted["response_body"] in html.unescape(page) and wanted["path"] in page
    assert http.get(f"{C}/requests/999999").status_code == 404


def test_gbizid_outbox_and_suspension(http: httpx.Client, world: Any) -> None:
    sole = next(a for a in world.gbizid["accounts"] if a["alias"] == "sole")
    page = http.get(f"{C}/gbizid").text
    assert sole["account_id"] in page
    r = post(http, f"{C}/gbizid/accounts/{sole['account_id']}/suspend", {"reason": "調査のため"})
    assert r.status_code == 303
    account = http.get(f"/__admin/gbizid/accounts/{sole['account_id']}").json()
    assert account["status"] == "suspended" and account["events"][-1]["reason"] == "調査のため"
    r = post(http, f"{C}/gbizid/accounts/{sole['account_id']}/suspend", {"reason": ""})
    assert r.status_code == 409 and "既に利用停止中" in errors(r)[0]
    assert post(http, f"{C}/gbizid/accounts/{sole['account_id']}/resume", {}).status_code == 303
    assert http.get(f"/__admin/gbizid/accounts/{sole['account_id']}").json()["status"] == "active"


# --- the same reads in the admin API ---------------------------------------------------------------------------

def test_admin_api_lists_cases_as_the_api_reports_them(http: httpx.Client, egov: EgovClient, services: Any,
                                                        signer: Any) -> None:
    from egov_client.admin import AdminError, SimulatorAdmin

    admin = SimulatorAdmin(BASE, http=http)
    first = submit(egov, services, signer)
    advance(services, "PT3H")
    second = submit(egov, services, signer)
    today = date.fromisoformat(clock_now(http)[:10])
    listed = egov.list_applications(date_from=today - timedelta(days=1), date_to=today)  # /apply/lists
    api = {a.arrive_id: a.status for a in listed.applications}
    ours = admin.applications()
    assert {a["arrive_id"]: a["status"] for a in ours["applications"]} == api == {first: "審査中", second: "到達"}
    assert [a["arrive_id"] for a in admin.applications(group="審査中")["applications"]] == [first]
    assert admin.applications(group="処理中", limit=1)["total"] == 1
    case = admin.application(first)
    assert [(s["status"], s["done"]) for s in case["steps"]] == [
        ("到達", True), ("審査中", True), ("審査終了", False), ("手続終了", False)]
    assert case["steps"][2]["parts"] == ["公文書「公文書(001)」"]
    for params in ({"group": "保留"}, {"sent_from": "yesterday"}, {"limit": "0"}):
        r = http.get("/__admin/applications", params=params)
        assert r.status_code == 400 and r.json()["title"] == "Bad Request", params
    with pytest.raises(AdminError) as missing:
        admin.application("9509999000000001")
    assert missing.value.status == 404
    entry = admin.requests(limit=1)[0]
    assert admin.request(entry["id"]) == entry
