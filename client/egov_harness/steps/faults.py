"""Failures on demand (simulator): automatic returns, server errors before or after processing, slow
arrival checks, cut sessions, certificates revoked mid-way — and what the client makes of them."""

from __future__ import annotations

from egov_client.admin import Faults
from egov_client.errors import NotFoundError
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .cases import fetch_application, target_today
from .common import iso_duration

APPLY = "/shinsei/v2/apply"


def _faults(ctx: ScenarioContext) -> Faults:
    return Faults(ctx.admin("障害の再現"))


@given(parsers.parse("次の送信は自動返戻「{case}」になる"))
def _auto_return(egov_context: ScenarioContext, case: str) -> None:
    _faults(egov_context).auto_return(case)


@given(parsers.re(r"e-Govは次の(?P<times>\d+)回の送信に、処理(?P<when>する前|した後)でエラー(?P<status>\d{3})を返す"))
def _send_fails(egov_context: ScenarioContext, times: str, when: str, status: str) -> None:
    _faults(egov_context).fail(APPLY, int(status), method="POST", times=int(times), after_processing=when == "した後")


@given(parsers.re(r"e-Govは次の(?P<times>\d+)回の照会に、すぐ再試行してよいエラー503を返す"))
def _busy(egov_context: ScenarioContext, times: str) -> None:
    _faults(egov_context).fail("/shinsei/v2/apply/*", 503, method="GET", times=int(times), retry_after=0)


@given(parsers.parse("次の送信は、到達の確認に「{duration}」かかる"))
def _arrival_check(egov_context: ScenarioContext, duration: str) -> None:
    _faults(egov_context).arrival_check(iso_duration(duration))


@when(parsers.parse("「{alias}」のログインセッションが切断される"))
def _cut(egov_context: ScenarioContext, alias: str) -> None:
    account = egov_context.find_account(alias)
    assert egov_context.admin("セッションの切断").cut_sessions(account.username) >= 1, "no session was cut"


@given(parsers.parse("「{label}」の電子証明書は失効している"))
def _revoked(egov_context: ScenarioContext, label: str) -> None:
    egov_context.admin("電子証明書の失効").revoke_certificate(label)


@then("エラーには開発者向けの英語の説明が付いている")
def _explained(egov_context: ScenarioContext) -> None:
    error = egov_context.expect_error()
    explanation = str(getattr(error, "explanation", "") or "")
    assert any(c.isascii() and c.isalpha() for c in explanation), f"no English explanation for {error!r}"


@then("到達番号は払い出されたが、申請案件はまだ照会できない")
def _not_yet_visible(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    try:
        egov_context.logged_in().get_application(egov_context.last_arrive_id())
    except NotFoundError:
        return
    raise AssertionError("the application was visible before its arrival check ended")


@then("申請案件を照会できる")
def _visible(egov_context: ScenarioContext) -> None:
    assert fetch_application(egov_context).arrive_id == egov_context.last_arrive_id()


@then("申請案件は作成されていない")
def _none_created(egov_context: ScenarioContext) -> None:
    today = target_today(egov_context)
    page = egov_context.logged_in().list_applications(date_from=today, date_to=today)
    assert page.applications == [], [a.arrive_id for a in page.applications]


@then("送信結果が不明だったため一覧で到達を確かめ、再送はしなかった")
def _recovered(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    outcome = egov_context.notes["safe_submit"]
    assert outcome.recovered and outcome.sends == 1, outcome


@then("到達が確認できなかったため、1回だけ再送した")
def _resent(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    outcome = egov_context.notes["safe_submit"]
    assert not outcome.recovered and outcome.sends == 2, outcome
