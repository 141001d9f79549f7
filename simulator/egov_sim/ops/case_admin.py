"""/__admin controls of cases: pick scenarios for next submissions, move a case to its next step,
stand in for the bank; the operator's reads of every account's cases (the console's 申請一覧 and 案件)."""

from __future__ import annotations

from datetime import date
from typing import Any

from egov_format.statuses import STATUS_GROUPS
from flask import Blueprint, jsonify, request

from .backend import ops_backend
from .case_views import CaseQuery
from .errors import OpsError
from .views import json_object, optional_object, query_int

bp = Blueprint("cases", __name__)


@bp.post("/scenario")
def post_scenario() -> Any:
    """Body: {"scenario": "hosei_partial", "account": "demo"?, "proc_id": "..."?, "count": 1?}.
    `scenario: null` removes the rule for that account/procedure."""
    body = json_object("JSON object expected: scenario, and optionally account, proc_id, count", "scenario")
    return jsonify(ops_backend().set_scenario(
        body.get("scenario"), account=str(body["account"]) if body.get("account") else None,
        proc_id=body.get("proc_id"), count=int(body["count"]) if body.get("count") is not None else None))


@bp.get("/applications")
def list_cases() -> Any:
    """?sent_from=YYYY-MM-DD&sent_to=…&group=審査中&account=<login ID>&limit=20&offset=0 (newest sent first)."""
    args = request.args
    try:
        sent = {k: date.fromisoformat(args[k]) if args.get(k) else None for k in ("sent_from", "sent_to")}
    except ValueError:
        raise OpsError("sent_from / sent_to は日付 (YYYY-MM-DD) です。") from None
    group = args.get("group", "全て")
    if group not in STATUS_GROUPS:
        raise OpsError(f"group は {'/'.join(STATUS_GROUPS)} のいずれかです。")
    limit = query_int("limit", 100, "limit は数値です。")
    offset = query_int("offset", 0, "offset は数値です。")
    if not 1 <= limit <= 1000 or offset < 0:
        raise OpsError("limit は1〜1000、offset は0以上です。")
    return jsonify(ops_backend().applications(CaseQuery(group=group, account=args.get("account") or None,
                                                        limit=limit, offset=offset, **sent)))


@bp.get("/applications/<arrive_id>")
def get_case(arrive_id: str) -> Any:
    """One case with its timeline (past and scheduled steps), notices, documents, payments and actions."""
    return jsonify(ops_backend().application(arrive_id))


@bp.post("/applications/<arrive_id>/advance")
def advance_case(arrive_id: str) -> Any:
    """Make the case's next scenario step happen now."""
    return jsonify(ops_backend().advance_case(arrive_id))


@bp.post("/applications/<arrive_id>/pay")
def pay_case(arrive_id: str) -> Any:
    """The bank's confirmation: body {"pay_number": "..."} or {} for every waiting payment."""
    return jsonify(ops_backend().pay_case(arrive_id, optional_object().get("pay_number")))
