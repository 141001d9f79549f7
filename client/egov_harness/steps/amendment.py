"""補正 (POST /apply/amend: 部分補正) and 再提出 (a new application that names the first one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from egov_client.documents import as_amendment, as_resubmission
from egov_format.package import ApplicationPackage
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext
from .cases import fetch_application
from .notices import notice_of_kind
from .submission import build_sample_package
from .withdrawal import scenario_signer


def _marked_sample(ctx: ScenarioContext, mark: Callable[[ApplicationPackage, str], ApplicationPackage]
                   ) -> tuple[str, ApplicationPackage, bytes]:
    """The scenario's sample package marked by `mark` (as 補正 or 再提出 of the last case) and signed:
    (that case's arrive_id, the package, its zip)."""
    arrive_id = ctx.last_arrive_id()
    package = mark(build_sample_package(ctx, ctx.package.proc_id if ctx.package else ""), arrive_id)
    return arrive_id, package, package.sign(scenario_signer(ctx)).to_zip()


@then(parsers.parse("補正の通知の補正種別は「{kind}」で、補正期限は通知の{days:d}日後である"))
def _correction_notice(egov_context: ScenarioContext, kind: str, days: int) -> None:
    notice = notice_of_kind(egov_context, "補正")
    assert notice.correct_type == kind, f"補正種別 is 「{notice.correct_type}」"
    assert notice.notice_issue_date is not None and notice.correct_expired_date is not None, notice
    assert notice.correct_expired_date == notice.notice_issue_date.date() + timedelta(days=days), notice


@when("申請書を直して補正データを送信する")
def _amend(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    arrive_id, _, data = _marked_sample(ctx, as_amendment)
    if ctx.recorder:
        ctx.recorder.attach("hosei.zip", data)
    ctx.notes["amendment"] = ctx.attempt(lambda: ctx.logged_in().amend(arrive_id, data))


@then("補正は受け付けられる")
def _amend_accepted(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    answer = egov_context.notes["amendment"]
    assert answer.arrive_id == egov_context.last_arrive_id() and answer.amend_date is not None, answer


@then("補正の通知に補正完了日が記録されている")
def _amend_recorded(egov_context: ScenarioContext) -> None:
    app = fetch_application(egov_context)
    corrections = [n for n in app.notices if n.notice_data_type == "補正"]
    assert corrections and corrections[-1].correct_completed_date is not None, corrections


@when("申請書を直して再提出する")
def _resubmit(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    original, package, data = _marked_sample(ctx, as_resubmission)
    ctx.notes["original_arrive_id"] = original
    ctx.result = ctx.attempt(lambda: ctx.logged_in().submit(package.proc_id, data)) or ctx.result


@then("再提出した申請は申請種別「再提出」として新しい到達番号で到達する")
def _resubmitted(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    result = egov_context.result
    assert result is not None and result.apply_type == "再提出", result
    assert result.arrive_id != egov_context.notes["original_arrive_id"], "the resubmission kept the first number"


@then(parsers.parse("最初の申請案件の状況は「{status}」である"))
def _original_status(egov_context: ScenarioContext, status: str) -> None:
    app = egov_context.logged_in().get_application(egov_context.notes.get("original_arrive_id")
                                                   or egov_context.last_arrive_id())
    assert app.status == status, f"the first case is 「{app.status}」"
