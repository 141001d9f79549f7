"""/__admin for GビズID: the operator's side of the account lifecycle, RP registrations and the
SMS outbox (where one-time codes "sent" to phones can be read)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..idp.gbizid_accounts import AccountError
from .backend import ops_backend
from .views import optional_object, query_int

bp = Blueprint("gbizid", __name__)


def _body() -> dict[str, Any]:
    return optional_object("JSONオブジェクトを送ってください。")


def _created(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


@bp.get("/outbox")
def outbox() -> Any:
    """SMS messages, newest first: ?account=<account ID | phone number | sub>&limit=N."""
    limit = query_int("limit", 50, "limit must be an integer")
    return jsonify(ops_backend().outbox(request.args.get("account"), limit))


@bp.get("/gbizid/accounts")
def list_accounts() -> Any:
    return jsonify(ops_backend().gbizid_accounts(request.args.get("account_type")))


@bp.get("/gbizid/accounts/<key>")
def get_account(key: str) -> Any:
    return jsonify(ops_backend().gbizid_account(key))


@bp.post("/gbizid/entry")
def register_entry() -> Any:
    return _created(ops_backend().register_entry(_body()))


@bp.post("/gbizid/applications")
def apply_prime() -> Any:
    return _created(ops_backend().apply_prime(_body()))


@bp.get("/gbizid/applications")
def list_applications() -> Any:
    return jsonify(ops_backend().prime_applications())


@bp.get("/gbizid/applications/<number>")
def get_application(number: str) -> Any:
    return jsonify(ops_backend().prime_application(number))


@bp.post("/gbizid/applications/<number>/review")
def review(number: str) -> Any:
    """Finish the review now: {} (the drawn outcome), {"decision": "承認"} or {"decision": "不備", "reasons": [...]}."""
    body = _body()
    reasons = body.get("reasons")
    if reasons is not None and not isinstance(reasons, list):
        raise AccountError("reasons は不備理由コードの配列です。")
    return jsonify(ops_backend().review(number, body.get("decision"), reasons))


@bp.post("/gbizid/accounts/<key>/members")
def create_member(key: str) -> Any:
    return _created(ops_backend().create_member(key, _body()))


@bp.post("/gbizid/accounts/<key>/representative")
def change_representative(key: str) -> Any:
    return jsonify(ops_backend().change_representative(key, _body()))


@bp.post("/gbizid/accounts/<key>/suspend")
def suspend(key: str) -> Any:
    return jsonify(ops_backend().suspend(key, str(_body().get("reason", ""))))


@bp.post("/gbizid/accounts/<key>/resume")
def resume(key: str) -> Any:
    return jsonify(ops_backend().resume(key))


@bp.post("/gbizid/accounts/<key>/sms")
def change_sms(key: str) -> Any:
    return jsonify(ops_backend().change_sms(key, _body().get("sms_number")))


@bp.post("/gbizid/accounts/<key>/app")
def register_app(key: str) -> Any:
    return _created(ops_backend().register_app(key))


@bp.delete("/gbizid/accounts/<key>/app")
def deregister_app(key: str) -> Any:
    return jsonify(ops_backend().deregister_app(key))


@bp.get("/gbizid/accounts/<key>/app/code")
def app_code(key: str) -> Any:
    """What the authenticator app shows now (virtual time) — for scripts that play the phone. A code is
    accepted once, so after a login this gives the next step's code (accepted one step ahead)."""
    return jsonify(ops_backend().app_code(key))


@bp.put("/gbizid/accounts/<key>/mandates")
def set_mandates(key: str) -> Any:
    client_ids = _body().get("client_ids")
    if not isinstance(client_ids, list):
        raise AccountError("client_ids は行政サービスの client_id の配列です。")
    return jsonify(ops_backend().set_mandates(key, [str(c) for c in client_ids]))


@bp.post("/gbizid/accounts/<key>/delegations")
def delegate(key: str) -> Any:
    return _created(ops_backend().delegate(key, _body()))


@bp.delete("/gbizid/delegations/<number>")
def revoke_delegation(number: str) -> Any:
    ops_backend().revoke_delegation(number)
    return Response(status=204)


@bp.get("/gbizid/clients")
def list_clients() -> Any:
    return jsonify(ops_backend().relying_parties())


@bp.post("/gbizid/clients")
def register_client() -> Any:
    return _created(ops_backend().register_relying_party(_body()))
