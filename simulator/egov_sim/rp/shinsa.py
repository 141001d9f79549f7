"""/keieikakushin/shinsa — the prefecture reviewer's pages (thin: parse → KeieiBackend → render).

The seed does not describe the prefecture's side, so this is a choice: a reviewer logs in with a login ID
and password (demo accounts in the RP's settings, one 都道府県 each; locked after repeated failures, on the
virtual clock), sees the applications of that 都道府県 only (another's answer 404) and acts on them through
the same KeieiBackend methods as /__admin/keieikakushin: 形式確認, 指摘 (comments per page, comment files),
承認, 不承認. Sessions are server-side (KkReviewerSession, its own cookie); every POST carries its CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, redirect, request, url_for
from markupsafe import Markup

from . import forms
from .backend import (
    APPROVED,
    RECEIVED,
    REJECTED,
    REMARKED,
    REVIEWABLE,
    REVIEWING,
    WITHDRAWN,
    KeieiBackend,
    RpError,
)
from .sessions import PageSession, backend, file_response, guarded, html

PATH = "/keieikakushin/shinsa"
COOKIE = "kk_shinsa_session"
STATUSES = (RECEIVED, REVIEWING, REMARKED, APPROVED, REJECTED, WITHDRAWN)
bp = Blueprint("keieikakushin_shinsa", __name__, url_prefix=PATH, template_folder="templates")
SESSION = PageSession(COOKIE, PATH, "Strict", "kk_reviewer_session", KeieiBackend.reviewer_session,
                      KeieiBackend.new_reviewer_session)


def _login_url() -> str:
    return url_for(".login")


def _page(template: str, status: int = 200, **context: Any) -> Response:
    login_id = g.kk_reviewer_session.login_id if g.get("kk_reviewer_session") is not None else None
    reviewer = backend().reviewer(login_id) if login_id else None
    return html(template, status, reviewer=reviewer, user=None, shinsa=True, pages=forms.PAGES, **context)


def _signed_in() -> bool:
    """Whether a reviewer is logged in; if so, their account is `g.kk_reviewer`."""
    login_id = g.kk_reviewer_session.login_id
    if login_id:
        g.kk_reviewer = backend().reviewer(login_id)
    return bool(login_id)


SESSION.install(bp, _login_url, _page)
reviewer_required = guarded(_signed_in, _login_url, _page)


@bp.app_template_global()
def shinsa_csrf() -> Markup:
    return SESSION.csrf_field()


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if request.method == "GET":
        return _page("shinsa_login.html", title="審査担当者ログイン", error=None, login_id="")
    login_id = request.form.get("login_id", "").strip()[:64]
    try:
        sess = backend().reviewer_login(g.kk_reviewer_session.id, login_id, request.form.get("password", ""))
    except RpError as exc:
        return _page("shinsa_login.html", exc.status, title="審査担当者ログイン", error=exc.message, login_id=login_id)
    response = redirect(url_for(".applications"))
    SESSION.set_cookie(response, sess.id)
    return response


@bp.post("/logout")
def logout() -> Response:
    backend().reviewer_logout(g.kk_reviewer_session.id)
    response = redirect(url_for(".login"))
    SESSION.delete_cookie(response)
    return response


@bp.get("/")
@reviewer_required
def applications() -> Response:
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        status = ""
    apps = backend().reviewer_applications(g.kk_reviewer["prefecture"], status or None)
    return _page("shinsa_list.html", title="申請一覧", apps=apps, selected=status, statuses=STATUSES)


def _application_page(number: str, status: int = 200, **extra: Any) -> Response:
    b = backend()
    app = b.reviewer_application(g.kk_reviewer["prefecture"], number)
    prefectures = b.settings()["prefectures"]
    sections = [(page, title, forms.summary_lines(page, app.pages[page]["values"], prefectures))
                for page, title in forms.PAGES.items()]
    files = (app.pages.get(forms.ATTACH, {}).get("values") or {}).get("files", {})
    attachments = [(label, files.get(key)) for key, label, _ in forms.ATTACHMENTS]
    return _page("shinsa_application.html", status, title=f"申請内容 {number}", app=app, sections=sections,
                 attachments=attachments, reviewable=app.status in REVIEWABLE, received=app.status == RECEIVED,
                 comments=extra.pop("comments", {}), **extra)


@bp.get("/applications/<number>")
@reviewer_required
def application(number: str) -> Response:
    return _application_page(number)


@bp.get("/applications/<number>/files/<int:file_id>")
@reviewer_required
def download(number: str, file_id: int) -> Response:
    row = backend().reviewer_file(g.kk_reviewer["prefecture"], number, file_id)
    return file_response(row.data, row.content_type, row.name)


def _act(number: str, action: Callable[[str], Any], done: str, comments: dict[str, str] | None = None) -> Response:
    """Run one reviewer action scoped to the reviewer's 都道府県; a refusal is shown on the application page."""
    pref = g.kk_reviewer["prefecture"]
    backend().reviewer_application(pref, number)  # another 都道府県's (or no such) application: 404 first
    try:
        action(pref)
    except RpError as exc:
        if exc.status == 404:
            raise
        return _application_page(number, exc.status, error=exc.message, comments=comments or {})
    return _application_page(number, done=done)


@bp.post("/applications/<number>/accept")
@reviewer_required
def accept(number: str) -> Response:
    return _act(number, lambda pref: backend().accept_formal(number, pref), "形式確認を完了し、審査中にしました。")


@bp.post("/applications/<number>/remarks")
@reviewer_required
def remarks(number: str) -> Response:
    comments = {p: request.form.get(f"comment.{p}", "") for p in forms.PAGES}
    files = [(p, f.filename or "comment", f.mimetype or "application/octet-stream", f.read())
             for p in forms.PAGES for f in request.files.getlist(f"file.{p}") if f.filename]
    return _act(number, lambda pref: backend().remark(number, comments, files, prefecture=pref),
                "指摘を登録し、申請者にメールで通知しました。", comments)


@bp.post("/applications/<number>/approve")
@reviewer_required
def approve(number: str) -> Response:
    return _act(number, lambda pref: backend().decide(number, True, pref), "承認し、申請者に承認通知を送信しました。")


@bp.post("/applications/<number>/reject")
@reviewer_required
def reject(number: str) -> Response:
    return _act(number, lambda pref: backend().decide(number, False, pref), "不承認とし、申請者に審査結果を通知しました。")
