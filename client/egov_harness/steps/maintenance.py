"""Maintenance windows (simulator): e-Gov refuses every API call with 503 during a window; what a client
must do about it — tell the user when it ends, send after it, and never send the same application twice."""

from __future__ import annotations

import re
from datetime import timedelta

from egov_client.admin import Maintenance
from egov_client.auth import AuthError
from egov_client.errors import MaintenanceError
from egov_client.safe_submit import SafeSubmitPolicy, safe_submit
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .cases import target_today, virtual_sleep
from .common import iso_duration

# window options in the scenario's words
OPTIONS = {"認証も停止": "auth_down", "トークン失効": "expire_tokens", "セッション終了": "end_sessions"}
LOSE_BEFORE = re.compile(r"直前「(?P<duration>[^」]+)」の送信は未到達")


def _maintenance(ctx: ScenarioContext) -> Maintenance:
    return Maintenance(ctx.admin("メンテナンスの予定"))


def _options(text: str | None) -> dict[str, object]:
    options: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in (text or "").split("、"))):
        if part in OPTIONS:
            options[OPTIONS[part]] = True
        elif (m := LOSE_BEFORE.fullmatch(part)) is not None:
            options["lose_before"] = iso_duration(m.group("duration"))
        else:
            raise ValueError(f"unknown maintenance option 「{part}」 (known: {', '.join(OPTIONS)}, 直前「10分」の送信は未到達)")
    return options


@given(parsers.re(r"「(?P<starts>[^」]+)」後から「(?P<duration>[^」]+)」のメンテナンスが予定されている"
                  r"(（(?P<options>[^）]*)）)?"))
def _window(egov_context: ScenarioContext, starts: str, duration: str, options: str | None) -> None:
    egov_context.notes["maintenance"] = _maintenance(egov_context).window(
        starts_in=iso_duration(starts), duration=iso_duration(duration), **_options(options))


@given(parsers.re(r"今から「(?P<duration>[^」]+)」のメンテナンス中である(（(?P<options>[^）]*)）)?"))
def _window_now(egov_context: ScenarioContext, duration: str, options: str | None) -> None:
    egov_context.notes["maintenance"] = _maintenance(egov_context).window(duration=iso_duration(duration),
                                                                          **_options(options))


@when("メンテナンスが終わるまで待つ")
def _wait(egov_context: ScenarioContext) -> None:
    _maintenance(egov_context).wait_until_over()


@then("メンテナンス中のため利用できず、終了日時が知らされる")
def _refused(egov_context: ScenarioContext) -> None:
    error = egov_context.expect_error(MaintenanceError)
    assert isinstance(error, MaintenanceError)
    assert error.message == "e-Govはメンテナンス中です。メンテナンス終了後にご利用ください。", error.message
    window = egov_context.notes.get("maintenance")
    assert error.window_end is not None, "the 503 did not say when the window ends"
    if window and window.get("end"):
        assert error.window_end.isoformat() == window["end"], (error.window_end, window["end"])


@when("メンテナンスの終了を待って送信する設定で、申請データを送信する")
def _safe_send(egov_context: ScenarioContext) -> None:
    _send_safely(egov_context, SafeSubmitPolicy(wait_for_maintenance=True))


@when("送信結果が不明なときは到達を確かめてから再送する設定で、申請データを送信する")
def _safe_send_checked(egov_context: ScenarioContext) -> None:
    _send_safely(egov_context, SafeSubmitPolicy(checks=4, check_interval=600))


def _send_safely(ctx: ScenarioContext, policy: SafeSubmitPolicy) -> None:
    package = ctx.package
    assert package is not None, "no application package yet"
    data = package.to_zip(validate=False)
    outcome = ctx.attempt(lambda: safe_submit(ctx.logged_in(), package.proc_id, data, sleep=virtual_sleep(ctx),
                                              today=lambda: target_today(ctx), policy=policy))
    if outcome is not None:
        ctx.notes["safe_submit"] = outcome
        if outcome.result is not None:
            ctx.result = outcome.result
        ctx.notes["arrive_id"] = outcome.arrive_id


@then(parsers.parse("申請は{count:d}件だけ到達している"))
def _exactly(egov_context: ScenarioContext, count: int) -> None:
    egov_context.expect_success()
    today = target_today(egov_context)
    page = egov_context.logged_in().list_applications(date_from=today - timedelta(days=1), date_to=today)
    assert page.resultset.all_count == count, [a.arrive_id for a in page.applications]


@then("メンテナンス中は送信せずに終了を待ち、終了後に1回だけ送信した")
def _waited(egov_context: ScenarioContext) -> None:
    outcome = egov_context.notes["safe_submit"]
    admin = egov_context.admin("送信の記録")
    sends = [e["status"] for e in admin.requests(path="/shinsei/v2/apply", method="POST")]
    assert sends == [200] and outcome.sends == 1 and not outcome.recovered, (sends, outcome)
    assert any("maintenance" in event for event in outcome.events), outcome.events
    assert admin.requests(status=503), "nothing was refused during the window"


@then("ログインはメンテナンス中のため断られる")
def _login_refused(egov_context: ScenarioContext) -> None:
    error = egov_context.expect_error(AuthError)
    assert isinstance(error, AuthError) and error.status == 503, error
