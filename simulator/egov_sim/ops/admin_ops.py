"""/__admin for the ops room (maintenance, faults, latency, journal, sessions, certificates) and
the public maintenance notice (/maintenance, /maintenance.json) as e-Gov announces it.

Protected like the rest of /__admin (open on loopback; EGOV_SIM_ADMIN_TOKEN otherwise).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import delete, select

from ..services import services
from ..store.models import Setting
from ..store.ops_tables import ApplicationHold, FaultRule, MaintenanceWindow
from . import auto_return, faults, latency
from .admin import _guard, _problem
from .maintenance import Calendar, CalendarError, parse_window, to_window
from .middleware import LATENCY_KEY, faultable_trees, latency_config, ops_state
from .world_events import cut_sessions, find_account_id, revoke_certificate

bp = Blueprint("admin_ops", __name__, url_prefix="/__admin")
bp.before_request(_guard)


@bp.after_request
def _invalidate(response: Response) -> Response:
    """Any change through the admin API is seen by this process's next request at once."""
    if request.method != "GET":
        ops_state().invalidate()
    return response

public = Blueprint("maintenance_notice", __name__)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


# ---------------------------------------------------------------------------- maintenance calendar

def _calendar() -> Calendar:
    with services().db.session() as s:
        return Calendar.load(s)


@bp.get("/maintenance")
def list_maintenance() -> Any:
    svc = services()
    now = svc.clock.now()
    cal = _calendar()
    current = cal.current(now)
    return jsonify({"now": now.isoformat(timespec="seconds") + "+09:00",
                    "current": current.as_dict() if current else None,
                    "windows": [w.as_dict() for w in cal.windows],
                    "upcoming": [o.as_dict() for o in cal.upcoming(now, announced_only=False)]})


@bp.post("/maintenance")
def add_maintenance() -> Any:
    """One-off: {"start", "end" | "duration", options}; recurring: {"recurrence": {weekdays, start, duration,
    first?, last?}, options}. Options: auth_down, expire_tokens, end_sessions, lose_before ("PT10M"), announce."""
    try:
        values = parse_window(request.get_json(silent=True))
    except CalendarError as exc:
        return _problem(400, str(exc))
    with services().db.session() as s:
        row = MaintenanceWindow(**values)
        s.add(row)
        s.flush()
        window = to_window(row)
    return jsonify(window.as_dict()), 201


@bp.delete("/maintenance/<int:window_id>")
def delete_maintenance(window_id: int) -> Any:
    with services().db.session() as s:
        gone = s.execute(delete(MaintenanceWindow).where(MaintenanceWindow.id == window_id)).rowcount
    return ("", 204) if gone else _problem(404, f"maintenance window {window_id} not found")


@bp.delete("/maintenance")
def clear_maintenance() -> Any:
    with services().db.session() as s:
        s.execute(delete(MaintenanceWindow))
    return "", 204


# ---------------------------------------------------------------------------- fault rules

def _resolve_account(spec: dict[str, Any]) -> str | None:
    """Turn a demo alias in match.account into the login ID; None when it names nobody."""
    match = spec.get("match") or {}
    name = match.get("account")
    if not name:
        return ""
    from ..store.models import Account

    with services().db.session() as s:
        account_id = find_account_id(s, str(name))
        if account_id is None:
            return None
        username = s.get(Account, account_id).username  # type: ignore[union-attr]
    spec["match"] = {**match, "account": username}
    return username


@bp.get("/faults")
def list_faults() -> Any:
    with services().db.session() as s:
        return jsonify({"faults": [r.as_dict() for r in faults.load_rules(s)]})


@bp.post("/faults")
def add_fault() -> Any:
    try:
        spec = faults.validate(request.get_json(silent=True), faultable_trees())
    except faults.FaultError as exc:
        return _problem(400, str(exc))
    if _resolve_account(spec) is None:
        return _problem(400, f"match.account に該当するアカウントがありません: {spec['match']['account']}")
    case = spec["action"].get("auto_return")
    proc_id = (spec.get("match") or {}).get("proc_id")
    if case and proc_id and auto_return.find(services().catalogue.get(proc_id), case) is None:
        return _problem(400, f"手続 {proc_id} に自動返戻ケース {case} はありません。")
    with services().db.session() as s:
        row = FaultRule(spec=spec, limit=spec.get("times"), created_at=services().clock.now())
        s.add(row)
        s.flush()
        rule = faults.to_rule(row)
    return jsonify(rule.as_dict()), 201


@bp.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int) -> Any:
    with services().db.session() as s:
        gone = s.execute(delete(FaultRule).where(FaultRule.id == rule_id)).rowcount
    return ("", 204) if gone else _problem(404, f"fault rule {rule_id} not found")


@bp.delete("/faults")
def clear_faults() -> Any:
    with services().db.session() as s:
        s.execute(delete(FaultRule))
    return "", 204


