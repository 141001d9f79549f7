"""/__admin — control of the simulator (WireMock's convention): one parent blueprint with the guard,
the error renderer and the ops-cache invalidation declared once, and a nested blueprint per area:
clock/world (admin_world.py), ops (admin_ops.py), cases (case_admin.py), gbizid (gbizid_admin.py).
Views parse the request, call OpsBackend (backend.py) and render its answer.

Open on loopback; when the server listens elsewhere, EGOV_SIM_ADMIN_TOKEN must be sent as
`Authorization: Bearer <token>` (or `X-Admin-Token`).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..idp.gbizid_accounts import AccountError
from ..services import services
from . import admin_ops, admin_world, admin_worlds, case_admin, gbizid_admin
from .errors import OpsError
from .middleware import ops_state
from .outage_http import outage_answer

bp = Blueprint("admin", __name__, url_prefix="/__admin")
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          413: "Request Entity Too Large", 500: "Internal Server Error"}


def problem(status: int, detail: str) -> Response:
    """The admin API's error body: {"title", "detail", "instance"}."""
    resp = jsonify({"title": TITLES.get(status, "Error"), "detail": detail, "instance": request.path})
    resp.status_code = status
    return resp


def _is_loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})  # no CORS preflight


def _allowed_host(host: str) -> bool:
    """A loopback name or the configured public URL's host: anything else is DNS rebinding."""
    name = urlsplit(f"//{host}").hostname or ""
    public = urlsplit(services().settings.base_url).hostname
    return name in LOOPBACK_NAMES or name.endswith(".localhost") or _is_loopback(name) or name == public


def _cross_site() -> bool:
    """A state-changing request a web page could have sent: from another site (Origin, Sec-Fetch-Site),
    or with a content type a form or a no-cors fetch can send without a CORS preflight."""
    if _other_site():
        return True
    if request.mimetype == "multipart/form-data":  # file uploads (the RP's 指摘 files): not from a browser page
        return any(h in request.headers for h in ("Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode"))
    return request.mimetype in SIMPLE_TYPES


def refusal(sent_token: str | None = None, *, forms: bool = False) -> tuple[int, str] | None:
    """The one guard of the control surfaces (/__admin, /__console): authentication (token, or
    loopback when no token is set), then the Host and cross-site checks; (status, message) or None.
    `sent_token` replaces the headers' token (the console's cookie); `forms` lets same-site HTML form
    posts through (the console, whose forms carry a CSRF token) while still refusing other sites."""
    if services().settings.sandbox_mode:  # the 検証環境 has no such door
        return 404, "sandbox mode: the 検証環境 has no admin API"
    token = services().settings.admin_token
    if token:
        sent = sent_token or request.headers.get("X-Admin-Token") or \
            request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.strip().encode(), token.encode()):
            return 401, "管理APIのトークンが必要です (admin token required)"
    elif not _is_loopback(request.remote_addr):
        return 403, "管理APIはループバックからのみ利用できます。EGOV_SIM_ADMIN_TOKEN を設定してください。"
    if not token and not _allowed_host(request.host):
        return 403, "管理APIのHostヘッダはループバック名か公開URLのホストでなければなりません。"
    if request.method not in ("GET", "HEAD", "OPTIONS") and (_other_site() if forms else _cross_site()):
        return 403, "管理APIはクロスサイトからの変更要求を受け付けません (JSONで送信してください)。"
    return None


def _other_site() -> bool:
    """Sent by a page of another site (Sec-Fetch-Site, Origin)."""
    if request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and (origin == "null" or not _allowed_host(urlsplit(origin).netloc))


@bp.before_request
def _guard() -> Response | None:
    """The guard is the same for all of /__admin."""
    refused = refusal()
    return problem(*refused) if refused else None


@bp.after_request
def _invalidate(response: Response) -> Response:
    """Any change through the admin API is seen by this process's next request at once."""
    if request.method != "GET":
        ops_state().invalidate()
    return response


@bp.errorhandler(OpsError)
def _ops_error(exc: OpsError) -> Any:
    return problem(exc.status, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """Protocol errors (405, 413, a bad body…) in the admin API's JSON shape, never an HTML page."""
    return problem(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    outage = outage_answer(exc)
    if outage is not None:
        return outage
    current_app.logger.error("unhandled error on %s", request.path, exc_info=exc)
    return problem(500, "管理APIの内部でエラーが発生しました。")


@bp.errorhandler(AccountError)
def _account_error(exc: AccountError) -> Any:
    return problem(exc.status, exc.message)


for child in (admin_world.bp, admin_ops.bp, case_admin.bp, gbizid_admin.bp, admin_worlds.bp):
    bp.register_blueprint(child)
