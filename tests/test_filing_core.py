"""The foundation end to end: log in, fetch a skeleton, submit a signed package, watch the status move."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import date, timedelta

import httpx
import pytest
from conftest import BASE, advance, certificate_signer
from egov_client import ApiError, AsyncEgovClient, EgovClient, NotFoundError, UnauthorizedError
from egov_client.config import simulator
from egov_format.package import Skeleton
from egov_format.zipsafe import read_zip
from egov_sim import Settings, create_app
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _submit(egov: EgovClient, services, signer, proc_id: str = PROC, **kwargs):
    package = sample_package(services.catalogue, proc_id, signer, **kwargs)
    return egov.submit(proc_id, package.to_zip())


def test_skeleton_zip_matches_file_info(egov: EgovClient) -> None:
    for proc_id in ("950A010700005000", "900A102800072000", "950A010002012000", "495A010200003000"):
        skeleton = egov.get_procedure(proc_id)
        files = read_zip(skeleton.file_data)
        assert {name.split("/")[0] for name in files} == {proc_id}
        names = {name.split("/", 1)[1] for name in files}
        assert "kousei.xml" in names and skeleton.configuration_file_name == ["kousei.xml"]
        for info in skeleton.file_info:
            assert info.form_id.startswith(proc_id)
            for f in (info.apply_file_name, info.xsl_file_name, info.server_check_file_name, info.schema_file_name):
                assert f in names
        parsed = Skeleton.from_zip(skeleton.file_data)
        assert parsed.form_files == [i.apply_file_name for i in skeleton.file_info]


def test_status_moves_through_the_scenario_on_the_virtual_clock(egov: EgovClient, services, signer) -> None:
    services.clock.update(frozen=True)
    result = _submit(egov, services, signer)
    assert len(result.arrive_id) == 16 and result.arrive_id.startswith("950")
    assert result.apply_type == "新規申請" and result.ministry_name == "厚生労働省"
    assert result.links["status"].endswith(f"/apply/{result.arrive_id}")
    seen = [egov.get_application(result.arrive_id).status]
    for step in ("PT2H", "P2DT22H", "PT1H"):
        advance(services, step)
        seen.append(egov.get_application(result.arrive_id).status)
    assert seen == ["到達", "審査中", "審査終了", "手続終了"]


def test_withdraw_flag_is_not_offered_right_after_sending(egov: EgovClient, services, signer) -> None:
    services.clock.update(frozen=True)
    arrive_id = _submit(egov, services, signer).arrive_id
    assert egov.get_application(arrive_id).withdraw_flag is False
    advance(services, "PT10M")
    assert egov.get_application(arrive_id).withdraw_flag is True
    advance(services, "P4D")
    assert egov.get_application(arrive_id).withdraw_flag is False  # 手続終了


def test_a_restart_keeps_the_application(egov: EgovClient, services, signer, sim, tmp_path, endpoint, world) -> None:
    arrive_id = _submit(egov, services, signer).arrive_id
    url = services.settings.resolved_database_url
    services.db.dispose()
    restarted = create_app(Settings(database_url=url, data_dir=tmp_path))
    with httpx.Client(transport=httpx.WSGITransport(app=restarted), base_url=BASE) as http:
        again = EgovClient(endpoint, egov.tokens, http=http)
        assert again.get_application(arrive_id).arrive_id == arrive_id


def test_trial_mode_is_visible_only_to_trial_queries(egov: EgovClient, services, signer) -> None:
    trial = egov.trial_mode()
    result = _submit(trial, services, signer)
    assert result.arrive_id
    today = services.clock.now().date()
    assert trial.get_application(result.arrive_id).status == "到達"
    assert [a.arrive_id for a in trial.list_applications(date_from=today, date_to=today).applications] == [
        result.arrive_id]
    with pytest.raises(NotFoundError):
        egov.get_application(result.arrive_id)
    assert egov.list_applications(date_from=today, date_to=today).applications == []


def test_lists_by_date_with_paging_and_by_send_number(egov: EgovClient, services, signer) -> None:
    arrivals = [_submit(egov, services, signer).arrive_id for _ in range(3)]
    today = services.clock.now().date()
    page1 = egov.list_applications(date_from=today - timedelta(days=1), date_to=today, limit=2, offset=0)
    assert page1.resultset.all_count == 3 and page1.resultset.count == 2 and page1.has_next
    assert "previous" not in page1.links
    page2 = egov.list_applications(date_from=today, date_to=today, limit=2, offset=2)
    assert page2.resultset.count == 1 and not page2.has_next and "previous" in page2.links
    assert sorted(a.arrive_id for a in page1.applications + page2.applications) == sorted(arrivals)
    first = page1.applications[0]
    assert first.send_number and len(first.send_number) == 18
    by_send = egov.list_applications(send_number=first.send_number)
    assert [a.arrive_id for a in by_send.applications] == [first.arrive_id]
    assert egov.list_applications(date_from=date(2001, 1, 1), date_to=date(2001, 1, 2)).applications == []


# --- refusals: a spec-shaped error and nothing stored ----------------------------------------------------

def _post_apply(http: httpx.Client, token: str, body) -> httpx.Response:
    kwargs = {"json": body} if not isinstance(body, bytes) else {"content": body}
    return http.post("/shinsei/v2/apply", headers={"Authorization": f"Bearer {token}",
                                                   "Content-Type": "application/json"}, **kwargs)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _body(raw: bytes, proc_id: str = PROC) -> dict:
    return {"proc_id": proc_id, "send_file": {"file_name": "a.zip", "file_data": base64.b64encode(raw).decode()}}


def _package_files(services, signer) -> dict[str, bytes]:
    pkg = sample_package(services.catalogue, PROC, signer)
    return {f"{PROC}/{name}": data for name, data in pkg.files.items()}


def _tampered(services, signer) -> bytes:
    files = _package_files(services, signer)
    name = f"{PROC}/950A01070000500001_01.xml"
    files[name] = files[name].replace("山田".encode(), "田中".encode())
    return _zip(files)


BAD_BODIES = {
    "malformed json": lambda s, g: b"{not json",
    "bad base64": lambda s, g: {"proc_id": PROC, "send_file": {"file_name": "a.zip", "file_data": "@@@not base64"}},
    "not a zip": lambda s, g: _body(b"this is not a zip"),
    "no proc folder": lambda s, g: _body(_zip({name.split("/", 1)[1]: d for name, d in _package_files(s, g).items()})),
    "missing kousei": lambda s, g: _body(_zip({n: d for n, d in _package_files(s, g).items() if "kousei" not in n})),
    "dtd in xml": lambda s, g: _body(_zip({**_package_files(s, g), f"{PROC}/kousei.xml": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><DataRoot>&b;</DataRoot>')})),
    "tampered form": lambda s, g: _body(_tampered(s, g)),
    "unknown proc": lambda s, g: _body(_zip(_package_files(s, g)), proc_id="999A999999999999"),
    "path escape": lambda s, g: _body(_zip({**_package_files(s, g), f"{PROC}/../../etc/passwd": b"x"})),
    "missing proc_id": lambda s, g: {"send_file": {"file_name": "a.zip", "file_data": "UEs="}},
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_input_gets_a_spec_shaped_400_and_stores_nothing(case, http, egov, services, signer) -> None:
    before = _count(services)
    resp = _post_apply(http, egov.tokens.access_token, BAD_BODIES[case](services, signer))
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["title"] == "Bad Request" and body["detail"] and body["instance"] == "/shinsei/v2/apply"
    assert _count(services) == before


def test_tampered_form_names_the_signature_problem(http, egov, services, signer) -> None:
    body = _post_apply(http, egov.tokens.access_token, _body(_tampered(services, signer))).json()
    assert any("署名" in r["content"] for r in body["report_list"])


def test_zip_bomb_is_refused_before_extraction(http, egov, services, signer) -> None:
    files = _package_files(services, signer)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr(f"{PROC}/bomb.txt", b"\0" * (60 * 1024 * 1024))
    resp = _post_apply(http, egov.tokens.access_token, _body(buf.getvalue()))
    assert resp.status_code in (400, 413)
    assert _count(services) == 0


def test_over_size_request_gets_413(sim, http, egov, services) -> None:
    sim.config["MAX_CONTENT_LENGTH"] = 1024
    resp = _post_apply(http, egov.tokens.access_token, {"proc_id": PROC, "send_file": {
        "file_name": "a.zip", "file_data": "QUFB" * 1000}})
    assert resp.status_code == 413 and resp.json()["title"] == "Request Entity Too Large"


def test_missing_required_items_come_back_as_an_automatic_return(egov, services, signer) -> None:
    package = sample_package(services.catalogue, PROC, None)
    package.set_form_value("950A01070000500001", "被保険者/報酬月額/合計", "")
    package.set_destination("", "")
    package.sign(signer)
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, package.to_zip(validate=False))
    reports = err.value.report_list
    assert {"form_name": "ＡＰＩテスト用手続（社会保険関係手続）（通）０００５＿０１", "attached_file_name": "-",
            "file_name": "950A01070000500001_01.xml", "item": "報酬月額（合計）",
            "content": "未入力のままになっている必須入力項目があります。入力内容を確認してください。"} in reports
    assert any(r["content"] == "提出先情報を設定しなければなりません" for r in reports)
    assert _count(services) == 0


def test_unsigned_package_is_refused_for_a_procedure_that_needs_a_signature(egov, services) -> None:
    with pytest.raises(ApiError) as err:
        _submit(egov, services, None)
    assert "電子署名" in err.value.messages[0]


@pytest.mark.parametrize(("label", "message"), [
    ("expired", "証明書の有効期限が切れています"),
    ("revoked", "アクセス許可できません。再度、利用者認証を行ってください。"),
    ("unregistered", "利用者認証でエラーが発生しました"),
])
def test_certificate_problems_carry_the_messages_users_meet(label, message, egov, services) -> None:
    with pytest.raises(ApiError) as err:
        _submit(egov, services, certificate_signer(services, label))
    assert message in err.value.messages
    assert _count(services) == 0


def test_a_new_certificate_is_accepted_a_day_after_issue(egov, services) -> None:
    advance(services, "P1DT1H")
    assert _submit(egov, services, certificate_signer(services, "unregistered")).arrive_id


def test_resubmission_needs_the_original_arrive_id(egov, services, signer) -> None:
    original = _submit(egov, services, signer).arrive_id
    with pytest.raises(ApiError) as err:
        _submit(egov, services, signer, apply_type="再提出", first_arrive_id="9502026999999999")
    assert "構成管理XML.初回受付番号に誤りがあります" in err.value.messages
    again = _submit(egov, services, signer, apply_type="再提出", first_arrive_id=original)
    assert again.apply_type == "再提出"


# --- auth on the API: 401 without body, 404 status only --------------------------------------------------

def test_unauthenticated_calls_get_401_without_body(http) -> None:
    resp = http.get("/shinsei/v2/apply/9502026000000001")
    assert resp.status_code == 401 and resp.content == b""
    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="egov"')
    resp = http.get("/shinsei/v2/apply/9502026000000001", headers={"Authorization": "Bearer nonsense"})
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_unknown_arrive_id_and_procedure_give_404_status_only(http, egov) -> None:
    headers = {"Authorization": f"Bearer {egov.tokens.access_token}"}
    for path in ("/shinsei/v2/apply/9502026000000999", "/shinsei/v2/procedure/999A999999999999",
                 "/shinsei/v2/no-such-thing"):
        resp = http.get(path, headers=headers)
        assert resp.status_code == 404 and resp.content == b""


def test_expired_and_revoked_tokens_are_refused(endpoint, world, http, services, signer) -> None:
    account = world.account("demo")
    egov = EgovClient.login(endpoint, account["username"], account["password"], http=http)
    arrive_id = _submit(egov, services, signer).arrive_id
    stale = EgovClient(endpoint, egov.tokens, http=http)
    advance(services, "PT3601S")  # access token expired; the client refreshes by itself
    assert stale.get_application(arrive_id).arrive_id == arrive_id
    token = stale.tokens.access_token
    stale.logout()
    resp = http.get(f"/shinsei/v2/apply/{arrive_id}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    with pytest.raises(UnauthorizedError):
        EgovClient(endpoint, http=http).get_application(arrive_id)


def test_async_client_runs_the_same_operations(live_server, world, services, signer) -> None:
    import asyncio

    endpoint = simulator(live_server).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])
    account = world.account("demo")

    async def main() -> tuple[str, str]:
        with httpx.Client() as sync_http:
            tokens = EgovClient.login(endpoint, account["username"], account["password"], http=sync_http).tokens
        async with AsyncEgovClient(endpoint, tokens) as client:
            package = sample_package(services.catalogue, PROC, signer)
            result = await client.submit(PROC, package.to_zip())
            detail = await client.get_application(result.arrive_id)
            info = await client.introspect()
            return detail.status, info["username"]

    assert asyncio.run(main()) == ("到達", account["username"])


def test_admin_clock_advances_sets_speed_and_freezes(http) -> None:
    now = http.get("/__admin/clock").json()
    assert now["speed"] == 1.0 and now["frozen"] is False
    frozen = http.post("/__admin/clock", json={"frozen": True, "advance": "P3D"}).json()
    assert frozen["frozen"] is True and frozen["offset_seconds"] >= 3 * 86400 - 5
    assert http.get("/__admin/clock").json()["now"] == frozen["now"]
    fast = http.post("/__admin/clock", json={"frozen": False, "speed": 3600}).json()
    assert fast["speed"] == 3600
    assert http.post("/__admin/clock", json={"advance": "three days"}).status_code == 400


def test_an_unexpected_server_error_still_answers_in_the_spec_shape(sim, http, egov, monkeypatch) -> None:
    from egov_sim.filing import cases

    def boom(*_args, **_kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cases.FilingService, "list_by_dates", boom)
    sim.config["PROPAGATE_EXCEPTIONS"] = False
    today = date.today().isoformat()
    resp = http.get("/shinsei/v2/apply/lists", params={"date_from": today, "date_to": today},
                    headers={"Authorization": f"Bearer {egov.tokens.access_token}"})
    assert resp.status_code == 500
    assert resp.json()["title"] == "Internal Server Error" and resp.json()["instance"] == "/shinsei/v2/apply/lists"
