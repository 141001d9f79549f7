"""The e-Gov auth server's HTTP face (`/auth`): authorization + login page, token, introspection,
logout, JWKS and discovery. Each view parses the request, calls one EgovAuthServer method and
renders; OAuth errors are rendered by oauth_http."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from ..services import services
from .egov_auth_server import EgovAuthServer
from .egov_tokens import AuthorizationRequestError, LoginError
from .oauth_http import (
    browser_binding,
    form_params,
    html_page,
    json_response,
    method_not_allowed,
    render_oauth_errors,
    set_login_cookie,
)
from .outcomes import LoginForm, Redirect

bp = Blueprint("egov_auth", __name__, url_prefix="/auth", template_folder="templates")
REALM = "egov"
render_oauth_errors(bp, REALM)

LOGIN_COOKIE = "EGOV_SIM_AUTH_SESSION"  # binds a login form to the browser that asked for it
RESTART = "Your login attempt timed out or came from another browser."


def server() -> EgovAuthServer:
    return EgovAuthServer.of(services(), request.host_url)


# ---------------------------------------------------------------------------- pages

def error_page(message: str, detail: str, status: int = 400) -> Response:
    return html_page("egov_auth_error.html", status, message=message, detail=detail)


def login_page(form: LoginForm) -> Response:
    return html_page("egov_auth_login.html", sealed=form.sealed, username=form.username, error=form.error,
                     action=url_for("egov_auth.authenticate"))


def login_step(outcome: Redirect | LoginForm) -> Response:
    return redirect(outcome.url, 302) if isinstance(outcome, Redirect) else login_page(outcome)


def binding() -> str:
    """The browser's login cookie value, which sealed login forms are bound to."""
    return browser_binding(LOGIN_COOKIE)


@bp.get("/auth")
def authorize() -> Response:
    browser = browser_binding(LOGIN_COOKIE, new=True)
    try:
        outcome = server().authorize(request.args, browser)
    except AuthorizationRequestError as exc:
        return error_page("ログイン要求が正しくありません。", exc.error_description)
    response = login_step(outcome)
    if isinstance(outcome, LoginForm):
        set_login_cookie(response, LOGIN_COOKIE, browser, bp.url_prefix)
    return response


@bp.post("/login-actions/authenticate")
def authenticate() -> Response:
    form = request.form
    try:
        outcome = server().login(form.get("login_request", ""), binding(), form.get("username", ""),
                                 form.get("password", ""))
    except LoginError as exc:
        return error_page(exc.message, RESTART)
    return login_step(outcome)


# ---------------------------------------------------------------------------- JSON endpoints

@bp.post("/token")
def token() -> Response:
    form = form_params()
    return json_response(server().token(request.headers.get("Authorization"), form))


@bp.post("/token/introspect")
def introspect() -> Response:
    form = form_params()
    return json_response(server().introspect(request.headers.get("Authorization"), form))


@bp.post("/logout")
def logout() -> Response:
    form = form_params()
    server().logout(request.headers.get("Authorization"), form)
    return Response(status=204)


for _path in ("/token", "/token/introspect", "/logout"):
    bp.add_url_rule(_path, f"{_path.strip('/').replace('/', '_')}_not_allowed", lambda: method_not_allowed(REALM),
                    methods=["GET", "PUT", "PATCH", "DELETE"])


@bp.get("/certs")
def certs() -> Response:
    return json_response(server().jwks())


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    return json_response(server().discovery())
