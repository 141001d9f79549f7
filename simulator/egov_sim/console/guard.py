"""The console's protection: the admin API's one guard (ops/admin.py `refusal`: loopback Host or the
public host, the admin token when configured, other sites refused) plus a CSRF token on every POST.

The CSRF token is a double-submit one: a random value in an HttpOnly SameSite=Strict cookie, and the
same value in each form (no server state, so every server process and every reset agree; a page of
another site can neither read the cookie nor, with the guard's Origin/Sec-Fetch-Site checks, post).
With an admin token configured, a browser gives it once on the login page; it is then kept in an
HttpOnly cookie for /__console."""

from __future__ import annotations

import hmac
import re
import secrets

from flask import g, request
from markupsafe import Markup

from ..ops.admin import refusal
from ..services import services

PATH = "/__console"
CSRF_COOKIE = "egov_console_csrf"
TOKEN_COOKIE = "egov_console_token"
CSRF_FIELD = "csrf_token"
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")


def _valid(token: str) -> bool:
    return TOKEN_SHAPE.fullmatch(token) is not None


def csrf_token() -> str:
    """This browser's token (a new one is set as a cookie by `after`)."""
    if "console_csrf" not in g:
        sent = request.cookies.get(CSRF_COOKIE, "")
        g.console_csrf_new = not _valid(sent)
        if g.console_csrf_new:
            sent = secrets.token_urlsafe(32)
        g.console_csrf = sent
    return str(g.console_csrf)


def csrf_field() -> Markup:
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token()}">')


def csrf_ok() -> bool:
    """The form's token is this browser's cookie token."""
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
