"""The e-Gov auth server's 「GビズIDでログイン」 (Keycloak's broker URLs under
`/auth/broker/gbizid`): start the federation, and the endpoint GビズID redirects back to."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request

from .egov_auth import RESTART, binding, error_page, login_step, server
from .egov_tokens import LoginError
from .oauth_http import set_login_cookie
from .outcomes import Redirect

bp = Blueprint("egov_broker", __name__, url_prefix="/auth/broker/gbizid", template_folder="templates")

BROKER_COOKIE = "EGOV_SIM_BROKER"


@bp.post("/login")
def start() -> Response:
    """From the e-Gov login page: send the browser to GビズID with the pending e-Gov request kept."""
    try:
        begun = server().start_federation(request.form.get("login_request", ""), binding())
    except LoginError as exc:
        return error_page(exc.message, RESTART)
    response = redirect(begun.authorize_url, 302)
    set_login_cookie(response, BROKER_COOKIE, begun.sealed_state, bp.url_prefix)
    return response


@bp.get("/endpoint")
def endpoint() -> Response:
    """GビズID's redirect back: finish the e-Gov login, or show the e-Gov login page with the reason."""
    try:
        outcome = server().finish_federation(request.cookies.get(BROKER_COOKIE, ""), request.args, binding())
    except LoginError as exc:
        return error_page(exc.message, "ログイン画面を開き直してください。")
    response = login_step(outcome)
    if isinstance(outcome, Redirect):
        response.delete_cookie(BROKER_COOKIE, path=bp.url_prefix)
    return response
