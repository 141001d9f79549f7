"""/shinsei/v2, the JSON face of the FilingBackend: one parent blueprint `shinsei` with a nested
blueprint per resource family. Bearer authentication and the error handlers are declared here,
once; the views (parse → backend call → render) live in the family modules."""

from __future__ import annotations

from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..bulk import BulkError
from ..errors import FilingError, NotFound, bad_request
from . import apply, message, notice, official_document, payment, post, share
from .auth import authenticate, authenticates_itself
from .problems import filing_problem, not_found
from .render import API_PREFIX
from .routing import ArriveIdConverter

bp = Blueprint("shinsei", __name__, url_prefix=API_PREFIX)
bp.record_once(lambda state: state.app.url_map.converters.setdefault("arrive_id", ArriveIdConverter))
for family in (apply, notice, official_document, payment, post, message, share):
    bp.register_blueprint(family.bp)


@bp.before_request
def _authenticate() -> Response | None:
    view = current_app.view_functions.get(request.endpoint or "")
    return None if getattr(view, "authenticates_itself", False) else authenticate()


def _bulk(path: str) -> bool:
    return path.endswith("/bulk-apply")  # every error of bulk-apply carries error_count


@bp.errorhandler(FilingError)
def _filing_error(exc: FilingError) -> Response:
    if isinstance(exc, BulkError):
        return filing_problem(exc, error_count=len(exc.errors), errors=exc.errors)
    if _bulk(request.path):  # refused before the view (e.g. a bad header): still bulk-apply's shape
        return filing_problem(exc, error_count=1,
                              errors=[{"errorFolder": "-", "errorFile": "-", "content": exc.detail[:256]}])
    return filing_problem(exc, withdraw_shape=request.path.endswith("/apply/withdraw"))


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> Response:
    return not_found()


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """Routing and protocol errors below /shinsei/v2 in the spec's shapes (404: status only)."""
    if not request.path.startswith(API_PREFIX):
        return exc
    if exc.code == 404:
        return not_found()
    if exc.code == 413:
        bulk = _bulk(request.path)
        return filing_problem(FilingError(413, "アップロードサイズファイル上限オーバー"),
                              error_count=0 if bulk else None, errors=[] if bulk else None)
    if exc.code == 405:  # the spec's problem shape, with the Allow werkzeug computed from the routes
        resp = filing_problem(FilingError(405, "このURLでは指定されたHTTPメソッドを利用できません。",
                                                  title="Method Not Allowed"))
        resp.headers["Allow"] = exc.get_response().headers.get("Allow", "")
        return resp
    if exc.code == 400:
        return filing_problem(bad_request("リクエストの形式に誤りがあります。"))
    if exc.code == 500:  # an unexpected error: still the spec's body, never an HTML page
        current_app.logger.error("unhandled error on %s", request.path, exc_info=getattr(exc, "original_exception", None))
        return filing_problem(FilingError(500, "サーバ内部でエラーが発生（システムエラー等）"),
                              error_count=1 if _bulk(request.path) else None)
    return exc


@bp.get("/openapi.json")
@authenticates_itself
def openapi_document() -> Response:
    data = (resources.files("egov_sim") / "data" / "egov-shinsei-api-v2.openapi.json").read_bytes()
    return Response(data, mimetype="application/json")
