"""/shinsei/v2 beyond the foundation: check, amend, withdraw, bulk, notices, official documents,
payment, 電子送達, messages, preprint, sharing. Thin: validate the request, call the rules, shape."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from ..services import services
from ..store.ops_tables import ApplicationHold
from . import amendment, bulk, messages, notices, official, payments, posts, preprint, scenarios, withdrawal
from .amendment import link_resubmission
from .documents import government_authorities, verify_document
from .errors import FilingError, bad_request
from .hooks import NO_HOOKS, Submission
from .http import api_url, error_body, filing, ok, query_date, query_int, register_error_handlers
from .http import authenticated as _auth
from .sharing import SharingService, as_dict, require_gbizid
from .submission import PackageChecker, decode_request

bp = Blueprint("shinsei_more", __name__, url_prefix="/shinsei/v2")
register_error_handlers(bp, withdraw_paths=("/apply/withdraw",))

ARRIVE_ID = re.compile(r"^\d{16,18}$")
SEND_NUMBER = re.compile(r"^\d{18}$")
POST_ID = re.compile(r"^[0-9A-Za-z]{1,50}$")
INFORMATION_ID = re.compile(r"^[0-9A-Za-z]{1,16}$")


@bp.errorhandler(bulk.BulkError)
def _bulk_error(exc: bulk.BulkError) -> tuple[Response, int]:
    body = error_body(exc)
    body.update(error_count=len(exc.errors), error=exc.errors)
    return jsonify(body), exc.status


# --- request helpers ------------------------------------------------------------------------------------

def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("リクエストの形式に誤りがあります。JSON形式で指定してください。")
    return body


def _arrive_id(value: Any) -> str:
    if not isinstance(value, str) or not ARRIVE_ID.match(value):
        raise bad_request("到達番号は半角数字16桁から18桁で指定してください。")
    return value


def _sub_id(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
        raise bad_request("通知通番は1から999までの数値で指定してください。")
    return value


def _string(body: dict[str, Any], name: str, low: int, high: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise bad_request(f"{name}は{low}文字以上{high}文字以内で指定してください。")
    return value


def _send_file(body: dict[str, Any]) -> tuple[str, bytes]:
    """`send_file` of amend / withdraw / bulk-apply, decoded with the same rules as apply."""
    _proc, file_name, raw = decode_request({"proc_id": "0" * 16, "send_file": body.get("send_file")},
                                           max_bytes=services().settings.max_request_bytes)
    return file_name, raw


def _period(max_limit: int = 50) -> tuple[date, date, int, int]:
    if not request.args.get("date_from") or not request.args.get("date_to"):
        raise bad_request("取得対象期間（date_from, date_to）を指定してください。")
    date_from, date_to = query_date("date_from"), query_date("date_to")
    if date_from > date_to:
        raise bad_request("取得対象期間開始日は終了日以前の日付を指定してください。")
    return date_from, date_to, query_int("limit", max_limit, 1, max_limit), query_int("offset", 0, 0, 9999)


def _page(title: str, key: str, total: int, items: list[Any], date_from: date, date_to: date, limit: int,
          offset: int) -> Any:
    path = request.path.removeprefix("/shinsei/v2")
    links = {"self": request.url}
    page = f"{path}?date_from={date_from}&date_to={date_to}&limit={limit}&offset="
    if offset > 0:
        links["previous"] = api_url(page + str(max(offset - limit, 0)))
    if offset + len(items) < total:
        links["next"] = api_url(page + str(offset + limit))
    resultset = {"all_count": min(total, 9999), "limit": limit, "offset": offset, "count": len(items)}
    return ok(title, {key: items}, resultset=resultset, _links=links)


# --- 形式チェック / 補正 / 取下げ / bulk ------------------------------------------------------------------

@bp.post("/apply/check")
@_auth
def apply_check() -> Any:
    svc = services()
    proc_id, file_name, raw = decode_request(_body(), max_bytes=svc.settings.max_request_bytes)
    with filing() as f:
        checker = PackageChecker(svc.catalogue, f.session, f.now, max_file_bytes=svc.settings.max_file_bytes)
        try:
            checked = checker.check(proc_id, file_name, raw)
            f.check_first_arrive_id(g.caller, checked)
            report = checked.report
        except FilingError as exc:
            if exc.status != 400 or not exc.report:
                raise
            report = exc.report
        f.session.rollback()  # a check stores nothing
    results: dict[str, Any] = {"message": "形式チェックでエラーが検出されました。" if report else
                               "形式チェックでエラーは検出されませんでした。", "error_count": len(report)}
    if report:
        results["report_list"] = [r.as_dict() for r in report]
    return ok("形式チェック実行", results)


@bp.post("/apply/amend")
@_auth
def apply_amend() -> Any:
    body = _body()
    arrive_id = _arrive_id(body.get("arrive_id"))
    file_name, raw = _send_file(body)
    with filing() as f:
        results = amendment.amend(f, g.caller, arrive_id, file_name, raw,
                                  max_file_bytes=services().settings.max_file_bytes)
    return ok("補正データ送信", results)


@bp.post("/apply/withdraw")
@_auth
def apply_withdraw() -> Any:
    body = _body()
    arrive_id = _arrive_id(body.get("arrive_id"))
    _file_name, raw = _send_file(body)
    with filing() as f:
        results = withdrawal.withdraw(f, g.caller, arrive_id, raw, max_file_bytes=services().settings.max_file_bytes)
    return ok("取り下げ依頼送信", results)


@bp.post("/bulk-apply")
@_auth
def bulk_apply() -> Any:
    try:
        file_name, raw = _send_file(_body())
    except FilingError as exc:  # every error of bulk-apply carries error_count and error[]
        if isinstance(exc, bulk.BulkError):
            raise
        raise bulk.BulkError(exc.detail, [{"errorFolder": "-", "errorFile": "-", "content": exc.detail[:256]}],
                             status=exc.status) from None
    with filing() as f:
        sent = bulk.send(f, g.caller, file_name, raw, max_file_bytes=services().settings.max_file_bytes,
                         scenario_header=request.headers.get("X-Sandbox-Scenario"))
        results = {"send_number": sent.send_number, "send_date": f"{sent.send_at:%Y-%m-%d %H:%M:%S}",
                   "file_name": sent.file_name, "apply_count": sent.apply_count}
    links = {"self": api_url("/bulk-apply"), "list": api_url(f"/apply/lists?send_number={sent.send_number}"),
             "report": api_url(f"/apply/report?send_number={sent.send_number}")}
    return ok("申請データbulk送信", results, status=202, _links=links)


@bp.get("/apply/report")
@_auth
def apply_report() -> Any:
    send_number = request.args.get("send_number")
    if send_number is not None:
        if any(request.args.get(k) for k in ("date_from", "date_to", "limit", "offset")):
            raise bad_request("送信番号と取得対象期間は同時に指定できません。")
        if not SEND_NUMBER.match(send_number):
            raise bad_request("送信番号は半角数字18桁で指定してください。")
        with filing() as f:
            items = [bulk.report_item(b) for b in bulk.by_send_number(f, g.caller, send_number)]
        resultset = {"all_count": len(items), "limit": max(len(items), 1), "offset": 0, "count": len(items)}
        return ok("エラーレポート取得", {"error_report_info": items}, resultset=resultset,
                  _links={"self": request.url})
    date_from, date_to, limit, offset = _period(30)
    with filing() as f:
        total, rows = bulk.by_dates(f, g.caller, date_from, date_to, limit, offset)
        items = [bulk.report_item(b) for b in rows]
    return _page("エラーレポート取得", "error_report_info", total, items, date_from, date_to, limit, offset)


# --- 通知 / 公文書 ------------------------------------------------------------------------------------------

@bp.get("/notice/lists")
@_auth
def notice_lists() -> Any:
    date_from, date_to, limit, offset = _period()
    with filing() as f:
        total, items = notices.list_notices(f, g.caller, date_from, date_to, limit, offset)
    return _page("申請案件に関する通知一覧取得", "notice_list", total, items, date_from, date_to, limit, offset)


@bp.get("/notice/<arrive_id>/<notice_sub_id>")
@_auth
def notice_detail(arrive_id: str, notice_sub_id: str) -> Any:
    arrive_id, sub_id = _arrive_id(arrive_id), _sub_id(notice_sub_id)
    with filing() as f:
        notice = notices.get_notice(f, g.caller, arrive_id, sub_id)
    return ok("申請案件に関する通知取得", {"notice": notice})


@bp.get("/official_document/<arrive_id>/<notice_sub_id>")
@_auth
def official_document(arrive_id: str, notice_sub_id: str) -> Any:
    arrive_id, sub_id = _arrive_id(arrive_id), _sub_id(notice_sub_id)
    with filing() as f:
        data, names = official.fetch(f, g.caller, arrive_id, sub_id)
    results = {"file_data": base64.b64encode(data).decode(), "file_name_list": [{"file_name": n} for n in names]}
    return ok("公文書取得", results, _links={"self": request.url, "complete": api_url("/official_document")})


@bp.post("/official_document")
@_auth
def official_document_complete() -> Any:
    body = _body()
    arrive_id, sub_id = _arrive_id(body.get("arrive_id")), _sub_id(body.get("notice_sub_id"))
    with filing() as f:
        results = official.complete(f, g.caller, arrive_id, sub_id)
    return ok("公文書取得完了", results)


@bp.post("/official_document/verify")
@_auth
def official_document_verify() -> Any:
    body = _body()
    _string(body, "file_name", 1, 256)
    xml_name = _string(body, "sig_verification_xml_file_name", 1, 256)
    data = body.get("file_data")
    if not isinstance(data, str) or not data:
        raise bad_request("ファイルデータ（file_data）を指定してください。")
    if len(data) * 3 // 4 > services().settings.max_request_bytes:
        raise FilingError(413, "アップロードサイズファイル上限オーバー")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("ファイルデータ（file_data）のBase64形式に誤りがあります。") from None
    with filing() as f:
        results = verify_document(raw, xml_name, government_authorities(f.session), f.now)
    return ok("公文書署名検証要求", results)


# --- 電子納付 -------------------------------------------------------------------------------------------------

@bp.get("/payment/lists")
@_auth
def payment_lists() -> Any:
    return ok("国庫金電子納付取扱金融機関一覧取得", payments.bank_list())


@bp.get("/payment/<arrive_id>")
@_auth
def payment_detail(arrive_id: str) -> Any:
    arrive_id = _arrive_id(arrive_id)
    with filing() as f:
        results = payments.payment_info(f, g.caller, arrive_id)
    return ok("電子納付情報一覧取得", results)


@bp.post("/payment")
@_auth
def payment_site() -> Any:
    body = _body()
    request_body = {"arrive_id": _arrive_id(body.get("arrive_id")),
                    "pay_number": _string(body, "pay_number", 16, 16),
                    "bank_name": _string(body, "bank_name", 1, 256), "proc_id": _string(body, "proc_id", 16, 16)}
    with filing() as f:
        results = payments.bank_site(f, g.caller, request_body)
    return ok("電子納付金融機関サイト表示", results)


# --- 電子送達 -------------------------------------------------------------------------------------------------

@bp.post("/post-apply")
@_auth
def post_apply() -> Any:
    svc = services()
    proc_id, file_name, raw = decode_request(_body(), max_bytes=svc.settings.max_request_bytes)
    caller = g.caller.__class__(g.caller.account_id, g.caller.username, trial=False)  # no trial for 電子送達
    with filing() as f:
        # ops' hooks after authentication (temporary here: the FilingBackend takes this over)
        hooks, submission = g.get("filing_hooks", NO_HOOKS), Submission("post-apply", caller.username, proc_id)
        refusal = hooks.automatic_return(submission)
        if refusal is not None:
            raise bad_request(*refusal)
        if svc.catalogue.get(proc_id) is not None and not posts.is_post_procedure(f, proc_id):
            raise bad_request(posts.NOT_POST_PROCEDURE)
        checker = PackageChecker(svc.catalogue, f.session, f.now, max_file_bytes=svc.settings.max_file_bytes)
        checked = checker.check(proc_id, file_name, raw)
        f.check_first_arrive_id(caller, checked)
        app = f.accept(caller, checked, scenario=scenarios.choose(
            f.session, checked.proc, caller.account_id, request.headers.get("X-Sandbox-Scenario")))
        hold = hooks.arrival_check(submission)
        if hold is not None:
            f.session.add(ApplicationHold(application_id=app.id, hidden_until=f.now + hold))
        link_resubmission(f, caller, app)  # a 再提出 of a 利用申込み answers the original's request
        results = f.apply_result(app)
        results.setdefault("apply_pay_list", [])
        links = {"self": api_url("/post-apply"), "status": api_url(f"/post-apply/{app.arrive_id}")}
    return ok("電子送達利用申込み", results, _links=links)


@bp.get("/post-apply/<arrive_id>")
@_auth
def post_apply_detail(arrive_id: str) -> Any:
    arrive_id = _arrive_id(arrive_id)
    caller = g.caller.__class__(g.caller.account_id, g.caller.username, trial=False)
    with filing() as f:
        app = posts.post_case(f, caller, arrive_id)
        results = f.detail(app, caller)
    return ok("電子送達状況確認", results)


@bp.get("/post/lists")
@_auth
def post_lists() -> Any:
    date_from, date_to, limit, offset = _period()
    with filing() as f:
        total, items = posts.list_posts(f, g.caller, date_from, date_to, limit, offset)
    return _page("電子送達一覧取得", "post_list", total, items, date_from, date_to, limit, offset)


@bp.get("/post/<post_id>")
@_auth
def post_detail(post_id: str) -> Any:
    if not POST_ID.match(post_id):
        raise bad_request("電子送達識別子は半角英数字1桁から50桁で指定してください。")
    with filing() as f:
        name, data, names = posts.fetch(f, g.caller, post_id)
    results = {"notice_data_name": name[:256], "file_data": base64.b64encode(data).decode(),
               "file_name_list": [{"file_name": n} for n in names]}
    return ok("電子送達取得", results, _links={"self": request.url, "complete": api_url("/post")})


@bp.post("/post")
@_auth
def post_complete() -> Any:
    post_id = _string(_body(), "post_id", 1, 50)
    if not POST_ID.match(post_id):
        raise bad_request("電子送達識別子は半角英数字1桁から50桁で指定してください。")
    with filing() as f:
        results = posts.complete(f, g.caller, post_id)
    return ok("電子送達取得完了", results)


# --- 手続に関するご案内 / プレ印字 ------------------------------------------------------------------------------

@bp.get("/message/lists")
@_auth
def message_lists() -> Any:
    date_from, date_to, limit, offset = _period()
    svc = services()
    total, items = messages.list_messages(svc.catalogue, svc.clock.now(), date_from, date_to, limit, offset)
    return _page("手続に関するご案内一覧取得", "information_list", total, items, date_from, date_to, limit, offset)


@bp.get("/message/<information_id>")
@_auth
def message_detail(information_id: str) -> Any:
    if not INFORMATION_ID.match(information_id):
        raise bad_request("お知らせIDは半角英数字1桁から16桁で指定してください。")
    svc = services()
    return ok("手続に関するご案内取得", messages.get_message(svc.catalogue, svc.clock.now(), information_id))


@bp.post("/preprint")
@_auth
def preprint_data() -> Any:
    return ok("プレ印字データ取得", preprint.preprint(services().catalogue, request.get_json(silent=True)))


# --- アカウント間情報共有 ---------------------------------------------------------------------------------------

def _sharing() -> Any:
    require_gbizid(g.access.idp)
    return filing()


@bp.get("/share-setting/lists")
@_auth
def share_setting_lists() -> Any:
    with _sharing() as f:
        current = SharingService(f.session, f.now).current(g.caller.account_id)
        if current is None:
            raise bad_request("情報共有は設定されていません。")
        results = {"share_setting_list": as_dict(*current)}
    return ok("情報共有一覧取得", results, resultset={"all_count": 1, "limit": 1, "offset": 0, "count": 1},
              _links={"self": request.url})


@bp.post("/share-setting")
@_auth
def share_setting_create() -> Any:
    body = _body()
    with _sharing() as f:
        row = SharingService(f.session, f.now).create(g.caller.account_id, body)
        results = as_dict(row, body["gbiz_id"])
    return ok("情報共有設定", results)


@bp.put("/share-setting")
@_auth
def share_setting_update() -> Any:
    body = _body()
    with _sharing() as f:
        row = SharingService(f.session, f.now).update(g.caller.account_id, body)
        results = as_dict(row, body["gbiz_id"])
    return ok("情報共有更新", results)


@bp.delete("/share-setting")
@_auth
def share_setting_delete() -> Any:
    body = _body()
    with _sharing() as f:
        gbiz_id = SharingService(f.session, f.now).delete(g.caller.account_id, body)
    return ok("情報共有解除", {"gbiz_id": gbiz_id})


@bp.post("/share-confirmation")
@_auth
def share_confirmation() -> Any:
    body = _body()
    with _sharing() as f:
        gbiz_id, acceptance = SharingService(f.session, f.now).confirm(g.caller.account_id, body)
    return ok("共有設定確認", {"gbiz_id": gbiz_id, "share_acceptance": acceptance})
