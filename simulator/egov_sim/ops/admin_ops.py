"""/__admin for the ops room (maintenance, faults, latency, journal, sessions, certificates) and
the public maintenance notice (/maintenance, /maintenance.json) as e-Gov announces it (not guarded)."""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .backend import ops_backend
from .views import optional_object, query_int

bp = Blueprint("ops", __name__)
public = Blueprint("maintenance_notice", __name__)

NO_CONTENT = ("", 204)


# ---------------------------------------------------------------------------- maintenance calendar

@bp.get("/maintenance")
def list_maintenance() -> Any:
    return jsonify(ops_backend().maintenance())


@bp.post("/maintenance")
def add_maintenance() -> Any:
    """One-off: {"start", "end" | "duration", options}; recurring: {"recurrence": {weekdays, start, duration,
    first?, last?}, options}. Options: auth_down, expire_tokens, end_sessions, lose_before ("PT10M"), announce."""
    return jsonify(ops_backend().add_maintenance(request.get_json(silent=True))), 201


@bp.delete("/maintenance/<int:window_id>")
def delete_maintenance(window_id: int) -> Any:
    ops_backend().delete_maintenance(window_id)
    return NO_CONTENT


@bp.delete("/maintenance")
def clear_maintenance() -> Any:
    ops_backend().delete_maintenance()
    return NO_CONTENT


# ---------------------------------------------------------------------------- fault rules

@bp.get("/faults")
def list_faults() -> Any:
    return jsonify(ops_backend().faults())


@bp.post("/faults")
def add_fault() -> Any:
    return jsonify(ops_backend().add_fault(request.get_json(silent=True))), 201


@bp.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int) -> Any:
    ops_backend().delete_fault(rule_id)
    return NO_CONTENT


@bp.delete("/faults")
def clear_faults() -> Any:
    ops_backend().delete_fault()
    return NO_CONTENT


@bp.get("/auto-returns/<proc_id>")
def list_auto_returns(proc_id: str) -> Any:
    return jsonify(ops_backend().auto_returns(proc_id))


@bp.get("/holds")
def list_holds() -> Any:
    return jsonify(ops_backend().holds())


# ---------------------------------------------------------------------------- latency profile

@bp.get("/latency")
def get_latency() -> Any:
    return jsonify(ops_backend().latency())


@bp.put("/latency")
def put_latency() -> Any:
    body = optional_object()
    return jsonify(ops_backend().set_latency(body.get("profile"), body.get("scale")))


# ---------------------------------------------------------------------------- request journal

@bp.get("/requests")
def list_requests() -> Any:
    args = request.args
    return jsonify(ops_backend().requests(limit=query_int("limit", 100, "limit は数値です。"), path=args.get("path"),
                                          account=args.get("account"), status=args.get("status"),
                                          method=args.get("method")))


@bp.get("/requests/<int:entry_id>")
def get_request(entry_id: int) -> Any:
    return jsonify(ops_backend().request_entry(entry_id))


@bp.delete("/requests")
def clear_requests() -> Any:
    ops_backend().clear_requests()
    return NO_CONTENT


# ---------------------------------------------------------------------------- sessions and certificates

@bp.post("/sessions/cut")
def post_cut_sessions() -> Any:
    """{"account": "demo"}: end the account's login sessions now (401 on the API, re-login works)."""
    return jsonify(ops_backend().cut_sessions(str(optional_object().get("account") or "")))


@bp.post("/certificates/<label>/revoke")
def post_revoke_certificate(label: str) -> Any:
    """Revoke a certificate now (or {"at": "..."}): e-Gov answers 「アクセス許可できません…」 from then on."""
    return jsonify(ops_backend().revoke_certificate(label, optional_object().get("at")))


# ---------------------------------------------------------------------------- the public notice

@public.get("/maintenance.json")
def notice_json() -> Any:
    return jsonify(ops_backend().notice())


@public.get("/maintenance")
def notice_html() -> Response:
    rows = "\n".join(f"<tr><td>{escape(o['start_text'])}</td><td>～</td><td>{escape(o['end_text'])}</td></tr>"
                     for o in ops_backend().notice()["schedule"])
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
