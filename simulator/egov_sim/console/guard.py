"""The console's protection: the admin API's one guard (ops/admin.py `refusal`: loopback Host or the
public host, the admin token when configured, other sites refused) plus a CSRF token on every POST.

The CSRF token is a signed double-submit: a random nonce and its HMAC (the simulator's key ring) in
an HttpOnly SameSite=Strict cookie, and the same value in each form. With an admin token configured,
a browser gives it once on the login page; it is then kept in an HttpOnly cookie for /__console."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import g, request
from markupsafe import Markup

from ..ops.admin import refusal
from ..services import services

PATH = "/__console"
CSRF_COOKIE = "egov_console_csrf"
TOKEN_COOKIE = "egov_console_token"
CSRF_FIELD = "csrf_token"


def _sign(nonce: str) -> str:
    key = services().keys.hmac("console-csrf").secret
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def _valid(token: str) -> bool:
    nonce, _, mac = token.partition(".")
    return bool(nonce and mac) and hmac.compare_digest(mac.encode(), _sign(nonce).encode())


def csrf_token() -> str:
    """This browser's token (a new one is set as a cookie by `after`)."""
    if "console_csrf" not in g:
        sent = request.cookies.get(CSRF_COOKIE, "")
        g.console_csrf_new = not _valid(sent)
        if g.console_csrf_new:
            nonce = secrets.token_urlsafe(24)
            sent = f"{nonce}.{_sign(nonce)}"
        g.console_csrf = sent
    return str(g.console_csrf)


def csrf_field() -> Markup:
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token()}">')


def csrf_ok() -> bool:
    """The form's token is this browser's cookie token and is ours."""
    sent, cookie = request.form.get(CSRF_FIELD, ""), request.cookies.get(CSRF_COOKIE, "")
    return bool(sent) and hmac.compare_digest(sent.encode(), cookie.encode()) and _valid(sent)


def check(*, login: bool = False) -> tuple[int, str] | None:
    """The admin guard for this request (the token from the console's cookie); `login`: the token form
    itself, which only needs the Host and other-site checks."""
    if login:
        return refusal(services().settings.admin_token, forms=True)
    return refusal(request.cookies.get(TOKEN_COOKIE) or None, forms=True)


def token_matches(sent: str) -> bool:
    token = services().settings.admin_token
    return bool(token) and hmac.compare_digest(sent.strip().encode(), token.encode())
