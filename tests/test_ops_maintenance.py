"""Maintenance windows end to end: switched on through /__admin/maintenance, observed through the client."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from conftest import advance
from egov_client import (
    AuthError,
    EgovClient,
    MaintenanceError,
    NotFoundError,
    SafeSubmitPolicy,
    UnauthorizedError,
    safe_submit,
)
from egov_client.transport import RetryPolicy
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"


def _freeze(services) -> datetime:
    services.clock.update(frozen=True)
    return services.clock.now().replace(microsecond=0)


def _window(http: httpx.Client, **body) -> dict:
    for key in ("start", "end"):
        if isinstance(body.get(key), datetime):
            body[key] = body[key].isoformat()
    resp = http.post("/__admin/maintenance", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _package(services, signer) -> bytes:
    return sample_package(services.catalogue, PROC, signer).to_zip()


def test_a_window_answers_503_with_retry_after_and_ends(http, egov, services) -> None:
    now = _freeze(services)
    _window(http, start=now + timedelta(minutes=10), end=now + timedelta(hours=6))
    today = now.date()
    assert egov.list_applications(date_from=today, date_to=today).applications == []
    advance(services, "PT11M")
    resp = http.get("/shinsei/v2/apply/lists", params={"date_from": str(today), "date_to": str(today)},
                    headers={"Authorization": f"Bearer {egov.tokens.access_token}"})
    assert resp.status_code == 503  # the http fixture validated the body against the spec
    body = resp.json()
    assert body["title"] == "Service Unavaiable"  # sic: the spec's own spelling and body["instance"] == "/shinsei/v2/apply/lists"
    assert body["detail"].startswith("サービス利用不可(サーバがメンテナンス中等)")
    assert int(resp.headers["Retry-After"]) == 6 * 3600 - 11 * 60  # frozen clock: virtual seconds
    with pytest.raises(MaintenanceError) as err:
        egov.list_applications(date_from=today, date_to=today)  # Retry-After too long to wait out
    exc = err.value
    assert exc.window_end == datetime.fromisoformat((now + timedelta(hours=6)).isoformat() + "+09:00")
    assert exc.message == "e-Govはメンテナンス中です。メンテナンス終了後にご利用ください。"
    assert "maintenance" in exc.explanation and exc.window_end.isoformat() in exc.explanation
    advance(services, "PT6H")
    assert egov.list_applications(date_from=today, date_to=today).applications == []


def test_every_api_call_is_refused_but_the_auth_server_stays_up_unless_asked(
        http, endpoint, world, services) -> None:
    now = _freeze(services)
    window = _window(http, start=now, duration="PT1H")
    account = world.account("demo")
    client = EgovClient.login(endpoint, account["username"], account["password"], http=http)  # auth is up
    for path in ("/shinsei/v2/procedure/950A010700005000", "/shinsei/v2/apply/9502026000000001"):
        assert http.get(path, headers={"Authorization": f"Bearer {client.tokens.access_token}"}).status_code == 503
    assert http.post("/shinsei/v2/apply", json={}).status_code == 503  # even without a token
    assert http.delete(f"/__admin/maintenance/{window['id']}").status_code == 204
    _window(http, start=now, duration="PT1H", auth_down=True)
    with pytest.raises(AuthError) as err:
        EgovClient.login(endpoint, account["username"], account["password"], http=http)
    assert err.value.status == 503
    token = http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert token.status_code == 503 and token.json()["error"] == "temporarily_unavailable"


def test_recurring_weekday_evenings_and_the_year_end_window_from_the_notice(http, services) -> None:
    _window(http, title="平日夜間メンテナンス",
            recurrence={"weekdays": ["mon", "wed", "fri"], "start": "18:00", "duration": "PT6H"})
    _window(http, title="年末年始メンテナンス", start="2023-12-30T06:00:00", end="2024-01-01T06:00:00")

    def in_maintenance(at: str) -> bool:
        services.clock.update(set_to=datetime.fromisoformat(at), frozen=True)
        return http.get("/shinsei/v2/apply/9502026000000001").status_code == 503

    assert in_maintenance("2023-12-06T18:00:00")  # Wednesday 18:00
    assert in_maintenance("2023-12-06T23:59:59")
    assert not in_maintenance("2023-12-07T00:00:00")  # Thursday: ended at 24:00
    assert not in_maintenance("2023-12-07T19:00:00")  # Thursday evening: no window
    assert not in_maintenance("2023-12-06T17:59:59")
    assert in_maintenance("2023-12-31T12:00:00")  # Sunday, inside the year-end window
    services.clock.update(set_to=datetime.fromisoformat("2023-12-29T20:00:00"), frozen=True)  # Friday window
    resp = http.get("/shinsei/v2/apply/9502026000000001")
    # back-to-back windows merge: Friday 18:00–24:00, then the year-end window from Saturday 06:00 is separate
    assert resp.headers["X-Egov-Sim-Maintenance-End"] == "2023-12-30T00:00:00+09:00"

    services.clock.update(set_to=datetime.fromisoformat("2023-12-04T09:00:00"))
    notice = http.get("/maintenance.json").json()
    schedule = [(o["start_text"], o["end_text"]) for o in notice["schedule"]]
    assert ("2023年12月06日(水) 18時00分", "2023年12月07日(木) 00時00分") in schedule
    assert ("2023年12月30日(土) 06時00分", "2024年01月01日(月) 06時00分") in schedule
    assert notice["in_maintenance"] is False
    html = http.get("/maintenance").text
    assert "■ 作業予定日時" in html and "2023年12月08日(金) 18時00分" in html
    assert "メンテナンス中に申請されたデータは、e-Gov側に到達していない可能性があります" in html


def test_tokens_issued_before_a_window_are_refused_after_it_and_a_refresh_recovers(
        http, egov, services, signer) -> None:
    now = _freeze(services)
    arrive_id = egov.submit(PROC, _package(services, signer)).arrive_id
    _window(http, start=now + timedelta(minutes=5), duration="PT30M", expire_tokens=True)
    old_token = egov.tokens.access_token
    advance(services, "PT40M")  # the access token (1 h) would still be valid without the window
    resp = http.get(f"/shinsei/v2/apply/{arrive_id}", headers={"Authorization": f"Bearer {old_token}"})
    assert resp.status_code == 401 and 'error_description="Token expired"' in resp.headers["WWW-Authenticate"]
    assert UnauthorizedError("Token expired").message == "トークンの有効期限が切れています"
    assert egov.get_application(arrive_id).arrive_id == arrive_id  # the client refreshed by itself
    assert egov.tokens.access_token != old_token


def test_sessions_ended_by_a_window_need_a_new_login(http, endpoint, world, services, signer) -> None:
    now = _freeze(services)
    account = world.account("demo")
    egov = EgovClient.login(endpoint, account["username"], account["password"], http=http)
    arrive_id = egov.submit(PROC, _package(services, signer)).arrive_id
    _window(http, start=now + timedelta(minutes=5), duration="PT30M", end_sessions=True, expire_tokens=True)
    advance(services, "PT40M")
    with pytest.raises(UnauthorizedError) as err:
        egov.get_application(arrive_id)
    assert err.value.refresh_failed
    assert err.value.message == "e-Govへのセッションが切れました。再度ログインしてください。"
    assert "Log in" in err.value.explanation
    again = EgovClient.login(endpoint, account["username"], account["password"], http=http)
    assert again.get_application(arrive_id).arrive_id == arrive_id


def test_a_send_just_before_the_window_may_not_have_arrived(http, egov, services, signer) -> None:
    now = _freeze(services)
    early = egov.submit(PROC, _package(services, signer)).arrive_id
    advance(services, "PT30M")
    lost = egov.submit(PROC, _package(services, signer)).arrive_id  # 200, five minutes before the window
    _window(http, start=now + timedelta(minutes=35), duration="PT1H", lose_before="PT10M")
    advance(services, "PT2H")
    today = services.clock.now().date()
    assert egov.get_application(early).arrive_id == early
    with pytest.raises(NotFoundError):
        egov.get_application(lost)
    listed = [a.arrive_id for a in egov.list_applications(date_from=today - timedelta(days=1),
                                                          date_to=today).applications]
    assert listed == [early]
    holds = http.get("/__admin/holds").json()["holds"]
    assert [h["arrive_id"] for h in holds] == [lost] and "到達していません" in holds[0]["lost_reason"]
    again = egov.submit(PROC, _package(services, signer)).arrive_id  # the manuals: send it again
    assert {a.arrive_id for a in egov.list_applications(date_from=today - timedelta(days=1),
                                                        date_to=today).applications} == {early, again}


def test_a_client_sending_during_a_window_retries_after_it_and_ends_with_one_application(
        sim, http, endpoint, world, services, signer) -> None:
    from egov_sim.ops.maintenance import parse_window
    from egov_sim.ops.middleware import OPS_KEY
    from egov_sim.store.ops_tables import MaintenanceWindow

    now = _freeze(services)
    account = world.account("demo")
    egov = EgovClient.login(endpoint, account["username"], account["password"], http=http,
                            retry=RetryPolicy(attempts=3, max_delay=1.0))

    def window_starts_after_the_first_look(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/apply/lists") and not opened:
            opened.append(True)  # the maintenance evening begins between the client's check and its send
            with services.db.session() as s:
                s.add(MaintenanceWindow(**parse_window({"start": now.isoformat(), "duration": "PT3H",
                                                        "expire_tokens": True})))
            sim.extensions[OPS_KEY].invalidate()  # written behind the admin API's back

    opened: list[bool] = []
    http.event_hooks["response"].append(window_starts_after_the_first_look)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the virtual clock moves instead of the test waiting
        slept.append(seconds)
        services.clock.update(advance=timedelta(seconds=seconds))

    result = safe_submit(egov, PROC, _package(services, signer), sleep=sleep,
                         today=lambda: services.clock.now().date(),
                         policy=SafeSubmitPolicy(wait_for_maintenance=True))
    assert not result.recovered and result.sends == 1
    assert slept == [3 * 3600 + 1]  # waited for the window to end (Retry-After), then sent once
    assert any("maintenance" in e for e in result.events)
    journal = http.get("/__admin/requests", params={"path": "/shinsei/v2/apply", "method": "POST"}).json()
    # refused in the window; after it the old token is refused, the client refreshes, the send is accepted
    assert [e["status"] for e in reversed(journal["requests"])] == [503, 401, 200]
    assert _count(services) == 1
    assert egov.get_application(result.arrive_id).status == "到達"


def test_bad_window_definitions_are_refused(http) -> None:
    for body in ({"start": "tomorrow"}, {"start": "2024-01-01T00:00:00", "end": "2023-12-31T00:00:00"},
                 {"recurrence": {"weekdays": ["funday"], "start": "18:00", "duration": "PT6H"}},
                 {"recurrence": {"weekdays": "weekdays", "start": "25:00", "duration": "PT6H"}},
                 {"start": "2024-01-01T00:00:00", "duration": "six hours"}):
        resp = http.post("/__admin/maintenance", json=body)
        assert resp.status_code == 400 and resp.json()["detail"], body
    assert http.get("/__admin/maintenance").json()["windows"] == []
