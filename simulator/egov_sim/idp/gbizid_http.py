"""The GビズID OP's HTTP face under `/gbizid/oauth` (so a client configured with `{sim}/gbizid` as
the host uses the real paths): discovery, JWKS, authorize + login pages (ID/password, then an SMS
or authenticator code), token and UserInfo. The rules live in gbizid_op."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from ..services import services
from . import gbizid_op as op
from .egov_tokens import AuthorizationRequestError, LoginError, OAuthError
from .oauth_http import form_params, json_response, oauth_error

bp = Blueprint("gbizid", __name__, url_prefix=op.PATH, template_folder="templates")

LOGIN_COOKIE = "GBIZID_SIM_LOGIN"  # binds a login form to the browser that asked for it
SESSION_COOKIE = "GBIZID_SIM_SESSION"  # the OP's single sign-on session
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def _host() -> str:
    return request.host_url


def current_issuer() -> str:
    return op.issuer(services().settings, _host())


# ---------------------------------------------------------------------------- pages

def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers.update(_PAGE_HEADERS)
    return response


def _error_page(message: str, detail: str = "", status: int = 400) -> Response:
    return _page("gbizid_error.html", status, message=message, detail=detail)


def _login_page(sealed: str, *, account_id: str = "", error: str | None = None) -> Response:
    return _page("gbizid_login.html", sealed=sealed, account_id=account_id, error=error,
                 action=url_for("gbizid.login"))


def _otp_page(sealed: str, factor: str, masked: str, error: str | None = None) -> Response:
    return _page("gbizid_otp.html", sealed=sealed, factor=factor, masked=masked, error=error,
                 action=url_for("gbizid.verify"), resend=url_for("gbizid.resend"))


def _binding() -> str:
    return request.cookies.get(LOGIN_COOKIE, "")


def _finish(auth_request: op.GbizAuthRequest, account_ref: int, amr: str) -> Response:
    session_id, auth_time = op.start_session(services(), account_ref, amr)
    response = redirect(op.issue_code(services(), auth_request, account_ref, auth_time), 302)
    response.set_cookie(SESSION_COOKIE, session_id, path="/gbizid", httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response


@bp.get("/authorize")
def authorize() -> Response:
    svc = services()
    try:
        auth_request = op.validate_authorization_request(svc, request.args, op.origin(svc.settings, _host()))
    except AuthorizationRequestError as exc:
        if exc.redirect_uri is None:
            return _error_page("ログイン要求が正しくありません。", exc.error_description)
        return redirect(exc.redirect_url(), 302)
    prompt = set((auth_request.prompt or "").split())
    existing = None if "login" in prompt else op.session_login(svc, request.cookies.get(SESSION_COOKIE, ""))
    if existing is not None:
        account_ref, auth_time = existing
        return redirect(op.issue_code(svc, auth_request, account_ref, auth_time), 302)
    if "none" in prompt:
        return redirect(op.redirect_error(auth_request, "login_required", "the user is not logged in"), 302)
    binding = _binding() or secrets.token_urlsafe(24)
    response = _login_page(op.seal(svc, auth_request, binding, stage="password"),
                           account_id=auth_request.login_hint or "")
    response.set_cookie(LOGIN_COOKIE, binding, path="/gbizid", httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response


@bp.post("/login")
def login() -> Response:
    svc = services()
    sealed = request.form.get("login_request", "")
    account_id = request.form.get("account_id", "")
    try:
        auth_request, claims = op.unseal(svc, sealed, _binding())
        if claims.get("stage") != "password":
            raise LoginError(op.MSG_LOGIN_EXPIRED, restart=True)
        checked = op.check_password(svc, account_id, request.form.get("password", ""))
    except LoginError as exc:
        if exc.restart:
            return _error_page(exc.message, "ログイン画面を開き直してください。")
        return _login_page(sealed, account_id=account_id, error=exc.message)
    if checked.second_factor == "none":
        return _finish(auth_request, checked.account_ref, "pwd")
    return _second_factor(auth_request, checked.account_ref, checked.second_factor)


def _second_factor(auth_request: op.GbizAuthRequest, account_ref: int, factor: str) -> Response:
    svc = services()
    message_id, masked = op.send_sms_code(svc, account_ref) if factor == "sms" else (0, "")
    sealed = op.seal(svc, auth_request, _binding(), stage="otp", acc=account_ref, fac=factor, msg=message_id,
                     masked=masked)
    return _otp_page(sealed, factor, masked)


@bp.post("/login/verify")
def verify() -> Response:
    svc = services()
    sealed = request.form.get("login_request", "")
    try:
        auth_request, claims = op.unseal(svc, sealed, _binding())
        if claims.get("stage") != "otp":
            raise LoginError(op.MSG_LOGIN_EXPIRED, restart=True)
        code = request.form.get("otp", "")
        if claims["fac"] == "sms":
            op.verify_sms_code(svc, int(claims["acc"]), int(claims["msg"]), code)
        else:
            op.verify_app_code(svc, int(claims["acc"]), code)
    except LoginError as exc:
        if exc.restart:
            return _error_page(exc.message, "ログイン画面を開き直してください。")
        return _otp_page(sealed, claims["fac"], claims.get("masked", ""), error=exc.message)
    return _finish(auth_request, int(claims["acc"]), "sms" if claims["fac"] == "sms" else "otp")


@bp.post("/login/resend")
def resend() -> Response:
    svc = services()
    try:
        auth_request, claims = op.unseal(svc, request.form.get("login_request", ""), _binding())
        if claims.get("stage") != "otp" or claims.get("fac") != "sms":
            raise LoginError(op.MSG_LOGIN_EXPIRED, restart=True)
    except LoginError as exc:
        return _error_page(exc.message, "ログイン画面を開き直してください。")
    return _second_factor(auth_request, int(claims["acc"]), "sms")


# ---------------------------------------------------------------------------- JSON endpoints

def _oauth_error(exc: OAuthError) -> Response:
    return oauth_error(exc, "gbizid")




@bp.post("/token")
def token() -> Response:
    svc = services()
    try:
        client_id = op.authenticate_client(svc, request.headers.get("Authorization"))
        return json_response(op.token(svc, client_id, form_params(), current_issuer()))
    except OAuthError as exc:
        return _oauth_error(exc)


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    try:
        return json_response(op.userinfo(services(), request.headers.get("Authorization")))
    except op.UserinfoError as exc:
        challenge = 'Bearer realm="gbizid"'
        if exc.error is None:
            response = json_response({"error": "invalid_token", "error_description": "a Bearer token is required"}, 401)
        else:
            challenge += f', error="{exc.error}", error_description="{exc.description}"'
            response = json_response({"error": exc.error, "error_description": exc.description}, exc.status)
        response.headers["WWW-Authenticate"] = challenge
        return response


@bp.get("/jwks")
def jwks() -> Response:
    response = json_response(services().keys.jwks(op.KEY_PURPOSE))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    return json_response(op.discovery(services().settings, _host()))
