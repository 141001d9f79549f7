"""What the agency does with a case (simulator: the scenario it follows, its next step), "today" as the
target sees it, and refusals in general. Waiting for something to happen on any target is status.py `poll`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from egov_client.errors import EgovError
from egov_client.models import Application
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .common import assert_message

JST = timezone(timedelta(hours=9), "JST")

# the simulator's scenarios of the API test procedures, by the names business owners use
SCENARIOS = {
    "標準": "default",
    "お知らせあり": "notice",
    "部分補正": "hosei_partial",
    "再提出": "resubmit",
    "手続終了(再提出可)": "resubmit_closed",
    "取下げ不受理": "withdrawal_refused",
    "繁忙期": "busy_doc_before_status",
    "手数料納付": "payment",
}


def target_today(ctx: ScenarioContext) -> date:
    """Today in JST as the target sees it (a simulator's virtual clock, else the real one)."""
    admin = ctx.target.admin
    if admin is not None:
        return datetime.strptime(admin.clock()["now"], "%Y-%m-%d %H:%M:%S").date()
    return datetime.now(JST).date()


def fetch_application(ctx: ScenarioContext, arrive_id: str | None = None) -> Application:
    app = ctx.logged_in().get_application(arrive_id or ctx.last_arrive_id())
    ctx.application = app
    ctx.statuses.append(app.status)
    return app


def virtual_sleep(ctx: ScenarioContext) -> Callable[[float], None]:
    """A sleep for client code that waits (safe_submit): the simulator's clock moves instead."""
    admin = ctx.target.admin
    if admin is None:
        return time.sleep

    def sleep(seconds: float) -> None:
        admin.advance(f"PT{max(seconds, 0):.3f}S")
    return sleep


@given(parsers.parse("提出先の審査は「{scenario}」の経過をたどる"))
def _scenario(egov_context: ScenarioContext, scenario: str) -> None:
    admin = egov_context.admin("審査の経過を選ぶこと")
    account = egov_context.account.username if egov_context.account else None
    admin.set_scenario(SCENARIOS.get(scenario, scenario), account=account)


@when("提出先が審査を次の段階に進める")
def _next_step(egov_context: ScenarioContext) -> None:
    egov_context.admin("審査を進めること").advance_case(egov_context.last_arrive_id())


@then(parsers.parse("「{message}」というエラーで拒否される"))
def _refused(egov_context: ScenarioContext, message: str) -> None:
    assert_message(egov_context.expect_error(EgovError), message)


@then("受け付けられる")
def _accepted(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
