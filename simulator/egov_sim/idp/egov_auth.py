"""The e-Gov auth server's HTTP face (`/auth`): authorization + login page, token,
introspection, logout, JWKS and discovery. Rules live in egov_tokens."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from ..services import services
from . import egov_tokens as tokens
from .egov_tokens import AuthorizationRequest, AuthorizationRequestError, LoginError, OAuthError
from .oauth_http import form_params, json_response, oauth_error

bp = Blueprint("egov_auth", __name__, url_prefix="/auth", template_folder="templates")

LOGIN_COOKIE = "EGOV_SIM_AUTH_SESSION"  # binds a login form to the browser that asked for it
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "frame-ancestors 'none'",  # no form-action: Chrome applies it to the redirect
    "Referrer-Policy": "no-referrer",
}


def issuer() -> str:
    public_url = services().settings.public_url
    base = public_url.rstrip("/") if public_url else request.host_url.rstrip("/")
    return base + "/auth"


# ---------------------------------------------------------------------------- pages

def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers.update(_PAGE_HEADERS)
    return response


def _error_page(message: str, detail: str, status: int = 400) -> Response:
    return _page("egov_auth_error.html", status, message=message, detail=detail)


def _login_page(sealed: str, *, username: str = "", error: str | None = None) -> Response:
    return _page("egov_auth_login.html", sealed=sealed, username=username, error=error,
                 action=url_for("egov_auth.authenticate"))


@bp.get("/auth")
def authorize() -> Response:
    try:
        auth_request = tokens.validate_authorization_request(services(), request.args)
    except AuthorizationRequestError as exc:
        if exc.redirect_uri is None:
            return _error_page("ログイン要求が正しくありません。", exc.error_description)
        return redirect(exc.redirect_url(), 302)
    binding = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = _login_page(tokens.seal_login_request(services(), auth_request, binding))
    response.set_cookie(LOGIN_COOKIE, binding, path=bp.url_prefix, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response


@bp.post("/login-actions/authenticate")
def authenticate() -> Response:
    sealed = request.form.get("login_request", "")
    username = request.form.get("username", "")
    try:
        auth_request: AuthorizationRequest = tokens.open_login_request(
            services(), sealed, request.cookies.get(LOGIN_COOKIE, ""))
        result = tokens.login(services(), auth_request, username, request.form.get("password", ""))
    except LoginError as exc:
        if exc.restart:
            return _error_page(exc.message, "Your login attempt timed out or came from another browser.")
        return _login_page(sealed, username=username, error=exc.message)
    return redirect(result.redirect_url(auth_request), 302)


# ---------------------------------------------------------------------------- JSON endpoints

def _oauth_error(exc: OAuthError) -> Response:
    return oauth_error(exc, "egov")




def _client() -> str:
    return tokens.authenticate_client(services(), request.headers.get("Authorization"))


@bp.post("/token")
def token() -> Response:
    try:
        form = form_params()
        return json_response(tokens.token(services(), _client(), form, issuer()))
    except OAuthError as exc:
        return _oauth_error(exc)


@bp.post("/token/introspect")
def introspect() -> Response:
    try:
        form = form_params()
        _client()
        if not form.get("token"):
            raise tokens.invalid_request("Missing parameter: token")
        return json_response(tokens.introspect(services(), form["token"], form.get("token_type_hint")))
    except OAuthError as exc:
        return _oauth_error(exc)


@bp.post("/logout")
def logout() -> Response:
    try:
        form = form_params()
        tokens.logout(services(), _client(), form.get("refresh_token", ""))
    except OAuthError as exc:
        return _oauth_error(exc)
    return Response(status=204)


def _method_not_allowed() -> Response:
    response = json_response({"error": "method_not_allowed", "error_description": "HTTP method not allowed"}, 405)
    response.headers["Allow"] = "POST"
    return response


for _path in ("/token", "/token/introspect", "/logout"):
    bp.add_url_rule(_path, f"{_path.strip('/').replace('/', '_')}_not_allowed", _method_not_allowed,
                    methods=["GET", "PUT", "PATCH", "DELETE"])


@bp.get("/certs")
def certs() -> Response:
    return json_response(services().keys.jwks(tokens.KEY_PURPOSE))


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    base = issuer()
    return json_response({
        "issuer": base,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "introspection_endpoint": f"{base}/token/introspect",
        "end_session_endpoint": f"{base}/logout",
        "jwks_uri": f"{base}/certs",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": list(tokens.SUPPORTED_SCOPES),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email",
                             "email_verified", "preferred_username", "egov_idp"],
    })
