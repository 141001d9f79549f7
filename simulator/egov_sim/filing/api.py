"""/shinsei/v2 — filing (procedure, apply) and inquiry (apply/lists, apply/{arrive_id})."""

from __future__ import annotations

import base64
import re
from importlib import resources
from typing import Any

from egov_format.reports import ReportItem
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..catalogue.skeleton import skeleton_zip
from ..idp.egov_tokens import InvalidTokenError, bearer_claims
from ..ops import auto_return
from ..services import services
from ..store.ops_tables import ApplicationHold
from . import poll
from .access import find_case, owner_of
from .amendment import link_resubmission
from .cases import FilingService
from .errors import FilingError, NotFound, bad_request
from .hooks import NO_HOOKS, Submission
from .http import (
    api_url,
    bearer_token,
    error_body,
    filing,
    is_trial,
    ok,
    query_date,
    query_int,
    reading,
    register_error_handlers,
    sign_in,
    unauthorized,
)
from .http import authenticated as _auth
from .scenarios import choose as choose_scenario
from .submission import UNKNOWN_PROCEDURE as NOT_APPLY_PROCEDURE
from .submission import PackageChecker, decode_request

bp = Blueprint("shinsei", __name__, url_prefix="/shinsei/v2")
register_error_handlers(bp, withdraw_paths=("/apply/withdraw",))

ARRIVE_ID = re.compile(r"^\d{16,18}$")
SEND_NUMBER = re.compile(r"^\d{18}$")


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """Routing and protocol errors below /shinsei/v2 in the spec's shapes (404: status only)."""
    if not request.path.startswith(bp.url_prefix or ""):
        return exc
    if exc.code == 404:
        return Response(status=404)
    if exc.code == 413:
        body = error_body(FilingError(413, "アップロードサイズファイル上限オーバー"))
        if request.path.endswith("/bulk-apply"):  # bulk-apply's error bodies always carry error_count
            body.update(error_count=0, error=[])
        return jsonify(body), 413
    if exc.code == 400:
        return jsonify(error_body(bad_request("リクエストの形式に誤りがあります。"))), 400
    if exc.code == 500:  # an unexpected error: still the spec's body, never an HTML page
        current_app.logger.error("unhandled error on %s", request.path, exc_info=getattr(exc, "original_exception", None))
        body = error_body(FilingError(500, "サーバ内部でエラーが発生（システムエラー等）"))
        if request.path.endswith("/bulk-apply"):
            body.update(error_count=1)
        return jsonify(body), 500
    return exc


@bp.get("/openapi.json")
def openapi_document() -> Response:
    data = (resources.files("egov_sim") / "data" / "egov-shinsei-api-v2.openapi.json").read_bytes()
    return Response(data, mimetype="application/json")


# --- 手続選択 -------------------------------------------------------------------------------------------

@bp.get("/procedure/<proc_id>")
@_auth
def get_procedure(proc_id: str) -> Any:
    if len(proc_id) != 16:
        raise bad_request("手続識別子は半角英数字16桁で指定してください。")
    catalogue = services().catalogue
    proc = catalogue.get(proc_id)
    if proc is None:
        raise NotFound(proc_id)
    results = {
        "file_data": base64.b64encode(skeleton_zip(catalogue, proc)).decode(),
        "configuration_file_name": ["kousei.xml", *(c.file_name for c in proc.configuration_files)],
        "file_info": [
            {
                "form_id": f.form_id,
                "form_version": f.version,
                "form_name": f.name,
                "apply_file_name": f.file_name,
                "xsl_file_name": f.xsl_file_name,
                "server_check_file_name": f.check_file_name,  # {form_id}check.xml
                "schema_file_name": f.schema_file_name,
            }
            for f in proc.forms
        ],
    }
    return ok("手続選択", results)


# --- 申請データ送信 -----------------------------------------------------------------------------------------

def _json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise bad_request("リクエストの形式に誤りがあります。JSON形式で指定してください。")
    return body


