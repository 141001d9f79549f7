"""取下げ (POST /apply/withdraw): a signed 取下げ依頼 for a case, accepted or refused by the agency."""

from __future__ import annotations

from egov_format.package import build_withdrawal_package
from egov_format.signing import Signer
from pytest_bdd import then, when

from ..context import ScenarioContext
from .cases import target_today

REASON = "誤って申請したため"


def scenario_signer(ctx: ScenarioContext) -> Signer:
    """The certificate the scenario signs with (the one of its application, else "valid")."""
    if ctx.signer is None:
        ctx.signer = ctx.find_signer("valid")
    return ctx.signer


@when("取下げ依頼を送信する")
def _withdraw(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    result = ctx.result
    assert result is not None, "send an application first"
    package = build_withdrawal_package(target_arrive_id=result.arrive_id, proc_name=result.proc_name,
                                       applicant_name=ctx.samples.applicant["name"], reason=REASON,
                                       request_date=target_today(ctx)).sign(scenario_signer(ctx))
    data = package.to_zip()
    if ctx.recorder:
        ctx.recorder.attach("torisage.zip", data)
    ctx.notes["withdrawal"] = ctx.attempt(lambda: ctx.logged_in().withdraw(result.arrive_id, data))


@then("取下げ依頼は受け付けられる")
def _withdraw_accepted(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    answer = egov_context.notes["withdrawal"]
    assert answer.arrive_id == egov_context.last_arrive_id() and answer.withdraw_date is not None, answer
