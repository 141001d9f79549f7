"""手続選択, プレ印字, 申請データ送信 and its kin (形式チェック, 補正, 取下げ, bulk), 申請案件一覧 / 取得, エラーレポート."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from ...idp.egov_tokens import InvalidTokenError, bearer_claims
from ...ops.auto_return import HEADER as AUTO_RETURN_HEADER
from ...services import services
from ...store.outage import OUTAGE_ERRORS
from .. import landed, poll
from ..backend import FilingBackend
from ..bulk import BulkError
from ..errors import FilingError, bad_request
from . import parse
from .auth import authenticate, authenticates_itself, bearer_token, is_trial, sign_in
from .problems import unauthorized
from .render import api_url, listing, ok, page
from .unit_of_work import backend

bp = Blueprint("apply", __name__)
SCENARIO_HEADER = "X-Sandbox-Scenario"  # the sandbox's own: a catalogue scenario for this submission


@bp.get("/procedure/<proc_id>")
def get_procedure(proc_id: str) -> Any:
    if len(proc_id) != 16:
        raise bad_request("手続識別子は半角英数字16桁で指定してください。")
    with backend() as b:
        return ok("手続選択", b.get_procedure(proc_id))


@bp.post("/preprint")
def preprint() -> Any:
    req = parse.preprint_request()
    with backend() as b:
        return ok("プレ印字データ取得", b.preprint(req))


@bp.post("/apply")
def apply() -> Any:
    proc_id, file_name, raw = parse.submission()
    results: dict[str, Any] | None = None
    try:
        with backend() as b:
            results = b.apply(g.caller, proc_id, file_name, raw, scenario=request.headers.get(SCENARIO_HEADER),
                              auto_return_case=request.headers.get(AUTO_RETURN_HEADER))
    except OUTAGE_ERRORS as error:
        if results is None:  # failed before the commit: nothing stored, the outage 503
            raise
        svc, arrive_id = services(), results["arrive_id"]  # failed at the commit: did the row land?
        landed.settle(error, lambda: landed.landed(svc.db, arrive_id, g.caller.account_id, raw,
                                                   wait=svc.settings.database_retry_after), arrive_id)
    links = {"self": api_url("/apply"), "status": api_url(f"/apply/{results['arrive_id']}")}
    return ok("申請データ送信", results, links=links)


@bp.post("/apply/check")
def check() -> Any:
    proc_id, file_name, raw = parse.submission()
    with backend() as b:
        return ok("形式チェック実行", b.check(g.caller, proc_id, file_name, raw))


@bp.post("/apply/amend")
def amend() -> Any:
    body = parse.json_body()
    arrive_id = parse.arrive_id(body.get("arrive_id"))
    file_name, raw = parse.send_file(body)
    with backend() as b:
        return ok("補正データ送信", b.amend(g.caller, arrive_id, file_name, raw))


@bp.post("/apply/withdraw")
def withdraw() -> Any:
    body = parse.json_body()
    arrive_id = parse.arrive_id(body.get("arrive_id"))
    _file_name, raw = parse.send_file(body)
    with backend() as b:
        return ok("取り下げ依頼送信", b.withdraw(g.caller, arrive_id, raw))


@bp.post("/bulk-apply")
def bulk_apply() -> Any:
    try:
        file_name, raw = parse.send_file(parse.json_body())
    except FilingError as exc:  # every error of bulk-apply carries error_count and error[]
        raise BulkError(exc.detail, [{"errorFolder": "-", "errorFile": "-", "content": exc.detail[:256]}],
                        status=exc.status) from None
    with backend() as b:
        results = b.bulk_apply(g.caller, file_name, raw, scenario=request.headers.get(SCENARIO_HEADER))
    sent = results["send_number"]
    links = {"self": api_url("/bulk-apply"), "list": api_url(f"/apply/lists?send_number={sent}"),
             "report": api_url(f"/apply/report?send_number={sent}")}
    return ok("申請データbulk送信", results, status=202, links=links)


@bp.get("/apply/lists")
def list_applications() -> Any:
    send_number = parse.send_number()
    if send_number is not None:
        with backend() as b:
            return listing("申請案件一覧取得", "apply_list", b.list_applications_by_send_number(g.caller, send_number))
    period = parse.period(missing="送信番号、または取得対象期間（date_from, date_to）を指定してください。")
    with backend() as b:
        return page("申請案件一覧取得", "apply_list", b.list_applications(g.caller, period), period)


@bp.get("/apply/<arrive_id:arrive_id>")
@authenticates_itself
def get_application(arrive_id: str) -> Any:
    """The status poll. The caller's own case comes with the token check in one read (poll.py);
    anything else (no or bad token, bad arrive_id) takes the general path."""
    token = bearer_token()
    if token is None or not parse.ARRIVE_ID.match(arrive_id):
        return _get_application(arrive_id)
    svc = services()
    try:
        own = poll.read_own_case(svc.db, bearer_claims(svc, token), arrive_id, is_trial())
    except InvalidTokenError as exc:
        return unauthorized(str(exc))
    caller = sign_in(own.access)
    if own.case is None:  # a case shared with the caller (アカウント間情報共有), or none
        with backend() as b:
            return ok("申請案件取得", b.get_shared_application(caller, arrive_id))
    assert own.access.now is not None
    results = FilingBackend(None, svc.catalogue, own.access.now).present_own_case(caller, own.case, own.actions)
    return ok("申請案件取得", results)


def _get_application(arrive_id: str) -> Any:
    refused = authenticate()
    if refused is not None:
        return refused
    arrive_id = parse.arrive_id(arrive_id)
    with backend() as b:
        return ok("申請案件取得", b.get_application(g.caller, arrive_id))


@bp.get("/apply/report")
def get_report() -> Any:
    send_number = parse.send_number()
    if send_number is not None:
        with backend() as b:
            return listing("エラーレポート取得", "error_report_info", b.get_report_by_send_number(g.caller, send_number))
    period = parse.period(30)
    with backend() as b:
        return page("エラーレポート取得", "error_report_info", b.get_report(g.caller, period), period)
