"""The RP's page sessions and page helpers, once for the applicant's pages (views.py) and the reviewers' (shinsa.py).

Each blueprint keeps server-side sessions behind a cookie of its own (a random id; path: the blueprint's
prefix below the world's `request.script_root`). Every POST carries the session's CSRF token: without it the
request is refused before any work (an expired session goes back to the login page instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal, Protocol
from urllib.parse import quote

from flask import Blueprint, Response, g, redirect, render_template, request
from markupsafe import Markup

from ..services import services
from .backend import KeieiBackend, RpError

REFUSED = "画面の有効期限が切れたか、不正な送信です。もう一度操作してください。"


class StoredSession(Protocol):
    id: str
    csrf: str


def backend() -> KeieiBackend:
    return KeieiBackend(services())


def html(template: str, status: int = 200, **context: Any) -> Response:
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def file_response(data: bytes, mimetype: str, name: str, disposition: str = "attachment") -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}"})


@dataclass(frozen=True)
class PageSession:
    """One blueprint's sessions: its cookie, the `flask.g` slot holding the request's session, and how the
    backend loads a stored one (None when unknown or expired) or starts a new one."""

    cookie: str
    path: str
    samesite: Literal["Lax", "Strict"]
    slot: str
    load: Callable[[KeieiBackend, str | None], StoredSession | None]
    start: Callable[[KeieiBackend], StoredSession]

    def current(self) -> Any:
        return g.get(self.slot)

    def install(self, bp: Blueprint, login_url: Callable[[], str], page: Callable[..., Response]) -> None:
        """Open the session before each of `bp`'s requests (refusing a POST without its CSRF token, shown with
        `page`) and send its cookie after, when it is new."""

        @bp.before_request
        def _session() -> Response | None:
            b = backend()
            sess = self.load(b, request.cookies.get(self.cookie))
            g.kk_new_cookie = sess is None
            setattr(g, self.slot, sess or self.start(b))
            if request.method == "POST" and request.form.get("csrf_token") != self.current().csrf:
                if g.kk_new_cookie:  # the session expired meanwhile: log in again
                    return redirect(login_url())
                return page("message.html", 400, title="エラー", message=REFUSED)
            return None

        @bp.after_request
        def _cookie(response: Response) -> Response:
            if getattr(g, "kk_new_cookie", False):
                self.set_cookie(response, self.current().id)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

    def set_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(self.cookie, session_id, httponly=True, samesite=self.samesite,
                            path=request.script_root + self.path)
        g.kk_new_cookie = False

    def delete_cookie(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path=request.script_root + self.path)
        g.kk_new_cookie = False

    def csrf_field(self) -> Markup:
        return Markup(f'<input type="hidden" name="csrf_token" value="{self.current().csrf}">')


def guarded(logged_in: Callable[[], bool], login_url: Callable[[], str],
            page: Callable[..., Response]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for pages that need a login: without one, to `login_url`; an RpError, as a message page."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not logged_in():
                return redirect(login_url())
            try:
                return view(*args, **kwargs)
            except RpError as exc:
                return page("message.html", exc.status, title="エラー", message=exc.message)
        return wrapped
    return decorator