@bp.get("/auto-returns/<proc_id>")
def list_auto_returns(proc_id: str) -> Any:
    proc = services().catalogue.get(proc_id)
    if proc is None:
        return _problem(404, f"unknown procedure {proc_id}")
    return jsonify({name: {"description": c.description, "report_list": [r.as_dict() for r in c.report]}
                    for name, c in auto_return.cases(proc).items()})


@bp.get("/holds")
def list_holds() -> Any:
    """Applications that inquiries do not show (arrival being checked, lost in maintenance)."""
    from ..store.models import Application

    with services().db.session() as s:
        rows = s.execute(select(ApplicationHold, Application.arrive_id)
                         .join(Application, Application.id == ApplicationHold.application_id)).all()
        return jsonify({"holds": [{"arrive_id": arrive_id, "hidden_until": h.hidden_until.isoformat()
                                   if h.hidden_until else None, "lost_reason": h.lost_reason}
                                  for h, arrive_id in rows]})


# ---------------------------------------------------------------------------- latency profile

@bp.get("/latency")
def get_latency() -> Any:
    return jsonify(latency_config().as_dict())


@bp.put("/latency")
def put_latency() -> Any:
    body = _body()
    current = latency_config()
    try:
        config = latency.validate(body.get("profile", current.profile), body.get("scale", current.scale))
    except ValueError as exc:
        return _problem(400, str(exc))
    with services().db.session() as s:
        s.merge(Setting(key=LATENCY_KEY, value={"profile": config.profile, "scale": config.scale}))
    return jsonify(config.as_dict())


# ---------------------------------------------------------------------------- request journal

@bp.get("/requests")
def list_requests() -> Any:
    args = request.args
    try:
        limit = min(max(int(args.get("limit", 100)), 1), 1000)
    except ValueError:
        return _problem(400, "limit は数値です。")
    journal = ops_state().journal
    entries = journal.find(path=args.get("path"), account=args.get("account"), status=args.get("status"),
                           method=args.get("method"), limit=limit)
    return jsonify({"size": journal.size, "count": len(entries), "requests": [e.as_dict() for e in entries]})


@bp.delete("/requests")
def clear_requests() -> Any:
    ops_state().journal.clear()
    return "", 204


# ---------------------------------------------------------------------------- sessions and certificates

@bp.post("/sessions/cut")
def post_cut_sessions() -> Any:
    """{"account": "demo"}: end the account's login sessions now (401 on the API, re-login works)."""
    svc = services()
    name = str(_body().get("account") or "")
    with svc.db.session() as s:
        account_id = find_account_id(s, name)
    if account_id is None:
        return _problem(404, f"account {name!r} not found")
    return jsonify({"account": name, "sessions_cut": cut_sessions(svc.db, account_id, svc.clock.now())})


@bp.post("/certificates/<label>/revoke")
def post_revoke_certificate(label: str) -> Any:
    """Revoke a certificate now (or {"at": "..."}): e-Gov answers 「アクセス許可できません…」 from then on."""
    svc = services()
    at_text = _body().get("at")
    try:
        at = datetime.fromisoformat(at_text).replace(tzinfo=None) if at_text else svc.clock.now()
    except (TypeError, ValueError):
        return _problem(400, "at は日時です。")
    if not revoke_certificate(svc.db, label, at):
        return _problem(404, f"certificate {label!r} not found")
    return jsonify({"label": label, "revoked_at": at.isoformat(timespec="seconds")})


# ---------------------------------------------------------------------------- the public notice

@public.get("/maintenance.json")
def notice_json() -> Any:
    now = services().clock.now()
    cal = _calendar()
    current = cal.current(now)
    return jsonify({"title": "e-Gov電子申請システムメンテナンスのお知らせ",
                    "in_maintenance": current is not None,
                    "current": current.as_dict() if current else None,
                    "schedule": [o.as_dict() for o in cal.upcoming(now)]})


@public.get("/maintenance")
def notice_html() -> Response:
    now = services().clock.now()
    rows = "\n".join(f"<tr><td>{escape(o.as_dict()['start_text'])}</td><td>～</td>"
                     f"<td>{escape(o.as_dict()['end_text'])}</td></tr>" for o in _calendar().upcoming(now))
    html = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>e-Gov電子申請システムメンテナンスのお知らせ</title></head>
<body>
<h1>e-Gov電子申請システムメンテナンスのお知らせ</h1>
<p>以下の日程でe-Gov等の電子申請システムの保守作業が行われます。<br>
メンテナンス中はAPIによるすべての申請機能をご利用いただけません。<br>
メンテナンス終了後にご利用いただきますようお願いいたします。</p>
<p>尚、時間は前後する場合がございます。<br>
メンテナンス中に申請されたデータは、e-Gov側に到達していない可能性がありますので、<br>
その際は再度申請をやり直していただきますようお願いいたします。</p>
<h2>■ 作業予定日時</h2>
<table>
{rows or '<tr><td>現在、予定されているメンテナンスはありません。</td></tr>'}
</table>
</body></html>
"""
    return Response(html, mimetype="text/html")
