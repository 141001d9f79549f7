"""/__admin for GビズID: the operator's side of the account lifecycle, RP registrations and the
SMS outbox (where one-time codes "sent" to phones can be read). Same guard as /__admin."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from ..idp import gbizid_accounts as accounts
from ..idp import gbizid_op
from ..idp.gbizid_accounts import AccountError
from ..services import services
from ..store.models import GbizAccount, GbizPrimeApplication, GbizRelyingParty
from .admin import _guard, _problem

bp = Blueprint("gbizid_admin", __name__, url_prefix="/__admin")
bp.before_request(_guard)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.data:
        return {}
    if not isinstance(body, dict):
        raise AccountError("JSONオブジェクトを送ってください。")
    return body


def _handled(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except AccountError as exc:
            return _problem(exc.status, exc.message)
    return wrapper


def _created(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


@bp.get("/outbox")
def outbox() -> Any:
    """SMS messages, newest first: ?account=<account ID | phone number | sub>&limit=N."""
    try:
        limit = max(1, min(int(request.args.get("limit", 50)), 500))
    except ValueError:
        return _problem(400, "limit must be an integer")
    return jsonify({"messages": gbizid_op.outbox(services(), request.args.get("account"), limit)})


@bp.get("/gbizid/accounts")
def list_accounts() -> Any:
    svc = services()
    now = svc.clock.now()
    kind = request.args.get("account_type")
    with svc.db.session() as s:
        query = select(GbizAccount).order_by(GbizAccount.id)
        if kind:
            query = query.where(GbizAccount.account_type == kind)
        return jsonify({"accounts": [accounts.account_view(s, a, now) for a in s.scalars(query)]})


@bp.get("/gbizid/accounts/<key>")
@_handled
def get_account(key: str) -> Any:
    svc = services()
    now = svc.clock.now()
    with svc.db.session() as s:
        return jsonify(accounts.account_view(s, accounts.find_account(s, key), now))


@bp.post("/gbizid/entry")
@_handled
def register_entry() -> Any:
    return _created(accounts.register_entry(services(), _body()))


@bp.post("/gbizid/applications")
@_handled
def apply_prime() -> Any:
    return _created(accounts.apply_prime(services(), _body()))


@bp.get("/gbizid/applications")
def list_applications() -> Any:
    svc = services()
    now = svc.clock.now()
    with svc.db.session() as s:
        rows = s.scalars(select(GbizPrimeApplication).order_by(GbizPrimeApplication.id))
        return jsonify({"applications": [accounts.application_view(a, now) for a in rows]})


@bp.get("/gbizid/applications/<number>")
@_handled
def get_application(number: str) -> Any:
    return jsonify(accounts.get_application(services(), number))


@bp.post("/gbizid/applications/<number>/review")
@_handled
def review(number: str) -> Any:
    """Finish the review now: {} (the drawn outcome), {"decision": "承認"} or {"decision": "不備", "reasons": [...]}."""
    body = _body()
    reasons = body.get("reasons")
    if reasons is not None and not isinstance(reasons, list):
        raise AccountError("reasons は不備理由コードの配列です。")
    return jsonify(accounts.decide(services(), number, body.get("decision"), reasons))


@bp.post("/gbizid/accounts/<key>/members")
@_handled
def create_member(key: str) -> Any:
    return _created(accounts.create_member(services(), key, _body()))


@bp.post("/gbizid/accounts/<key>/representative")
@_handled
def change_representative(key: str) -> Any:
    return jsonify(accounts.change_representative(services(), key, _body()))


@bp.post("/gbizid/accounts/<key>/suspend")
@_handled
def suspend(key: str) -> Any:
    return jsonify(accounts.suspend(services(), key, str(_body().get("reason", ""))))


@bp.post("/gbizid/accounts/<key>/resume")
@_handled
def resume(key: str) -> Any:
    return jsonify(accounts.resume(services(), key))


@bp.post("/gbizid/accounts/<key>/sms")
@_handled
def change_sms(key: str) -> Any:
    return jsonify(accounts.change_sms_number(services(), key, _body().get("sms_number")))


@bp.post("/gbizid/accounts/<key>/app")
@_handled
def register_app(key: str) -> Any:
    return _created(accounts.register_app(services(), key))


@bp.delete("/gbizid/accounts/<key>/app")
@_handled
def deregister_app(key: str) -> Any:
    return jsonify(accounts.deregister_app(services(), key))


@bp.get("/gbizid/accounts/<key>/app/code")
@_handled
def app_code(key: str) -> Any:
    """What the authenticator app shows now (virtual time) — for scripts that play the phone. A code is
    accepted once, so after a login this gives the next step's code (accepted one step ahead)."""
    svc = services()
    now = svc.clock.now()
    with svc.db.session() as s:
        account = accounts.find_account(s, key)
        if not account.totp_secret:
            raise AccountError("認証アプリは登録されていません。", 409)
        try:
            code, valid_for = gbizid_op.totp_now(account.totp_secret, now, account.totp_last_step)
        except ValueError as exc:
            raise AccountError(f"{exc} (30 s)", 409) from exc
        return jsonify({"code": code, "valid_for_seconds": valid_for})


@bp.put("/gbizid/accounts/<key>/mandates")
@_handled
def set_mandates(key: str) -> Any:
    client_ids = _body().get("client_ids")
    if not isinstance(client_ids, list):
        raise AccountError("client_ids は行政サービスの client_id の配列です。")
    return jsonify(accounts.set_mandates(services(), key, [str(c) for c in client_ids]))


@bp.post("/gbizid/accounts/<key>/delegations")
@_handled
def delegate(key: str) -> Any:
    return _created(accounts.delegate(services(), key, _body()))


@bp.delete("/gbizid/delegations/<number>")
@_handled
def revoke_delegation(number: str) -> Any:
    accounts.revoke_delegation(services(), number)
    return Response(status=204)


@bp.get("/gbizid/clients")
def list_clients() -> Any:
    with services().db.session() as s:
        rows = s.scalars(select(GbizRelyingParty).order_by(GbizRelyingParty.client_id))
        return jsonify({"clients": [accounts.relying_party_view(rp) for rp in rows]})


@bp.post("/gbizid/clients")
@_handled
def register_client() -> Any:
    return _created(accounts.register_relying_party(services(), _body()))
