"""The console's pages (thin: parse → OpsBackend → render). `/__console/…` is the default world,
`/__console/w/<world_id>/…` any world (worlds.py); every POST answers with a redirect (PRG) or the
form again with its errors, nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ..idp.gbizid_accounts import AccountError
from ..ops.backend import OpsBackend
from ..ops.errors import OpsError
from ..ops.middleware import ops_state
from ..ops.outage_http import outage_answer
from ..ops.worlds_backend import worlds_backend
from . import forms, guard
from .worlds import DEFAULT, available_worlds, enter, find_world, ops_for

bp = Blueprint("console", __name__, url_prefix=guard.PATH, template_folder="templates", static_folder="static",
               static_url_path="/static")
MESSAGES = {"advanced": "次の手順に進めました。", "paid": "納付済みにしました。", "scenario": "次の申請のシナリオを設定しました。",
            "clock": "時計を変更しました。", "window-added": "メンテナンス予定を追加しました。",
            "window-deleted": "メンテナンス予定を削除しました。", "fault-added": "障害ルールを追加しました。",
            "fault-deleted": "障害ルールを削除しました。", "suspended": "アカウントを利用停止にしました。",
            "resumed": "アカウントの利用を再開しました。", "journal-cleared": "リクエスト履歴を消去しました。",
            "world-created": "ワールドを作成しました。下の認証情報でクライアントを設定してください。",
            "world-deleted": "ワールドを削除しました。"}


def page(rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view for the default world (`rule`) and for every world (`/w/<world_id>` + rule)."""
    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, view_func=view, defaults={"world_id": DEFAULT}, **options)
        bp.add_url_rule(f"/w/<world_id>{rule}", view_func=view, **options)
        return view
    return register


def ops() -> OpsBackend:
    return ops_for(g.console_world.world_id)


def link(endpoint: str, **values: Any) -> str:
    """A URL within the current world (the default one on pages outside any world)."""
    world = g.get("console_world")
    return url_for(f"console.{endpoint}", world_id=world.world_id if world else DEFAULT, **values)


def render(template: str, status: int = 200, **context: Any) -> Response:
    msg = MESSAGES.get(request.args.get("done", ""))
    return Response(render_template(f"console/{template}", message=msg, **context), status=status,
                    mimetype="text/html")


def error_page(status: int, message: str) -> Response:
    return Response(render_template("console/error.html", status=status, error=message), status=status,
                    mimetype="text/html")


