"""申請案件の照会 (GET /apply/{arrive_id}, /apply/lists), and polling until a status or anything else happens."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from egov_client.errors import NotFoundError
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext

# polling: against a simulator the virtual clock moves by POLL_STEP between calls; against e-Gov
# the harness waits POLL_INTERVAL seconds of real time, up to POLL_TIMEOUT seconds
POLL_STEP = os.environ.get("EGOV_POLL_STEP", "PT1H")
POLL_LIMIT = int(os.environ.get("EGOV_POLL_LIMIT", "720"))  # most polls (simulator: 30 virtual days)
POLL_INTERVAL = float(os.environ.get("EGOV_POLL_INTERVAL", "60"))
POLL_TIMEOUT = float(os.environ.get("EGOV_POLL_TIMEOUT", "1800"))
T = TypeVar("T")


def poll(ctx: ScenarioContext, check: Callable[[], T | None], what: str, *,
         failure: Callable[[], str] | None = None) -> T:
    """Call `check` until it gives something: on a simulator the virtual clock moves by EGOV_POLL_STEP
    between calls, elsewhere the harness waits EGOV_POLL_INTERVAL seconds (up to EGOV_POLL_TIMEOUT).
    Giving up fails with `failure()`, by default "`what` did not happen while polling"."""
    admin = ctx.target.admin
    deadline = time.monotonic() + POLL_TIMEOUT
    for _ in range(POLL_LIMIT):
        found = check()
        if found:
            return found
        if admin is not None:
            admin.advance(POLL_STEP)
        elif time.monotonic() + POLL_INTERVAL > deadline:
            break
        else:
            time.sleep(POLL_INTERVAL)
    raise AssertionError(failure() if failure else f"{what} did not happen while polling")


def _fetch(ctx: ScenarioContext, arrive_id: str | None = None) -> None:
    client = ctx.logged_in()
    if ctx.notes.get("trial"):
        client = client.trial_mode()
    arrive_id = arrive_id or ctx.last_arrive_id()
    ctx.application = ctx.attempt(lambda: client.get_application(arrive_id))
    if ctx.application is not None:
        ctx.statuses.append(ctx.application.status)


@when("申請案件を照会する")
def _inquire(egov_context: ScenarioContext) -> None:
    _fetch(egov_context)


@when(parsers.parse("到達番号「{arrive_id}」の申請案件を照会する"))
def _inquire_id(egov_context: ScenarioContext, arrive_id: str) -> None:
    _fetch(egov_context, arrive_id)


@when(parsers.parse("状況が「{status}」になるまで照会する"))
def _poll(egov_context: ScenarioContext, status: str) -> None:
    ctx = egov_context

    def reached() -> bool:
        _fetch(ctx)
        ctx.expect_success()
        return ctx.application is not None and ctx.application.status == status
    poll(ctx, reached, f"the status 「{status}」", failure=lambda: f"the status never became 「{status}」; "
         f"seen: {' → '.join(dict.fromkeys(ctx.statuses))}")


@then(parsers.parse("申請案件の状況は「{status}」である"))
def _status_is(egov_context: ScenarioContext, status: str) -> None:
    _fetch(egov_context)
    egov_context.expect_success()
    assert egov_context.application is not None
    assert egov_context.application.status == status, f"status is 「{egov_context.application.status}」"


@then(parsers.parse("照会した状況は「{sequence}」の順に移った"))
def _sequence(egov_context: ScenarioContext, sequence: str) -> None:
    seen = [s for i, s in enumerate(egov_context.statuses) if i == 0 or egov_context.statuses[i - 1] != s]
    expected = [s.strip() for s in sequence.split("→")]
    assert seen == expected, f"seen {' → '.join(seen)}"


@then("申請案件の照会結果は申請内容と一致する")
def _matches(egov_context: ScenarioContext) -> None:
    _fetch(egov_context)
    egov_context.expect_success()
    app, result = egov_context.application, egov_context.result
    assert app is not None and result is not None
    assert (app.arrive_id, app.proc_name) == (result.arrive_id, result.proc_name), app
    assert app.applicant_name == result.applicant_name, (app.applicant_name, result.applicant_name)


@then(parsers.re(r"取下げ依頼は(?P<state>まだできない|できる|もうできない)"))
def _withdraw_flag(egov_context: ScenarioContext, state: str) -> None:
    _fetch(egov_context)
    egov_context.expect_success()
    assert egov_context.application is not None
    expected = {"まだできない": False, "できる": True, "もうできない": False}[state]
    assert egov_context.application.withdraw_flag is expected, f"withdraw_flag is {egov_context.application.withdraw_flag}"


def _today_and_send_number(ctx: ScenarioContext, trial: bool) -> tuple[list[str], str | None]:
    client = ctx.logged_in().trial_mode() if trial else ctx.logged_in()
    result = ctx.result
    assert result is not None
    day = result.arrive_date.date()
    page = client.list_applications(date_from=day, date_to=day)
    ids = [a.arrive_id for a in page.applications]
    send_number = next((a.send_number for a in page.applications if a.arrive_id == result.arrive_id), None)
    return ids, send_number


@then("到達日の申請案件一覧に含まれ、送信番号でも照会できる")
def _listed(egov_context: ScenarioContext) -> None:
    ids, send_number = _today_and_send_number(egov_context, bool(egov_context.notes.get("trial")))
    arrive_id = egov_context.last_arrive_id()
    assert arrive_id in ids, f"{arrive_id} is not in the list of its arrival date: {ids}"
    assert send_number, "the list gives no send_number"
    client = egov_context.logged_in().trial_mode() if egov_context.notes.get("trial") else egov_context.logged_in()
    by_send = client.list_applications(send_number=send_number)
    assert [a.arrive_id for a in by_send.applications] == [arrive_id]


@then("トライアルモードの申請案件は通常の照会には現れない")
def _trial_hidden(egov_context: ScenarioContext) -> None:
    arrive_id = egov_context.last_arrive_id()
    try:
        egov_context.logged_in().get_application(arrive_id)
    except NotFoundError:
        pass
    else:
        raise AssertionError("a trial-mode application is visible to normal queries")
    ids, _ = _today_and_send_number(egov_context, trial=False)
    assert arrive_id not in ids
