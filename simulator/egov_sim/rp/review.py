"""The prefecture's side under /__admin/keieikakushin (JSON, behind the admin guard): settings, the
applied applications, 形式確認 (→ 審査中), 指摘 (comments per page, optional comment files), 承認, 不承認."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..ops.admin import _guard, problem
from ..services import services
from .backend import KeieiBackend, RpError

bp = Blueprint("keieikakushin_admin", __name__, url_prefix="/__admin/keieikakushin")
bp.before_request(_guard)


def _backend() -> KeieiBackend:
    return KeieiBackend(services())


@bp.errorhandler(RpError)
def _refused(exc: RpError) -> Response:
    return problem(exc.status, exc.message)


@bp.get("/settings")
def get_settings() -> Any:
    return jsonify(_backend().settings())


@bp.put("/settings")
def put_settings() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, "JSON object expected")
    return jsonify(_backend().update_settings(body))


@bp.get("/applications")
def applications() -> Any:
    return jsonify({"applications": _backend().submitted()})


@bp.post("/applications/<number>/accept")
def accept(number: str) -> Any:
    return jsonify(_backend().accept_formal(number))


@bp.post("/applications/<number>/remarks")
def remarks(number: str) -> Any:
    """JSON {"comments": {page: text}} or a form with comment.<page> fields and file.<page> files."""
    if request.is_json:
        body = request.get_json(silent=True) or {}
        comments = body.get("comments") if isinstance(body, dict) else None
        if not isinstance(comments, dict):
            return problem(400, "comments: {page: text} expected")
        return jsonify(_backend().remark(number, {str(k): str(v) for k, v in comments.items()}))
    comments = {k.removeprefix("comment."): v for k, v in request.form.items() if k.startswith("comment.")}
    files = [(k.removeprefix("file."), f.filename or "comment", f.mimetype or "application/octet-stream", f.read())
             for k, f in request.files.items(multi=True) if k.startswith("file.")]
    return jsonify(_backend().remark(number, comments, files))


@bp.post("/applications/<number>/approve")
def approve(number: str) -> Any:
    return jsonify(_backend().decide(number, approve=True))


@bp.post("/applications/<number>/reject")
def reject(number: str) -> Any:
    return jsonify(_backend().decide(number, approve=False))
