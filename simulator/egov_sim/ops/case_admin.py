"""/__admin controls of cases: pick scenarios for next submissions, move a case to its next step,
stand in for the bank. Same guard as the rest of /__admin (loopback, or the admin token)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from ..filing import payments, scenarios
from ..filing.cases import Caller
from ..filing.v2.unit_of_work import filing
from ..services import services
from ..store.models import Account, Application
from .admin import _guard, _problem

bp = Blueprint("case_admin", __name__, url_prefix="/__admin")
bp.before_request(_guard)


def _account(session: Any, name: str) -> Account | None:
    for acc in session.scalars(select(Account)):
        if name in (acc.username, (acc.profile or {}).get("alias")):
            return acc
    return None


@bp.post("/scenario")
def post_scenario() -> Any:
    """Body: {"scenario": "hosei_partial", "account": "demo"?, "proc_id": "..."?, "count": 1?}.
    `scenario: null` removes the rule for that account/procedure."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "scenario" not in body:
        return _problem(400, "JSON object expected: scenario, and optionally account, proc_id, count")
    catalogue = services().catalogue
    name, proc_id = body.get("scenario"), body.get("proc_id")
    if proc_id is not None and catalogue.get(proc_id) is None:
        return _problem(400, f"unknown procedure {proc_id!r}")
    if name is not None:
        procs = [catalogue.get(proc_id)] if proc_id else list(catalogue)
        if not any(p and name in p.scenarios for p in procs):
            return _problem(400, f"no procedure{' ' + proc_id if proc_id else ''} has a scenario {name!r}")
    with filing() as f:
        rule: dict[str, Any] = {"scenario": name, "account_id": None, "proc_id": proc_id}
        if body.get("account"):
            acc = _account(f.session, str(body["account"]))
            if acc is None:
                return _problem(400, f"unknown account {body['account']!r}")
            rule["account_id"] = acc.id
        if body.get("count") is not None:
            rule["remaining"] = int(body["count"])
        rules = scenarios.set_override(f.session, rule)
    return jsonify({"rules": rules})


def _case(f: Any, arrive_id: str) -> Application | None:
    return f.session.scalars(select(Application).where(Application.arrive_id == arrive_id)).first()


@bp.post("/applications/<arrive_id>/advance")
def advance_case(arrive_id: str) -> Any:
    """Make the case's next scenario step happen now."""
    with filing() as f:
        app = _case(f, arrive_id)
        if app is None:
            return _problem(404, f"no application {arrive_id}")
        step = scenarios.advance_case(app, f.actions(app), f.now)
        view = f.view(app)
    if step is None:
        return _problem(409, "nothing to advance: no pending step, or the case waits for the applicant "
                             "(補正 / 再提出) or for its withdrawal decision")
    return jsonify({"arrive_id": arrive_id, "step": step, "status": view.status})


@bp.post("/applications/<arrive_id>/pay")
def pay_case(arrive_id: str) -> Any:
    """The bank's confirmation: body {"pay_number": "..."} or {} for every waiting payment."""
    body = request.get_json(silent=True) or {}
    with filing() as f:
        app = _case(f, arrive_id)
        if app is None:
            return _problem(404, f"no application {arrive_id}")
        owner = Caller(app.account_id, "", app.trial)
        paid = payments.record_paid(f, owner, arrive_id, body.get("pay_number"))
    if not paid:
        return _problem(409, "no waiting payment to mark as paid")
    return jsonify({"arrive_id": arrive_id, "paid": paid})
