"""/keieikakushin — the applicant's pages (thin: parse → KeieiBackend → render).

Sessions are server-side (KkSession; the cookie holds a random id); every POST carries the session's
CSRF token. An expired or missing session sends the user back through 「GビズIDでログイン」.
In a world the pages are under `/worlds/<id>` (`request.script_root`, ops/world_routing.py): links,
cookie path and the GビズID redirect URI carry it, so each world's RP is a site of its own.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, g, redirect, request, url_for
from markupsafe import Markup

from ..idp import gbizid_op
from ..services import services
from . import config, forms, oidc
from .backend import DONE, EDITABLE, INQUIRY_CATEGORIES, REMARKED, WITHDRAWN, KeieiBackend, RpError
from .sessions import PageSession, backend, file_response, guarded, html

PATH = "/keieikakushin"
COOKIE = "kk_session"
bp = Blueprint("keieikakushin", __name__, url_prefix=PATH, template_folder="templates")
SESSION = PageSession(COOKIE, PATH, "Lax", "kk", KeieiBackend.session, KeieiBackend.new_session)


def _site() -> str:
    return gbizid_op.origin(services().settings, request.host_url)


def _login_url() -> str:
    return url_for(".login", next=request.path)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    user = None
    if g.get("kk") is not None and g.kk.sub:
        try:
            user = backend().user(g.kk.sub)
        except RpError:
            user = None
    return html(template, status, user=user, pages=forms.PAGES, **context)


SESSION.install(bp, _login_url, _page)
login_required = guarded(lambda: bool(g.kk.sub), _login_url, _page)


@bp.app_template_global()
def csrf() -> Markup:
    return SESSION.csrf_field()


# ---------------------------------------------------------------------------- login
@bp.get("/")
def top() -> Response:
    apps = backend().applications(g.kk.sub) if g.kk.sub else []
    return _page("top.html", apps=apps, remarked=[a for a in apps if a.status == REMARKED])


@bp.get("/login")
def login() -> Response:
    return _page("login.html", next=request.args.get("next", ""))


def _oidc(b: KeieiBackend) -> Any:
    """The RP's GbizIdClient: to `gbizid_base` over sockets, else to this server's /gbizid (see oidc.client)."""
    base = b.settings()["gbizid_base"]
    return oidc.client(base or _site() + "/gbizid", _site(), b.now,
                       this_app=None if base else current_app._get_current_object())  # type: ignore[attr-defined]


@bp.post("/login/gbizid")
def login_gbizid() -> Response:
    b = backend()
    nxt = request.form.get("next", "")
    try:
        rp = _oidc(b)
    except oidc.NotRegistered as exc:
        return _page("message.html", 503, title="ログインできません", message=str(exc))
    with rp as c:
        try:
            authorization = c.authorization(prompt="login")
        except (oidc.AuthError, OSError) as exc:
            return _page("message.html", 502, title="ログインできません", message=f"GビズIDに接続できません：{exc}")
    b.set_pending(g.kk.id, {**oidc.to_dict(authorization), "next": nxt if nxt.startswith(PATH) else ""})
    return redirect(authorization.url)


@bp.get("/callback")
def callback() -> Response:
    b = backend()
    pending = g.kk.pending
    if not pending:
        return redirect(url_for(".login"))
    with _oidc(b) as c:
        try:
            tokens = c.callback(request.args.to_dict(), oidc.from_dict(pending))
            info = c.userinfo(tokens.access_token)
            if info.get("sub") != tokens.sub:
                raise oidc.AuthError(0, "invalid_userinfo", "UserInfo の sub が ID トークンと一致しません")
        except (oidc.AuthError, OSError) as exc:
            b.set_pending(g.kk.id, None)
            return _page("message.html", 401, title="ログインできませんでした",
                         message=f"GビズIDでのログインに失敗しました。もう一度お試しください。（{exc}）")
    try:
        user = b.logged_in(g.kk.id, info)
    except RpError as exc:
        b.set_pending(g.kk.id, None)
        return _page("message.html", exc.status, title="ご利用いただけません", message=exc.message)
    if user.profile is None:
        return redirect(url_for(".register"))
    nxt = pending.get("next")  # a path below this world's entry path (request.path)
    return redirect(request.script_root + nxt if nxt else url_for(".top"))


@bp.route("/register", methods=["GET", "POST"])
@login_required
def register() -> Response:
    b = backend()
    user = b.user(g.kk.sub)
    if request.method == "POST":
        errors = b.save_profile(g.kk.sub, request.form.to_dict())
        if not errors:
            return redirect(url_for(".top"))
        return _page("register.html", 400, values=request.form, errors=errors)
    info = user.userinfo
    values = user.profile or {"company_name": info.get("name", ""), "email": user.gbizid_email,
                              "user_name": f"{info.get('user_last_nm', '')} {info.get('user_first_nm', '')}".strip(),
                              "tel": info.get("user_tel_no_contact", "")}
    return _page("register.html", values=values, errors={}, first=user.profile is None)


@bp.post("/logout")
def logout() -> Response:
    backend().logout(g.kk.id)
    response = redirect(url_for(".top"))
    SESSION.delete_cookie(response)
    return response


# ---------------------------------------------------------------------------- applications
@bp.get("/applications")
@login_required
def history() -> Response:
    b = backend()
    return _page("history.html", apps=b.applications(g.kk.sub), b=b)


@bp.post("/applications")
@login_required
def new_application() -> Response:
    app = backend().new_application(g.kk.sub)
    return redirect(url_for(".items", app_id=app.id))


@bp.get("/applications/<int:app_id>")
@login_required
def items(app_id: int) -> Response:
    b = backend()
    app = b.application(g.kk.sub, app_id)
    if app.status not in EDITABLE:
        return redirect(url_for(".overview", app_id=app_id))
    ready = all(p.get("state") == DONE for p in app.pages.values())
    return _page("items.html", app=app, ready=ready)


def _page_context(app: Any, page: str) -> dict[str, Any]:
    cfg = backend().settings()
    return {"app": app, "page": page, "title": forms.PAGES[page], "fields": forms.FIELDS[page],
            "prefectures": cfg["prefectures"], "attachments": forms.ATTACHMENTS,
            "remarks": app.remarks.get(page, []), "item_max": forms.ITEM_MAX, "labels": forms.FIGURE_LABELS,
            "yearly": forms.YEARLY, "year_labels": forms.year_labels, "plan_choices": forms.PLAN_YEARS,
            "headcount": forms.headcount_for_criteria,
            "accept": ",".join(cfg["upload_types"])}


@bp.route("/applications/<int:app_id>/pages/<page>", methods=["GET", "POST"])
@login_required
def edit(app_id: int, page: str) -> Response:
    b = backend()
    if page not in forms.PAGES:
        abort(404)
    app = b.application(g.kk.sub, app_id)
    if app.status not in EDITABLE:
        return redirect(url_for(".overview", app_id=app_id))
    if request.method == "GET":
        values = app.pages[page]["values"]
        return _page("page.html", values=values, errors={}, figures=forms.figures(values), **_page_context(app, page))
    action = request.form.get("action", "")
    if action == "back":
        return redirect(url_for(".items", app_id=app_id))
    if action == "register":  # from the confirmation page: the values it showed
        try:
            values = json.loads(request.form.get("payload", "{}"))
        except ValueError:
            values = {}
        values = forms.clean(page, {**values, "item": [r.get("item", "") for r in values.get("rows", [])],
                                    "period": [r.get("period", "") for r in values.get("rows", [])]})
    else:
        form = {k: request.form.get(k, "") for k in request.form}
        form["item"], form["period"] = request.form.getlist("item"), request.form.getlist("period")
        editing_rows = action in ("add_row", "years") or action.startswith("delete_row:")  # re-shown, not saved
        values = forms.clean(page, form, keep_empty_rows=editing_rows)
        if action == "add_row":
            values["rows"] = [*values.get("rows", []), {"item": "", "period": ""}][: forms.MAX_ROWS]
        elif action.startswith("delete_row:"):
            index = int(action.split(":", 1)[1]) if action.split(":", 1)[1].isdigit() else -1
            values["rows"] = [r for i, r in enumerate(values.get("rows", [])) if i != index]
        if editing_rows:
            return _page("page.html", values=values, errors={}, figures=forms.figures(values),
                         **_page_context(app, page))
    if action == "save":
        b.save_page(g.kk.sub, app_id, page, values, register=False)
        return _page("page.html", values=values, errors={}, figures=forms.figures(values), saved=True,
                     **_page_context(b.application(g.kk.sub, app_id), page))
    errors = b.save_page(g.kk.sub, app_id, page, values, register=True, check_only=action != "register")
    if errors:
        return _page("page.html", 400, values=values, errors=errors, figures=forms.figures(values),
                     **_page_context(app, page))
    if action == "register":
        return _page("registered.html", app=app, page=page, title=forms.PAGES[page])
    cfg = b.settings()
    return _page("confirm.html", app=app, page=page, title=forms.PAGES[page],
                 lines=forms.summary_lines(page, {**app.pages[page]["values"], **values}, cfg["prefectures"]),
                 payload=json.dumps(values, ensure_ascii=False))


@bp.post("/applications/<int:app_id>/attachments")
@login_required
def upload(app_id: int) -> Response:
    b = backend()
    errors: dict[str, str] = {}
    for key, _, _ in forms.ATTACHMENTS:
        f = request.files.get(key)
        if f is not None and f.filename:
            message = b.upload(g.kk.sub, app_id, key, f.filename, f.mimetype or "", f.read())
            if message:
                errors[key] = message
    app = b.application(g.kk.sub, app_id)
    if not errors and request.form.get("action") == "upload":
        errors = b.save_page(g.kk.sub, app_id, forms.ATTACH, {}, register=True)
        if not errors:
            return _page("registered.html", app=app, page=forms.ATTACH, title=forms.PAGES[forms.ATTACH])
    values = app.pages[forms.ATTACH]["values"]
    return _page("page.html", 400 if errors else 200, values=values, errors=errors, figures={},
                 **_page_context(app, forms.ATTACH))


@bp.get("/applications/<int:app_id>/files/<int:file_id>")
@login_required
def download(app_id: int, file_id: int) -> Response:
    row = backend().file(g.kk.sub, app_id, file_id)
    return file_response(row.data, row.content_type, row.name)


def _overview_context(app: Any) -> dict[str, Any]:
    b = backend()
    cfg = b.settings()
    sections = [(page, title, forms.summary_lines(page, app.pages[page]["values"], cfg["prefectures"]))
                for page, title in forms.PAGES.items()]
    pref = cfg["prefectures"].get(app.pages[forms.COVER]["values"].get("prefecture", ""), {})
    return {"app": app, "sections": sections, "needs_password": bool(pref.get("password")),
            "certificate": b.certificate_available(app), "editable": app.status in EDITABLE,
            "reopenable": app.status in (WITHDRAWN, REMARKED)}


@bp.route("/applications/<int:app_id>/apply", methods=["GET", "POST"])
@login_required
def apply(app_id: int) -> Response:
    b = backend()
    app = b.application(g.kk.sub, app_id)
    if request.method == "GET":
        if any(p.get("state") != DONE for p in app.pages.values()) or app.status not in EDITABLE:
            return redirect(url_for(".items", app_id=app_id))
        return _page("overview.html", confirming=True, **_overview_context(app))
    try:
        app = b.apply(g.kk.sub, app_id, request.form.get("password", ""))
    except RpError as exc:
        return _page("overview.html", exc.status, confirming=True, error=exc.message, **_overview_context(app))
    return _page("done.html", app=app)


@bp.get("/applications/<int:app_id>/overview")
@login_required
def overview(app_id: int) -> Response:
    return _page("overview.html", confirming=False, **_overview_context(backend().application(g.kk.sub, app_id)))


@bp.post("/applications/<int:app_id>/withdraw")
@login_required
def withdraw(app_id: int) -> Response:
    app = backend().withdraw(g.kk.sub, app_id)
    return _page("overview.html", confirming=False, withdrawn=True, **_overview_context(app))


@bp.post("/applications/<int:app_id>/reopen")
@login_required
def reopen(app_id: int) -> Response:
    """[入力再開/不備修正]: back to the 申請項目一覧 with the pages open again."""
    backend().reopen(g.kk.sub, app_id)
    return redirect(url_for(".items", app_id=app_id))


@bp.route("/inquiry", methods=["GET", "POST"])
def inquiry() -> Response:
    """お問い合わせフォーム (seed 004): open to everyone; logged-in users get their registered details."""
    profile: dict[str, Any] = {}
    if g.kk.sub:
        profile = backend().user(g.kk.sub).profile or {}
    if request.method == "GET":
        values = {"name": profile.get("user_name", ""), "company": profile.get("company_name", ""),
                  "email": profile.get("email", ""), "tel": profile.get("tel", "")}
        return _page("inquiry.html", title="お問い合わせ", values=values, errors={}, categories=INQUIRY_CATEGORIES)
    errors = backend().inquire(g.kk.sub, request.form.to_dict())
    if errors:
        return _page("inquiry.html", 400, title="お問い合わせ", values=request.form, errors=errors,
                     categories=INQUIRY_CATEGORIES)
    return _page("message.html", title="お問い合わせ受付完了", ok=True,
                 message="お問い合わせを受け付けました。ご入力いただいたメールアドレス宛に受付完了メールをお送りしました。"
                         "お問い合わせ内容によっては、回答までに日数を要する場合がございます。")


@bp.get("/applications/<int:app_id>/pdf/<kind>")
@login_required
def pdf(app_id: int, kind: str) -> Response:
    if kind not in ("application", "certificate"):
        abort(404)
    name, data = backend().pdf(g.kk.sub, app_id, kind)
    return file_response(data, "application/pdf", name, "inline")


def site_link() -> str:
    return config.site_url(backend().settings())


def _is_local(url: str) -> bool:
    return not urlsplit(url).netloc
