"""The GビズID OP's HTTP face under `/gbizid/oauth` (so a client configured with `{sim}/gbizid` as
the host uses the real paths): discovery, JWKS, authorize + login pages (ID/password, then an SMS
or authenticator code), token and UserInfo. Each view parses the request, calls one GbizIdProvider
method and renders; OAuth errors are rendered by oauth_http."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from ..services import services
from .egov_tokens import AuthorizationRequestError, LoginError
from .gbizid_op import PATH
from .gbizid_provider import GbizIdProvider
from .oauth_http import (
    browser_binding,
    form_params,
    html_page,
    json_response,
    render_oauth_errors,
    set_login_cookie,
)
from .outcomes import CodeForm, LoginForm, Redirect, SignedIn

bp = Blueprint("gbizid", __name__, url_prefix=PATH, template_folder="templates")
render_oauth_errors(bp, "gbizid")

LOGIN_COOKIE = "GBIZID_SIM_LOGIN"  # binds a login form to the browser that asked for it
SESSION_COOKIE = "GBIZID_SIM_SESSION"  # the OP's single sign-on session
RESTART = "ログイン画面を開き直してください。"


def _provider() -> GbizIdProvider:
    return GbizIdProvider.of(services(), request.host_url)


def _binding() -> str:
    return browser_binding(LOGIN_COOKIE)


# ---------------------------------------------------------------------------- pages

def _error_page(message: str, detail: str = "", status: int = 400) -> Response:
    return html_page("gbizid_error.html", status, message=message, detail=detail)


def _login_step(outcome: Redirect | SignedIn | LoginForm | CodeForm) -> Response:
    """A redirect (keeping a new single sign-on session), or the ID/password or one-time code page."""
    if isinstance(outcome, LoginForm):
        return html_page("gbizid_login.html", sealed=outcome.sealed, account_id=outcome.username,
                         error=outcome.error, action=url_for("gbizid.login"))
    if isinstance(outcome, CodeForm):
        return html_page("gbizid_otp.html", sealed=outcome.sealed, factor=outcome.factor, masked=outcome.masked,
                         error=outcome.error, action=url_for("gbizid.verify"), resend=url_for("gbizid.resend"))
    response = redirect(outcome.url, 302)
    if isinstance(outcome, SignedIn):
        set_login_cookie(response, SESSION_COOKIE, outcome.session_id, "/gbizid")
    return response


@bp.get("/authorize")
def authorize() -> Response:
    browser = browser_binding(LOGIN_COOKIE, new=True)
    try:
        outcome = _provider().authorize(request.args, sso_session=request.cookies.get(SESSION_COOKIE, ""),
                                        binding=browser)
    except AuthorizationRequestError as exc:
        return _error_page("ログイン要求が正しくありません。", exc.error_description)
    response = _login_step(outcome)
    if isinstance(outcome, LoginForm):
        set_login_cookie(response, LOGIN_COOKIE, browser, "/gbizid")
    return response


@bp.post("/login")
def login() -> Response:
    form = request.form
    try:
        outcome = _provider().login(form.get("login_request", ""), _binding(), form.get("account_id", ""),
                                    form.get("password", ""))
    except LoginError as exc:
        return _error_page(exc.message, RESTART)
    return _login_step(outcome)


@bp.post("/login/verify")
def verify() -> Response:
    try:
        outcome = _provider().verify_code(request.form.get("login_request", ""), _binding(),
                                          request.form.get("otp", ""))
    except LoginError as exc:
        return _error_page(exc.message, RESTART)
    return _login_step(outcome)


@bp.post("/login/resend")
def resend() -> Response:
    try:
        outcome = _provider().resend_code(request.form.get("login_request", ""), _binding())
    except LoginError as exc:
        return _error_page(exc.message, RESTART)
    return _login_step(outcome)


# ---------------------------------------------------------------------------- JSON endpoints

@bp.post("/token")
def token() -> Response:
    provider = _provider()
    client_id = provider.authenticate_client(request.headers.get("Authorization"))  # before the body, as GビズID
    return json_response(provider.token(client_id, form_params()))


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    return json_response(_provider().userinfo(request.headers.get("Authorization")))


@bp.get("/jwks")
def jwks() -> Response:
    response = json_response(_provider().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    return json_response(_provider().discovery())
