"""/__admin controls of cases: pick scenarios for next submissions, move a case to its next step,
stand in for the bank."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .backend import ops_backend
from .views import json_object, optional_object

bp = Blueprint("cases", __name__)


@bp.post("/scenario")
def post_scenario() -> Any:
    """Body: {"scenario": "hosei_partial", "account": "demo"?, "proc_id": "..."?, "count": 1?}.
    `scenario: null` removes the rule for that account/procedure."""
    body = json_object("JSON object expected: scenario, and optionally account, proc_id, count", "scenario")
    return jsonify(ops_backend().set_scenario(
        body.get("scenario"), account=str(body["account"]) if body.get("account") else None,
        proc_id=body.get("proc_id"), count=int(body["count"]) if body.get("count") is not None else None))


@bp.post("/applications/<arrive_id>/advance")
def advance_case(arrive_id: str) -> Any:
    """Make the case's next scenario step happen now."""
    return jsonify(ops_backend().advance_case(arrive_id))


@bp.post("/applications/<arrive_id>/pay")
def pay_case(arrive_id: str) -> Any:
    """The bank's confirmation: body {"pay_number": "..."} or {} for every waiting payment."""
    return jsonify(ops_backend().pay_case(arrive_id, optional_object().get("pay_number")))