def done(endpoint: str, key: str, **values: Any) -> Response:
    return redirect(link(endpoint, done=key, **values), code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------- guard, CSRF, worlds

@bp.url_value_preprocessor
def _world(endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.console_world_id = (values or {}).pop("world_id", DEFAULT)


@bp.before_request
def _guard() -> Response | None:
    login = request.endpoint in ("console.login", "console.static")
    refused = guard.check(login=login)
    if refused:
        status, detail = refused
        if status == 401:
            return redirect(url_for("console.login", next=request.path), code=303)  # type: ignore[return-value]
        return error_page(status, detail)
    if request.method == "POST" and not guard.csrf_ok():
        return error_page(403, "画面の有効期限が切れたか、不正な送信です（CSRFトークンがありません）。"
                               "画面を開き直してから、もう一度操作してください。")
    g.console_world = find_world(g.console_world_id)
    if g.console_world is None and not login:
        return error_page(404, f"ワールド「{g.console_world_id}」は存在しません。")
    if g.console_world is not None:
        enter(g.console_world.world_id)
    return None


@bp.after_request
def _after(response: Response) -> Response:
    if g.get("console_csrf_new"):
        response.set_cookie(guard.CSRF_COOKIE, g.console_csrf, httponly=True, samesite="Strict", path=guard.PATH)
    if request.method == "POST":
        ops_state().invalidate()  # as the admin API does: this process sees the change at once
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    if not request.path.startswith(guard.PATH):
        return {}
    world = g.get("console_world")
    return {"console_csrf": guard.csrf_field, "link": link, "world": world, "worlds": available_worlds(),
            "virtual_now": (lambda: ops().clock()["now"]) if world else (lambda: "")}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    return error_page(exc.code or 500, {404: "ページが見つかりません。", 405: "この操作はできません。"}.get(
        exc.code or 500, exc.description or exc.name))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    outage = outage_answer(exc)
    if outage is not None:
        return outage
    from flask import current_app

    current_app.logger.error("unhandled error on %s", request.path, exc_info=exc)
    return error_page(500, "コンソールの内部でエラーが発生しました。")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """With an admin token configured: the browser gives it once, kept in an HttpOnly cookie."""
    target = request.args.get("next") or guard.PATH + "/"
    if not target.startswith(guard.PATH + "/"):
        target = guard.PATH + "/"
    error = None
    if request.method == "POST":
        if guard.token_matches(request.form.get("token", "")):
            response = redirect(target, code=303)
            response.set_cookie(guard.TOKEN_COOKIE, request.form["token"].strip(), httponly=True, samesite="Strict",
                                path=guard.PATH)
            return response
        error = "トークンが違います。"
    return Response(render_template("console/login.html", error=error, target=target),
                    status=401 if error else 200, mimetype="text/html")


# ---------------------------------------------------------------------------- ダッシュボード

@page("/")
def dashboard() -> Response:
    backend = ops()
    cases = backend.applications(forms.CaseQuery(limit=1_000_000))
    groups = {name: sum(r["group"] == name for r in cases["applications"]) for name in forms.STATUS_GROUPS[1:]}
    return render("dashboard.html", clock=backend.clock(), cases=cases["applications"][:5], total=cases["total"],
                  groups=groups,
                  faults=backend.faults()["faults"], maintenance=backend.maintenance())


@bp.post("/worlds")
def create_world() -> Response:
    """A new world from the demo template (the admin API's POST /__admin/worlds)."""
    enter(DEFAULT)
    try:
        created = worlds_backend().create()
    except OpsError as exc:
        return error_page(exc.status, f"ワールドを作成できません: {exc}")
    return redirect(url_for("console.dashboard", world_id=created["id"], done="world-created"),
                    code=303)  # type: ignore[return-value]


@bp.post("/worlds/<wid>/delete")
def delete_world(wid: str) -> Response:
    enter(DEFAULT)
    try:
        worlds_backend().delete(wid)
    except OpsError as exc:
        return error_page(exc.status, f"ワールドを削除できません: {exc}")
    return redirect(url_for("console.dashboard", world_id=DEFAULT, done="world-deleted"),
                    code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------- 申請一覧 / 案件

@page("/applications")
def applications() -> Response:
    today = datetime.fromisoformat(ops().clock()["now"]).date()
    query, shown, errors = forms.case_query(request.args, today)
    result = ops().applications(query) if not errors else {"total": 0, "applications": []}
    pages = max(1, -(-result["total"] // forms.PAGE_SIZE))
    return render("applications.html", 400 if errors else 200, result=result, shown=shown, errors=errors,
                  groups=forms.STATUS_GROUPS, page=int(shown["page"]), pages=pages)


def _case_page(arrive_id: str, errors: list[str] | None = None, status: int = 200) -> Response:
    try:
        case = ops().application(arrive_id)
    except OpsError:
        return error_page(404, f"到達番号 {arrive_id} の案件はありません。")
    return render("case.html", status, case=case, errors=errors or [])


@page("/applications/<arrive_id>")
def case(arrive_id: str) -> Response:
    return _case_page(arrive_id)


@page("/applications/<arrive_id>/advance", methods=["POST"])
def advance(arrive_id: str) -> Response:
    try:
        ops().advance_case(arrive_id)
    except OpsError as exc:
        return _case_page(arrive_id, [_ja(exc, {409: "進められる手順がありません（予定の手順がないか、申請者の補正・再提出"
                                                     "または取下げの判断を待っています）。"})], exc.status)
    return done("case", "advanced", arrive_id=arrive_id)


@page("/applications/<arrive_id>/pay", methods=["POST"])
def pay(arrive_id: str) -> Response:
    try:
        ops().pay_case(arrive_id, request.form.get("pay_number") or None)
    except OpsError as exc:
        return _case_page(arrive_id, [_ja(exc, {409: "納付待ちの納付がありません。"})], exc.status)
    return done("case", "paid", arrive_id=arrive_id)


@page("/applications/<arrive_id>/scenario", methods=["POST"])
def scenario(arrive_id: str) -> Response:
    try:
        case = ops().application(arrive_id)
    except OpsError:
        return error_page(404, f"到達番号 {arrive_id} の案件はありません。")
    try:
        choice = forms.scenario_choice(request.form, case["scenarios"])
        ops().set_scenario(choice["scenario"], account=choice["account"], proc_id=choice["proc_id"],
                           count=choice["count"])
    except forms.FormError as exc:
        return _case_page(arrive_id, exc.errors, 400)
    except OpsError as exc:
        return _case_page(arrive_id, [_ja(exc, {})], exc.status)
    return done("case", "scenario", arrive_id=arrive_id)


def _ja(exc: OpsError, by_status: dict[int, str]) -> str:
    """The backend's refusal for people: Japanese where the admin API answers in English."""
    return by_status.get(exc.status) or f"操作できませんでした: {exc.message}"


# ---------------------------------------------------------------------------- 時計

@page("/clock", methods=["GET", "POST"])
def clock() -> Response:
    errors: list[str] = []
    if request.method == "POST":
        try:
            ops().set_clock(**forms.clock_change(request.form))
            return done("clock", "clock")
        except forms.FormError as exc:
            errors = exc.errors
        except OpsError as exc:
            errors = [_ja(exc, {})]
    return render("clock.html", 400 if errors else 200, clock=ops().clock(), errors=errors, form=request.form)


# ---------------------------------------------------------------------------- メンテナンス

@page("/maintenance", methods=["GET", "POST"])
def maintenance() -> Response:
    errors: list[str] = []
    if request.method == "POST":
        try:
            ops().add_maintenance(forms.maintenance_window(request.form))
            return done("maintenance", "window-added")
        except forms.FormError as exc:
            errors = exc.errors
        except OpsError as exc:
            errors = [exc.message]
    return render("maintenance.html", 400 if errors else 200, data=ops().maintenance(), notice=ops().notice(),
                  errors=errors, form=request.form, weekdays=forms.WEEKDAY_NAMES)


@page("/maintenance/<int:window_id>/delete", methods=["POST"])
def delete_window(window_id: int) -> Response:
    try:
        ops().delete_maintenance(window_id)
    except OpsError:
        return error_page(404, f"メンテナンス予定 {window_id} はありません。")
    return done("maintenance", "window-deleted")


# ---------------------------------------------------------------------------- 障害注入

@page("/faults", methods=["GET", "POST"])
def faults() -> Response:
    errors: list[str] = []
    if request.method == "POST":
        try:
            ops().add_fault(forms.fault_rule(request.form))
            return done("faults", "fault-added")
        except forms.FormError as exc:
            errors = exc.errors
        except OpsError as exc:
            errors = [exc.message]
    return render("faults.html", 400 if errors else 200, rules=ops().faults()["faults"], errors=errors,
                  form=request.form, kinds=forms.FAULT_KINDS, methods=forms.METHODS)


@page("/faults/<int:rule_id>/delete", methods=["POST"])
def delete_fault(rule_id: int) -> Response:
    try:
        ops().delete_fault(rule_id)
    except OpsError:
        return error_page(404, f"障害ルール {rule_id} はありません。")
    return done("faults", "fault-deleted")


# ---------------------------------------------------------------------------- リクエスト履歴

@page("/requests")
def requests() -> Response:
    args = request.args
    errors = []
    limit = args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        errors.append(f"件数は1〜1000の整数で入力してください（入力値: {limit}）。")
        limit = "100"
    status = (args.get("status") or "").strip()
    if status and not (status.isdigit() or (len(status) == 3 and status[0].isdigit() and status[1:].lower() == "xx")):
        errors.append(f"ステータスは 503 や 5xx の形で入力してください（入力値: {status}）。")
        status = ""
    found = ops().requests(limit=int(limit), path=args.get("path") or None, account=args.get("account") or None,
                           status=status or None, method=args.get("method") or None)
    return render("requests.html", 400 if errors else 200, found=found, errors=errors, args=args, methods=forms.METHODS)


@page("/requests/<int:entry_id>")
def request_entry(entry_id: int) -> Response:
    try:
        entry = ops().request_entry(entry_id)
    except OpsError:
        return error_page(404, f"リクエスト {entry_id} は履歴にありません（古いものは消えます）。")
    return render("request.html", entry=entry)


@page("/requests/clear", methods=["POST"])
def clear_requests() -> Response:
    ops().clear_requests()
    return done("requests", "journal-cleared")


# ---------------------------------------------------------------------------- GビズID

@page("/gbizid")
def gbizid() -> Response:
    backend = ops()
    return render("gbizid.html", accounts=backend.gbizid_accounts()["accounts"],
                  outbox=backend.outbox(request.args.get("account") or None, 50), errors=[])


@page("/gbizid/accounts/<key>/<action>", methods=["POST"])
def gbizid_account(key: str, action: str) -> Response:
    backend = ops()
    try:
        if action == "suspend":
            backend.suspend(key, (request.form.get("reason") or "").strip())
        elif action == "resume":
            backend.resume(key)
        else:
            return error_page(404, "ページが見つかりません。")
    except AccountError as exc:
        return render("gbizid.html", exc.status, accounts=backend.gbizid_accounts()["accounts"],
                      outbox=backend.outbox(None, 50), errors=[exc.message])
    return done("gbizid", "suspended" if action == "suspend" else "resumed")

