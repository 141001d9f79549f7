"""HTTP plumbing shared by the two OAuth servers (e-Gov's /auth and GビズID's /gbizid/oauth): form
parsing, JSON responses, the one renderer of OAuth error bodies (`{error, error_description}`), and the
login pages' headers and cookies."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from .egov_tokens import OAuthError, invalid_request
from .gbizid_op import UserinfoError

FORM_TYPE = "application/x-www-form-urlencoded"
PAGE_HEADERS = {  # the login pages': never cached, never framed, no Referer
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "frame-ancestors 'none'",  # no form-action: Chrome applies it to the redirect
    "Referrer-Policy": "no-referrer",
}


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """JSON serialised here so the field order is the spec's, whatever the app's JSON settings; never cached."""
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def oauth_error(exc: OAuthError | UserinfoError, realm: str) -> Response:
    """The error body, with the WWW-Authenticate challenge the error asks for."""
    response = json_response(exc.body(), exc.status)
    challenge = exc.challenge(realm)
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    return response


def render_oauth_errors(bp: Blueprint, realm: str) -> None:
    """Views of `bp` just raise OAuthError / UserinfoError; they are rendered here."""
    bp.register_error_handler(OAuthError, lambda exc: oauth_error(exc, realm))
    bp.register_error_handler(UserinfoError, lambda exc: oauth_error(exc, realm))
    bp.register_error_handler(RequestEntityTooLarge, lambda _exc: oauth_error(
        OAuthError(413, "invalid_request", "Request body too large"), realm))


def method_not_allowed(realm: str) -> Response:
    """405 in the servers' own error format (the JSON endpoints accept POST only)."""
    response = oauth_error(OAuthError(405, "method_not_allowed", "HTTP method not allowed"), realm)
    response.headers["Allow"] = "POST"
    return response


def form_params() -> dict[str, str]:
    """The form body as single values; refuses other media types and repeated parameters."""
    if request.mimetype != FORM_TYPE:
        raise invalid_request(f"Content-Type must be {FORM_TYPE}")
    repeated = [name for name in request.form if len(request.form.getlist(name)) > 1]
    if repeated:
        raise invalid_request(f"Duplicated parameter: {repeated[0]}")
    return request.form.to_dict()


# ---------------------------------------------------------------------------- login pages

def html_page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers.update(PAGE_HEADERS)
    return response


def browser_binding(cookie: str, *, new: bool = False) -> str:
    """The browser's login cookie value, which sealed login forms are bound to (`new`: a fresh one if none)."""
    value = request.cookies.get(cookie, "")
    if not value and new:
        value = secrets.token_urlsafe(24)
    return value


def set_login_cookie(response: Response, name: str, value: str, path: str | None) -> None:
    """A cookie of the browser login: HTTP only, Lax (the redirects back are top-level GETs), secure over HTTPS."""
    response.set_cookie(name, value, path=path, httponly=True, samesite="Lax", secure=request.is_secure)
