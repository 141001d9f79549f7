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

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..idp.gbizid_accounts import AccountError
from ..services import services
from . import admin_ops, admin_world, case_admin, gbizid_admin
from .errors import OpsError
from .middleware import ops_state

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


@bp.before_request
def _guard() -> Response | None:
    token = services().settings.admin_token
    if token:
        sent = request.headers.get("X-Admin-Token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if hmac.compare_digest(sent.strip(), token):
            return None
        return problem(401, "管理APIのトークンが必要です (admin token required)")
    if _is_loopback(request.remote_addr):
        return None
    return problem(403, "管理APIはループバックからのみ利用できます。EGOV_SIM_ADMIN_TOKEN を設定してください。")


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
    current_app.logger.error("unhandled error on %s", request.path, exc_info=exc)
    return problem(500, "管理APIの内部でエラーが発生しました。")


@bp.errorhandler(AccountError)
def _account_error(exc: AccountError) -> Any:
    return problem(exc.status, exc.message)


for child in (admin_world.bp, admin_ops.bp, case_admin.bp, gbizid_admin.bp):
    bp.register_blueprint(child)