@bp.post("/apply")
@_auth
def apply() -> Any:
    svc = services()
    proc_id, file_name, raw = decode_request(_json_body(), max_bytes=svc.settings.max_request_bytes)
    proc = svc.catalogue.get(proc_id)
    if proc is not None and proc.post_apply:  # a 電子送達 利用申込み is not an application: POST /post-apply
        raise bad_request(NOT_APPLY_PROCEDURE, [ReportItem(content=f"手続識別子({proc_id})に誤りがあります", item="proc_id")])
    with filing() as f:
        # ops' hooks after authentication (temporary here: the FilingBackend takes this over)
        hooks, submission = g.get("filing_hooks", NO_HOOKS), Submission("apply", g.caller.username, proc_id)
        case = auto_return.find(proc, request.headers.get(auto_return.HEADER, ""))
        refusal = (auto_return.DETAIL, list(case.report)) if case else hooks.automatic_return(submission)
        if refusal is not None:
            raise bad_request(*refusal)
        checker = PackageChecker(svc.catalogue, f.session, f.now, max_file_bytes=svc.settings.max_file_bytes)
        checked = checker.check(proc_id, file_name, raw)
        f.check_first_arrive_id(g.caller, checked)
        scenario = choose_scenario(f.session, checked.proc, g.caller.account_id,
                                   request.headers.get("X-Sandbox-Scenario"))
        app = f.accept(g.caller, checked, scenario=scenario)
        hold = hooks.arrival_check(submission)
        if hold is not None:
            f.session.add(ApplicationHold(application_id=app.id, hidden_until=f.now + hold))
        link_resubmission(f, g.caller, app)
        results = f.apply_result(app)
        links = {"self": api_url("/apply"), "status": api_url(f"/apply/{app.arrive_id}")}
    return ok("申請データ送信", results, _links=links)


# --- 申請案件一覧取得 / 申請案件取得 ---------------------------------------------------------------------------


@bp.get("/apply/lists")
@_auth
def apply_lists() -> Any:
    send_number = request.args.get("send_number")
    has_dates = any(request.args.get(k) for k in ("date_from", "date_to", "limit", "offset"))
    if send_number is not None:
        if has_dates:
            raise bad_request("送信番号と取得対象期間は同時に指定できません。")
        if not SEND_NUMBER.match(send_number):
            raise bad_request("送信番号は半角数字18桁で指定してください。")
        with filing() as f:
            apps = f.list_by_send_number(g.caller, send_number)
            items = [f.list_item(i, a, g.caller) for i, a in enumerate(apps, 1)]
        resultset = {"all_count": len(items), "limit": max(len(items), 1), "offset": 0, "count": len(items)}
        return ok("申請案件一覧取得", {"apply_list": items}, resultset=resultset,
                  _links={"self": request.url})
    if not request.args.get("date_from") or not request.args.get("date_to"):
        raise bad_request("送信番号、または取得対象期間（date_from, date_to）を指定してください。")
    date_from, date_to = query_date("date_from"), query_date("date_to")
    if date_from > date_to:
        raise bad_request("取得対象期間開始日は終了日以前の日付を指定してください。")
    limit = query_int("limit", 50, 1, 50)
    offset = query_int("offset", 0, 0, 9999)
    with filing() as f:
        total, apps = f.list_by_dates(g.caller, date_from, date_to, limit, offset)
        items = [f.list_item(offset + i, a, g.caller) for i, a in enumerate(apps, 1)]
    links = {"self": request.url}
    page = f"/apply/lists?date_from={date_from}&date_to={date_to}&limit={limit}&offset="
    if offset > 0:
        links["previous"] = api_url(page + str(max(offset - limit, 0)))
    if offset + len(items) < total:
        links["next"] = api_url(page + str(offset + limit))
    resultset = {"all_count": min(total, 9999), "limit": limit, "offset": offset, "count": len(items)}
    return ok("申請案件一覧取得", {"apply_list": items}, resultset=resultset, _links=links)


@bp.get("/apply/<arrive_id>")
def apply_detail(arrive_id: str) -> Any:
    """The status poll. The caller's own case comes with the token check in one read (poll.py);
    anything else (no or bad token, bad arrive_id, shared or missing case) takes the general path."""
    token = bearer_token()
    if token is None or not ARRIVE_ID.match(arrive_id):
        return _apply_detail(arrive_id)
    svc = services()
    try:
        own = poll.read_own_case(svc.db, bearer_claims(svc, token), arrive_id, is_trial())
    except InvalidTokenError as exc:
        return unauthorized(str(exc))
    caller = sign_in(own.access)
    if own.case is None:
        return _shared_detail(arrive_id)
    return ok("申請案件取得", FilingService(None, svc.catalogue, own.access.now).detail(own.case, caller, own.actions))


@_auth
def _apply_detail(arrive_id: str) -> Any:
    if not ARRIVE_ID.match(arrive_id):
        raise bad_request("到達番号は半角数字16桁から18桁で指定してください。")
    with reading() as f:
        try:
            results = f.detail(f.read(g.caller, arrive_id), g.caller)  # the caller's own case: the fast path
        except NotFound:
            results = None
    if results is None:
        return _shared_detail(arrive_id)
    return ok("申請案件取得", results)


def _shared_detail(arrive_id: str) -> Any:
    with filing() as f:  # a case shared with the caller (アカウント間情報共有), or none
        app = find_case(f, g.caller, arrive_id, kind="official", need="READ")
        results = f.detail(app, owner_of(f, app))
    return ok("申請案件取得", results)
