"""The e-Gov auth server's 「GビズIDでログイン」 (Keycloak's broker URLs under
`/auth/broker/gbizid`): start the federation, and the endpoint GビズID redirects back to."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from ..services import services
from . import egov_federation as federation
from . import egov_tokens as tokens
from .egov_auth import LOGIN_COOKIE, _error_page, _page
from .egov_tokens import LoginError

bp = Blueprint("egov_broker", __name__, url_prefix="/auth/broker/gbizid", template_folder="templates")

BROKER_COOKIE = "EGOV_SIM_BROKER"


@bp.post("/login")
def start() -> Response:
    """From the e-Gov login page: send the browser to GビズID with the pending e-Gov request kept."""
    svc = services()
    try:
        egov_request = tokens.open_login_request(svc, request.form.get("login_request", ""),
                                                 request.cookies.get(LOGIN_COOKIE, ""))
    except LoginError as exc:
        return _error_page(exc.message, "Your login attempt timed out or came from another browser.")
    begun = federation.start(svc, egov_request, request.host_url)
    response = redirect(begun.authorize_url, 302)
    response.set_cookie(BROKER_COOKIE, begun.sealed_state, path=bp.url_prefix, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response


@bp.get("/endpoint")
def endpoint() -> Response:
    """GビズID's redirect back: finish the e-Gov login, or show the e-Gov login page with the reason."""
    svc = services()
    sealed = request.cookies.get(BROKER_COOKIE, "")
    try:
        egov_request, result = federation.complete(svc, sealed, request.args.to_dict(), request.host_url)
    except LoginError as exc:
        if exc.restart:
            return _error_page(exc.message, "ログイン画面を開き直してください。")
        egov_request, _claims = federation.pending_request(svc, sealed)
        binding = request.cookies.get(LOGIN_COOKIE, "")
        return _page("egov_auth_login.html", sealed=tokens.seal_login_request(svc, egov_request, binding),
                     username="", error=exc.message, action=url_for("egov_auth.authenticate"))
    response = redirect(result.redirect_url(egov_request), 302)
    response.delete_cookie(BROKER_COOKIE, path=bp.url_prefix)
    return response

